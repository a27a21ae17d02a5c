// Debian's etcdctl 3.4 for leases, watches, members and endpoint status against the raftdesk
// gRPC layer (FakeBackend behind it). Where the output format matters it is compared with what a
// real etcd 3.4 prints for the same commands (lease ids and timings normalised); cluster data
// (members, status) is compared with what the backend reported.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ETCDCTL_PATH,
  etcdctl,
  etcdctlError,
  shouldRunEtcdTests,
  startFakeServer,
  startReferenceEtcd,
  waitFor,
  type FakeServer,
  type ReferenceEtcd,
} from './harness'
import { SERVER_IMAGE_MAGIC } from '../../../node-core/server/image'
import { openSavedSnapshot } from '../../../node-core/server/saved-snapshot'

/** Replaces the lease id by LEASE and the remaining seconds by N. */
function normaliseLease(text: string, leaseHex: string): string {
  return text.replaceAll(leaseHex, 'LEASE').replace(/remaining\(\d+s\)/g, 'remaining(Ns)')
}

interface LeaseSession {
  outputs: string[]
  remaining: number
}

/** The same lease commands on one endpoint; returns what etcdctl printed, normalised. */
async function leaseSession(endpoint: string): Promise<LeaseSession> {
  const outputs: string[] = []
  const run = async (...args: string[]) => {
    const r = await etcdctl(endpoint, args)
    return { ...r, text: `${r.code}|${r.stdout.trim()}|${etcdctlError(r)}` }
  }
  const granted = await run('lease', 'grant', '50')
  const leaseHex = /lease ([0-9a-f]{16}) granted/.exec(granted.stdout)?.[1]
  if (!leaseHex) throw new Error(`no lease id in ${JSON.stringify(granted.stdout)}`)
  const n = (s: string) => normaliseLease(s, leaseHex)
  outputs.push(n(granted.text))
  outputs.push(n((await run('put', '--lease', leaseHex, 'leased-key', 'v')).text))
  const ttl = await run('lease', 'timetolive', leaseHex)
  const remaining = Number(/remaining\((\d+)s\)/.exec(ttl.stdout)?.[1])
  outputs.push(n(ttl.text))
  outputs.push(n((await run('lease', 'timetolive', '--keys', leaseHex)).text))
  outputs.push(n((await run('lease', 'list')).text))
  outputs.push(n((await run('lease', 'keep-alive', '--once', leaseHex)).text))
  outputs.push(n((await run('lease', 'revoke', leaseHex)).text))
  outputs.push(n((await run('get', 'leased-key', '--keys-only')).text))
  outputs.push(n((await run('lease', 'revoke', leaseHex)).text))
  outputs.push(n((await run('lease', 'timetolive', leaseHex)).text))
  outputs.push(n((await run('lease', 'keep-alive', '--once', leaseHex)).text))
  outputs.push(n((await run('lease', 'list')).text))
  return { outputs, remaining }
}

interface WatchProcess {
  child: ChildProcess
  stdout(): string
  stderr(): string
  exited: Promise<number | null>
}

function spawnWatch(endpoint: string, args: string[]): WatchProcess {
  const child = spawn(ETCDCTL_PATH, ['--endpoints', endpoint, 'watch', ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()))
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()))
  // 'close' (not 'exit'): it comes after the output pipes are drained.
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve))
  return { child, stdout: () => out, stderr: () => err, exited }
}

async function currentRevision(endpoint: string): Promise<number> {
  const r = await etcdctl(endpoint, ['get', 'any', '-w', 'json'])
  return (JSON.parse(r.stdout) as { header: { revision: number } }).header.revision
}

/** Watches a prefix from the next revision, makes changes, returns what `etcdctl watch` printed. */
async function watchSession(endpoint: string): Promise<string> {
  const from = (await currentRevision(endpoint)) + 1
  const watch = spawnWatch(endpoint, ['w', '--prefix', '--prev-kv', '--rev', String(from)])
  try {
    await etcdctl(endpoint, ['put', 'w1', 'a'])
    await etcdctl(endpoint, ['put', 'w1', 'b'])
    await etcdctl(endpoint, ['del', 'w1'])
    await etcdctl(endpoint, ['put', 'other', 'x'])
    await etcdctl(endpoint, ['put', 'w2', 'c'])
    await waitFor(
      () => watch.stdout().includes('w2\nc\n'),
      `etcdctl watch output ${watch.stdout()}`,
    )
    return watch.stdout()
  } finally {
    watch.child.kill('SIGTERM')
    await watch.exited
  }
}

/** Watches from a compacted revision; returns the exit code and what etcdctl printed. */
async function compactedWatchSession(endpoint: string): Promise<string> {
  await etcdctl(endpoint, ['put', 'cw', '1'])
  await etcdctl(endpoint, ['put', 'cw', '2'])
  const rev = await currentRevision(endpoint)
  await etcdctl(endpoint, ['compaction', String(rev)])
  const watch = spawnWatch(endpoint, ['cw', '--rev', String(rev - 1)])
  const timer = setTimeout(() => watch.child.kill('SIGKILL'), 10_000)
  const code = await watch.exited
  clearTimeout(timer)
  const stderr = watch
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('Error:') || l.startsWith('watch was canceled'))
  return `${code}|${watch.stdout().trim()}|${stderr.join('\n')}`
}

describe.runIf(shouldRunEtcdTests())('etcdctl leases, watches, members, status', () => {
  let reference: ReferenceEtcd
  let fake: FakeServer

  beforeAll(async () => {
    ;[reference, fake] = await Promise.all([startReferenceEtcd(), startFakeServer()])
  }, 60_000)

  afterAll(async () => {
    await Promise.all([reference?.stop(), fake?.close()])
  })

  it('prints lease commands as etcd does', async () => {
    const [theirs, ours] = await Promise.all([
      leaseSession(reference.endpoint),
      leaseSession(fake.endpoint),
    ])
    expect(ours.outputs).toEqual(theirs.outputs)
    expect(ours.outputs[0]).toBe('0|lease LEASE granted with TTL(50s)|')
    expect(ours.outputs[3]).toBe(
      '0|lease LEASE granted with TTL(50s), remaining(Ns), attached keys([leased-key])|',
    )
    expect(ours.outputs[8]).toMatch(/requested lease not found/)
    expect(ours.remaining).toBeGreaterThanOrEqual(45)
    expect(ours.remaining).toBeLessThanOrEqual(50)
  }, 60_000)

  it('prints watch events as etcd does, and the compacted-watch error', async () => {
    const [theirs, ours] = await Promise.all([
      watchSession(reference.endpoint),
      watchSession(fake.endpoint),
    ])
    expect(ours).toBe(theirs)
    expect(ours).toBe('PUT\nw1\na\nPUT\nw1\na\nw1\nb\nDELETE\nw1\nb\nw1\n\nPUT\nw2\nc\n')
    const [theirsCompacted, oursCompacted] = await Promise.all([
      compactedWatchSession(reference.endpoint),
      compactedWatchSession(fake.endpoint),
    ])
    expect(oursCompacted).toBe(theirsCompacted)
    expect(oursCompacted).toMatch(
      /watch was canceled \(etcdserver: mvcc: required revision has been compacted\)/,
    )
  }, 60_000)

  it('sees a live event in a running `etcdctl watch`, then is killed', async () => {
    const watch = spawnWatch(fake.endpoint, ['live'])
    try {
      await waitFor(
        () => fake.backend.watchRequests.some((r) => Buffer.from(r.key).toString() === 'live'),
        'etcdctl watch to register',
      )
      await etcdctl(fake.endpoint, ['put', 'live', 'now'])
      await waitFor(() => watch.stdout() === 'PUT\nlive\nnow\n', 'the event in etcdctl watch')
    } finally {
      watch.child.kill('SIGTERM')
      await watch.exited
    }
    await waitFor(() => fake.backend.watchers.size === 0, 'the server to drop the watcher')
  })

  it("lists members from the backend, in etcd's formats", async () => {
    const simple = await etcdctl(fake.endpoint, ['member', 'list'])
    expect(simple.stdout).toBe(
      `${fake.backend.memberId.toString(16)}, started, fake1, http://127.0.0.1:2380, http://127.0.0.1:2379, false\n`,
    )
    const json = JSON.parse((await etcdctl(fake.endpoint, ['member', 'list', '-w', 'json'])).stdout)
    const theirs = JSON.parse(
      (await etcdctl(reference.endpoint, ['member', 'list', '-w', 'json'])).stdout,
    )
    expect(Object.keys(json.header)).toEqual(Object.keys(theirs.header))
    expect(json.members).toEqual([
      {
        ID: fake.backend.memberId,
        name: 'fake1',
        peerURLs: ['http://127.0.0.1:2380'],
        clientURLs: ['http://127.0.0.1:2379'],
      },
    ])
  })

  it('adds a learner, promotes, updates and removes it', async () => {
    const added = await etcdctl(fake.endpoint, [
      'member',
      'add',
      'n2',
      '--learner',
      '--peer-urls=http://127.0.0.1:23999',
    ])
    expect(added.code).toBe(0)
    // etcdctl prints ids with %16x: ids below 2^53 come out padded with spaces.
    const id = /Member +([0-9a-f]+) added to cluster +([0-9a-f]+)/.exec(added.stdout)
    expect(id?.[2]).toBe(fake.backend.clusterId.toString(16))
    expect(added.stdout).toContain('ETCD_INITIAL_CLUSTER_STATE="existing"')
    const list = await etcdctl(fake.endpoint, ['member', 'list'])
    expect(list.stdout).toContain(`${id![1]}, unstarted, , http://127.0.0.1:23999, , true`)
    expect((await etcdctl(fake.endpoint, ['member', 'promote', id![1]!])).code).toBe(0)
    const update = await etcdctl(fake.endpoint, [
      'member',
      'update',
      id![1]!,
      '--peer-urls=http://127.0.0.1:23998',
    ])
    expect(update.stdout).toMatch(new RegExp(`Member +${id![1]} updated in cluster`))
    const removed = await etcdctl(fake.endpoint, ['member', 'remove', id![1]!])
    expect(removed.stdout).toMatch(new RegExp(`Member +${id![1]} removed from cluster`))
    const again = await etcdctl(fake.endpoint, ['member', 'remove', id![1]!])
    expect([again.code, etcdctlError(again)]).toEqual([1, 'Error: etcdserver: member not found'])
    expect(fake.backend.members).toHaveLength(1)
  })

  it('shows leader, raft term and index from the backend in endpoint status', async () => {
    fake.backend.raftTerm = 7
    fake.backend.raftIndex = 1234
    fake.backend.raftAppliedIndex = 1230
    const json = await etcdctl(fake.endpoint, ['endpoint', 'status', '-w', 'json'])
    const [entry] = JSON.parse(json.stdout) as {
      Endpoint: string
      Status: Record<string, unknown>
    }[]
    expect(entry!.Endpoint).toBe(fake.endpoint)
    expect(entry!.Status).toMatchObject({
      version: '3.4.23',
      leader: fake.backend.memberId,
      raftTerm: 7,
      raftIndex: 1234,
      raftAppliedIndex: 1230,
      dbSize: 20480,
      dbSizeInUse: 16384,
      header: { member_id: fake.backend.memberId, raft_term: 7 },
    })
    const theirs = JSON.parse(
      (await etcdctl(reference.endpoint, ['endpoint', 'status', '-w', 'json'])).stdout,
    )
    expect(Object.keys(entry!.Status).sort()).toEqual(Object.keys(theirs[0].Status).sort())
    const simple = await etcdctl(fake.endpoint, ['endpoint', 'status'])
    expect(simple.stdout).toBe(
      `${fake.endpoint}, ${fake.backend.memberId.toString(16)}, 3.4.23, 20 kB, true, false, 7, 1234, 1230, \n`,
    )
  })

  it('prints endpoint hashkv as etcd does', async () => {
    const [theirs, ours] = await Promise.all(
      [reference.endpoint, fake.endpoint].map(async (e) => {
        const r = await etcdctl(e, ['endpoint', 'hashkv'])
        return `${r.code}|${r.stdout.replace(e, 'ENDPOINT').replace(/, \d+\n/, ', HASH\n')}|${etcdctlError(r)}`
      }),
    )
    expect(ours).toBe(theirs)
    const json = await etcdctl(fake.endpoint, ['endpoint', 'hashkv', '-w', 'json'])
    expect(JSON.parse(json.stdout)[0].HashKV).toMatchObject({ hash: 0x1234abcd })
  })

  it('defragments and saves snapshots as etcd does, from the backend', async () => {
    const normalise = (text: string, endpoint: string) => text.replaceAll(endpoint, 'ENDPOINT')
    const [theirs, ours] = await Promise.all(
      [reference.endpoint, fake.endpoint].map(async (e) => {
        const r = await etcdctl(e, ['defrag'])
        return `${r.code}|${normalise(r.stdout, e)}|${etcdctlError(r)}`
      }),
    )
    expect(ours).toBe(theirs)
    expect(fake.backend.defragments).toBe(1)

    const dir = mkdtempSync(join(tmpdir(), 'raftdesk-etcdctl-snap-'))
    try {
      fake.backend.snapshotImage = new Uint8Array(100_000).map((_, i) => i % 251)
      fake.backend.snapshotImage.set(SERVER_IMAGE_MAGIC, 0)
      const saved = await Promise.all(
        [reference.endpoint, fake.endpoint].map(async (e, i) => {
          const path = join(dir, `snap${i}.db`)
          const r = await etcdctl(e, ['snapshot', 'save', path])
          return `${r.code}|${r.stdout.replace(path, 'PATH')}|${etcdctlError(r)}`
        }),
      )
      expect(saved[1]).toBe(saved[0])
      const image = await openSavedSnapshot(join(dir, 'snap1.db'))
      const parts: Buffer[] = []
      for await (const p of image) parts.push(Buffer.from(p))
      expect(Buffer.concat(parts).equals(Buffer.from(fake.backend.snapshotImage))).toBe(true)
      // A real etcd's file is a bbolt database, not a raftdesk image: refused, not misread.
      await expect(openSavedSnapshot(join(dir, 'snap0.db'))).rejects.toThrow(
        /not a raftdesk snapshot/,
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
