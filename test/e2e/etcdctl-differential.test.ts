// etcdctl 3.4 against a real 3-member etcd 3.4 and a 3-member raftdesk cluster (real node
// processes), the same script on both: keys, txn, watch, leases, members, endpoints, alarms,
// defrag, snapshot save, move-leader and compaction. Each step's output is normalised for what
// legitimately differs between two clusters (member and lease ids, addresses, member names,
// timings, sizes) and must then be identical; the few steps whose output differs for a reason are
// marked with that reason and compare what still must hold. Auth is in etcdctl-auth.test.ts and
// the quota in quota.test.ts; together they are the differential test the closing note lists.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestCluster, type TestCluster } from '../helpers/cluster'
import { startEtcdCluster, type EtcdCluster } from '../helpers/etcd'
import {
  etcdctl,
  etcdctlError,
  requireEtcdBinaries,
  shouldRunEtcdTests,
  waitFor,
} from '../node-core/api/harness'

interface Target {
  /** Member 1's endpoint, where single-endpoint steps go. */
  one: string
  all: string
  dir: string
  vars: Map<string, string>
}

interface Step {
  args: string[]
  input?: string
  /** Send to every endpoint. */
  all?: boolean
  /** Compare what etcdctl writes to stderr (where `endpoint health` reports). */
  stderr?: boolean
  /** What to compare instead of the normalised output, for outputs that differ for a reason. */
  view?: (stdout: string) => unknown
  /** Why the view is needed. */
  reason?: string
  /** Reads values later steps use ({NAME} in their args). */
  capture?: (stdout: string, vars: Map<string, string>) => void
}

function normalise(text: string): string {
  let lines = text
    .replace(/"(cluster_id|member_id|raft_term|ID|leader)":\d+/g, '"$1":<n>')
    .replace(/\b[0-9a-f]{10,20}\b/g, '<id>')
    .replace(/127\.0\.0\.1:\d+/g, '<addr>')
    .replace(/\b[en][1-9]\b/g, '<name>')
    .replace(/took = [0-9.]+[µnm]?s/g, 'took = <t>')
    .replace(/remaining\(\d+s\)/g, 'remaining(<s>)')
    .replace(/\/tmp\/[^\s]+\/snap\.db/g, '<file>')
    // etcdctl pads ids to 16 hex digits; raftdesk's member ids are below 2^53 (13-14 digits).
    .replace(/ +<id>/g, ' <id>')
    .replace(/-{10,}/g, '-----')
    .replace(/ {2,}ID {2,}/, ' ID ')
    // Member lists come sorted by id, and ids are random: the order of members is not comparable.
    .replace(
      /ETCD_INITIAL_CLUSTER="([^"]*)"/,
      (_, list: string) => `ETCD_INITIAL_CLUSTER="${list.split(',').sort().join(',')}"`,
    )
    .trim()
    .split('\n')
  if (lines.every((l) => /^(<id>|\| <id>)/.test(l) || l.startsWith('+') || l.startsWith('|')))
    lines = [...lines].sort()
  // One line per member for cluster-wide commands: the same line three times is one line.
  return [...new Set(lines)].join('\n')
}

const memberIdOf = (stdout: string) => /Member\s+([0-9a-f]+)\s/.exec(stdout)?.[1] ?? ''

const script: Step[] = [
  { args: ['put', 'foo', 'bar'] },
  { args: ['put', 'foo2', 'baz'] },
  { args: ['put', 'zoo', '1'] },
  { args: ['put', 'foo', 'bar2', '--prev-kv'] },
  { args: ['get', 'foo'] },
  { args: ['get', 'foo', '-w', 'json'] },
  { args: ['get', '--prefix', 'foo', '--keys-only'] },
  { args: ['get', '--prefix', 'foo', '--limit', '1', '-w', 'json'] },
  { args: ['get', '--prefix', 'foo', '--sort-by=MODIFY', '--order=DESCEND'] },
  { args: ['get', 'foo', '--rev', '2'] },
  { args: ['get', '--from-key', 'foo2'] },
  { args: ['get', 'foo', '--consistency=s', '--print-value-only'] },
  { args: ['del', 'zoo', '--prev-kv'] },
  { args: ['del', 'nothing'] },
  { args: ['txn'], input: 'value("foo") = "bar2"\n\nput t1 one\nget foo\n\nput t1 lost\n\n' },
  { args: ['txn', '-w', 'json'], input: 'version("t1") = "9"\n\nput t2 x\n\nget t1\n\n' },
  { args: ['lease', 'grant', '60'], capture: (o, v) => v.set('LEASE', /lease (\w+)/.exec(o)![1]!) },
  { args: ['put', 'leased', 'v', '--lease={LEASE}'] },
  { args: ['lease', 'timetolive', '{LEASE}', '--keys'] },
  { args: ['lease', 'list'] },
  { args: ['lease', 'keep-alive', '--once', '{LEASE}'] },
  { args: ['lease', 'revoke', '{LEASE}'] },
  { args: ['get', 'leased'] },
  { args: ['lease', 'timetolive', '{LEASE}'] },
  { args: ['member', 'list'] },
  { args: ['member', 'list', '-w', 'table'] },
  {
    args: ['member', 'add', 'm4', '--learner', '--peer-urls=http://127.0.0.1:9'],
    capture: (o, v) => v.set('NEW', memberIdOf(o)),
  },
  { args: ['member', 'list'] },
  { args: ['member', 'promote', '{NEW}'] },
  { args: ['member', 'update', '{NEW}', '--peer-urls=http://127.0.0.1:10'] },
  { args: ['member', 'remove', '{NEW}'] },
  { args: ['member', 'remove', '{NEW}'] },
  { args: ['member', 'add', 'bad', '--peer-urls=nope'] },
  {
    args: ['endpoint', 'status', '-w', 'json'],
    all: true,
    reason:
      'the version is 3.4.23+raftdesk (etcd clients compare the major and minor only); db sizes, ' +
      'raft indexes and terms are each store’s own',
    view: (o) =>
      (
        JSON.parse(o) as Array<{
          Status: { version: string; leader: string; raftAppliedIndex: number; errors?: string[] }
        }>
      ).map((s) => [s.Status.version.split('+')[0], s.Status.errors ?? []]),
    capture: (o, v) => {
      // Ids as text: etcd's are 64-bit, beyond what JSON.parse keeps exactly.
      const members = [...o.matchAll(/"member_id":(\d+)/g)].map((m) => m[1]!)
      const leader = /"leader":(\d+)/.exec(o)![1]!
      v.set('FOLLOWER', BigInt(members.find((m) => m !== leader)!).toString(16))
    },
  },
  { args: ['endpoint', 'health'], all: true, stderr: true },
  {
    args: ['endpoint', 'hashkv', '-w', 'json'],
    all: true,
    reason:
      'the hash is a CRC over each implementation’s own records (bbolt pages vs raftdesk records); ' +
      'what must hold is that every member of one cluster agrees',
    view: (o) =>
      new Set((JSON.parse(o) as Array<{ HashKV: { hash: number } }>).map((e) => e.HashKV.hash))
        .size,
  },
  { args: ['alarm', 'list'] },
  { args: ['defrag'], all: true },
  { args: ['snapshot', 'save', '{DIR}/snap.db'] },
  { args: ['move-leader', '{FOLLOWER}'], all: true },
  { args: ['compaction', '5'] },
  { args: ['get', 'foo', '--rev', '3'] },
  { args: ['compaction', '4'] },
  { args: ['compaction', '99999'] },
  { args: ['get', 'foo', '--rev', '99999'] },
]

function fill(args: string[], vars: Map<string, string>): string[] {
  return args.map((a) =>
    a.replace(/\{(\w+)\}/g, (_, name: string) => vars.get(name) ?? `{${name}}`),
  )
}

async function runScript(t: Target): Promise<unknown[]> {
  const out: unknown[] = []
  for (const step of script) {
    const r = await etcdctl(
      step.all ? t.all : t.one,
      fill(step.args, t.vars),
      step.input ? { input: step.input } : {},
    )
    step.capture?.(r.stdout, t.vars)
    const shown =
      step.view && r.code === 0 ? step.view(r.stdout) : normalise(step.stderr ? r.stderr : r.stdout)
    out.push({
      step: step.args.join(' '),
      code: r.code,
      out: shown,
      error: normalise(etcdctlError(r)),
    })
  }
  return out
}

/** Writes under w/, then watches w/ from revision 1; killed once it has printed `until`. */
async function watchFromStart(endpoint: string, until: string): Promise<string> {
  for (const args of [
    ['put', 'w/a', '1'],
    ['put', 'w/a', '2'],
    ['del', 'w/a'],
    ['put', 'w/b', '3'],
  ]) {
    await etcdctl(endpoint, args)
  }
  const child = spawn(
    '/usr/bin/etcdctl',
    ['--endpoints', endpoint, 'watch', 'w/', '--prefix', '--rev', '1', '--prev-kv'],
    {
      env: { ...process.env, ETCDCTL_API: '3' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let out = ''
  child.stdout.on('data', (c: Buffer) => (out += c.toString()))
  const closed = new Promise((r) => child.once('close', r))
  try {
    await waitFor(() => out.includes(until), `etcdctl watch to print ${until}: ${out}`, 10_000)
    return out
  } finally {
    child.kill('SIGTERM')
    await closed
  }
}

describe.runIf(shouldRunEtcdTests())(
  'etcdctl 3.4 on raftdesk and on etcd 3.4, step by step',
  () => {
    let etcd: EtcdCluster
    let tc: TestCluster
    let dir = ''
    let etcdStartedMs = 0
    const targets: Target[] = []

    beforeAll(async () => {
      requireEtcdBinaries()
      dir = mkdtempSync(join(tmpdir(), 'raftdesk-diff-'))
      // One after the other: each picks its free ports knowing the other's are taken.
      etcd = await startEtcdCluster({ dir: join(dir, 'etcd') })
      etcdStartedMs = Date.now()
      tc = await startTestCluster()
      await Promise.all([etcd.leader(), tc.cluster.waitForLeader()])
      for (const [name, endpoints] of [
        ['etcd', etcd.endpoints],
        ['raftdesk', tc.endpoints],
      ] as const) {
        const all = [...endpoints.values()]
        targets.push({
          one: all[0]!,
          all: all.join(','),
          dir: mkdtempSync(join(dir, `${name}-`)),
          vars: new Map(),
        })
      }
      for (const t of targets) t.vars.set('DIR', t.dir)
    }, 120_000)

    afterAll(async () => {
      await Promise.all([etcd?.stop(), tc?.dispose()])
      if (dir) rmSync(dir, { recursive: true, force: true })
    })

    it('streams the same watch events from the start of the history', async () => {
      const until = 'PUT\nw/b\n3\n'
      const [theirs, ours] = await Promise.all(targets.map((t) => watchFromStart(t.one, until)))
      expect(ours).toBe(theirs)
    }, 60_000)

    it('prints the same at every step, but where a reason is given', async () => {
      // etcd refuses membership changes ("unhealthy cluster") until its members have been
      // connected for 5 s (its strict reconfiguration check); give it that.
      await new Promise((r) => setTimeout(r, Math.max(0, etcdStartedMs + 6000 - Date.now())))
      const [theirs, ours] = [await runScript(targets[0]!), await runScript(targets[1]!)]
      if (process.env['DUMP']) console.log(JSON.stringify(ours, null, 1))
      const differing = ours.flatMap((o, i) =>
        JSON.stringify(o) === JSON.stringify(theirs[i]) ? [] : [{ ours: o, theirs: theirs[i] }],
      )
      expect(differing).toEqual([])
    }, 180_000)
  },
)
