/**
 * raftdesk beside a real etcd 3.4 on this machine, in one run: a 3-node raftdesk cluster and a
 * 3-member etcd cluster (apt's binary, 127.0.0.1, data on the same disk, default fsync, election
 * timeouts equal to raftdesk's), driven by the same client, rounds alternating A B A B so drift
 * hits both. The client is test/go/loadgen on etcd's own Go client (built offline on first use),
 * which costs little CPU: on 2 cores a JavaScript client saturates before the members do.
 *
 *   npm run bench -- vs-etcd [--quick] [--rounds 3] [--seconds 5]
 *   npm run bench -- vs-etcd --profile [--quick] [--only 'put, 1']
 *
 * Per workload and system: throughput, p50 / p99 / max latency, the members' CPU per operation
 * (user + system from /proc/PID/stat of every member, before and after each round); medians of
 * the rounds with their spread, and raftdesk / etcd ratios, after one uncounted warm-up round.
 * JSON and a table go to test-results/bench/vs-etcd.{json,md}.
 *
 * `--profile` runs raftdesk alone, each member under `node --cpu-prof`, one round per workload,
 * and leaves one .cpuprofile per member in test-results/bench/profiles (open them in Chrome's
 * DevTools, or summarise them with test/bench/profile-top.ts).
 */
import { execFile } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs, promisify } from 'node:util'
import { ForkLauncher } from '../../node-core/cluster/launcher'
import { LocalCluster } from '../../node-core/cluster/supervisor'
import { startEtcdCluster } from '../helpers/etcd'
import { freePortBlock } from '../helpers/ports'

const run = promisify(execFile)
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    profile: { type: 'boolean' },
    only: { type: 'string' },
  },
})
const profile = values.profile === true
const quick = values.quick === true
const rounds = profile ? 1 : Number(values.rounds ?? (quick ? 2 : 3))
const seconds = Number(values.seconds ?? (quick ? 3 : 5))

interface Workload {
  name: string
  workload: 'put' | 'get' | 'get-serializable'
  inflight: number
}
const ALL_WORKLOADS: Workload[] = quick
  ? [
      { name: 'put, 1 in flight', workload: 'put', inflight: 1 },
      { name: 'put, 16 in flight', workload: 'put', inflight: 16 },
      { name: 'linearizable get, 64', workload: 'get', inflight: 64 },
    ]
  : [
      { name: 'put, 1 in flight', workload: 'put', inflight: 1 },
      { name: 'put, 16 in flight', workload: 'put', inflight: 16 },
      { name: 'put, 64 in flight', workload: 'put', inflight: 64 },
      { name: 'put, 256 in flight', workload: 'put', inflight: 256 },
      { name: 'linearizable get, 64', workload: 'get', inflight: 64 },
      { name: 'serializable get, 64', workload: 'get-serializable', inflight: 64 },
    ]

/** `--only put` keeps the workloads whose name contains "put". */
const WORKLOADS = ALL_WORKLOADS.filter((w) => w.name.includes(values.only ?? ''))

const OUT = join(import.meta.dirname, '../../test-results/bench')
const GOCODE = '/usr/share/gocode'
const PROFILES = join(OUT, 'profiles')

/** Builds the Go load generator once (GO111MODULE=off, Debian's clientv3 on the GOPATH). */
async function buildLoadgen(): Promise<string> {
  const dir = join(OUT, 'loadgen-build')
  const binary = join(OUT, 'loadgen')
  const source = join(import.meta.dirname, '../go/loadgen/main.go')
  if (existsSync(binary) && statSync(binary).mtimeMs > statSync(source).mtimeMs) return binary
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(join(dir, 'src'), { recursive: true })
  symlinkSync(join(import.meta.dirname, '../go/loadgen'), join(dir, 'src/loadgen'))
  await run('go', ['build', '-o', binary, 'loadgen'], {
    cwd: dir,
    env: { ...process.env, GO111MODULE: 'off', GOPATH: `${dir}:${GOCODE}`, GOFLAGS: '' },
  })
  return binary
}

/** User + system CPU seconds of these processes so far. */
function cpuSeconds(pids: number[]): number {
  let ticks = 0
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    ticks += Number(fields[11]) + Number(fields[12])
  }
  return ticks / 100
}

interface System {
  name: 'raftdesk' | 'etcd'
  endpoints: string[]
  pids(): number[]
  stop(): Promise<void>
}

interface Round {
  opsPerS: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  cpuMsPerOp: number
  errors: number
}

async function round(loadgen: string, s: System, w: Workload): Promise<Round> {
  const before = cpuSeconds(s.pids())
  const { stdout } = await run(
    loadgen,
    [
      '-endpoints',
      s.endpoints.join(','),
      '-workload',
      w.workload,
      '-inflight',
      String(w.inflight),
      '-clients',
      String(Math.min(8, w.inflight)),
      '-seconds',
      String(seconds),
    ],
    { timeout: (seconds + 60) * 1000 },
  )
  const cpu = cpuSeconds(s.pids()) - before
  const r = JSON.parse(stdout) as {
    ops: number
    seconds: number
    p50Ms: number
    p99Ms: number
    maxMs: number
    errors: number
  }
  return {
    opsPerS: r.ops / r.seconds,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    maxMs: r.maxMs,
    cpuMsPerOp: r.ops > 0 ? (cpu * 1000) / r.ops : 0,
    errors: r.errors,
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true })
  const loadgen = await buildLoadgen()
  const dir = mkdtempSync(join(tmpdir(), 'raftdesk-vs-etcd-'))
  const systems: System[] = []
  try {
    const cluster = await LocalCluster.start({
      nodes: 3,
      dataDir: join(dir, 'raftdesk'),
      clientPort: await freePortBlock(3),
      logLevel: 'warn',
      launcher: new ForkLauncher({
        onStderrLine: () => undefined,
        execArgv: profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILES}`] : [],
      }),
    })
    await cluster.waitForLeader()
    systems.push({
      name: 'raftdesk',
      endpoints: cluster.list().map((n) => n.endpoint),
      pids: () => cluster.list().flatMap((n) => (n.pid ? [n.pid] : [])),
      stop: () => cluster.stop(),
    })
    if (!profile) await startEtcd(dir, systems)

    // An uncounted warm-up on each: raftdesk's node processes start cold (JIT), etcd's caches too.
    for (const s of systems) {
      await round(loadgen, s, { name: 'warm-up', workload: 'put', inflight: 16 })
    }

    const results: Results = []
    for (const w of WORKLOADS) {
      const byName = new Map<string, Round[]>(systems.map((s) => [s.name, []]))
      for (let r = 0; r < rounds; r++) {
        // A B, then B A: neither always runs first.
        const order = r % 2 === 0 ? systems : [...systems].reverse()
        for (const s of order) byName.get(s.name)!.push(await round(loadgen, s, w))
      }
      for (const s of systems) {
        results.push({ workload: w.name, system: s.name, rounds: byName.get(s.name)! })
        const m = byName.get(s.name)!
        console.log(
          `${w.name.padEnd(22)} ${s.name.padEnd(8)} ${Math.round(median(m.map((x) => x.opsPerS)))
            .toString()
            .padStart(6)} ops/s  p50 ${median(m.map((x) => x.p50Ms)).toFixed(2)} ms  p99 ${median(
            m.map((x) => x.p99Ms),
          ).toFixed(2)} ms  CPU ${median(m.map((x) => x.cpuMsPerOp)).toFixed(3)} ms/op`,
        )
      }
    }
    if (profile) {
      console.log(`profiles in ${PROFILES}`)
      return
    }
    report(results)
  } finally {
    for (const s of systems) await s.stop().catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
  }
}

async function startEtcd(dir: string, systems: System[]): Promise<void> {
  // etcd's election timeout is randomised between it and twice it: 150 gives raftdesk's 150-300.
  // etcd wants it at least 5 heartbeats, so its heartbeat is 30 ms (raftdesk's is 50).
  const etcd = await startEtcdCluster({
    dir: join(dir, 'etcd'),
    nodes: 3,
    extraArgs: ['--heartbeat-interval=30', '--election-timeout=150'],
  })
  systems.push({
    name: 'etcd',
    endpoints: [...etcd.endpoints.values()],
    pids: () => etcd.pids(),
    stop: () => etcd.stop(),
  })
}

type Results = Array<{ workload: string; system: string; rounds: Round[] }>

function report(results: Results): void {
  const rows = WORKLOADS.map((w) => {
    const of = (name: string) =>
      results.find((x) => x.workload === w.name && x.system === name)!.rounds
    const ours = of('raftdesk')
    const theirs = of('etcd')
    const med = (rs: Round[], k: keyof Round) => median(rs.map((x) => x[k]))
    return {
      workload: w.name,
      raftdesk: {
        opsPerS: med(ours, 'opsPerS'),
        p50Ms: med(ours, 'p50Ms'),
        p99Ms: med(ours, 'p99Ms'),
        cpuMsPerOp: med(ours, 'cpuMsPerOp'),
        spread: ours.map((x) => Math.round(x.opsPerS)),
      },
      etcd: {
        opsPerS: med(theirs, 'opsPerS'),
        p50Ms: med(theirs, 'p50Ms'),
        p99Ms: med(theirs, 'p99Ms'),
        cpuMsPerOp: med(theirs, 'cpuMsPerOp'),
        spread: theirs.map((x) => Math.round(x.opsPerS)),
      },
      throughputRatio: med(ours, 'opsPerS') / med(theirs, 'opsPerS'),
      cpuPerOpRatioEtcdOverRaftdesk: med(theirs, 'cpuMsPerOp') / med(ours, 'cpuMsPerOp'),
    }
  })
  const table = [
    '| workload | raftdesk/etcd throughput | ops/s raftdesk (rounds) | ops/s etcd (rounds) | p50 ms raftdesk / etcd | p99 ms raftdesk / etcd | CPU ms/op raftdesk / etcd |',
    '|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.workload} | ${r.throughputRatio.toFixed(2)} | ${Math.round(r.raftdesk.opsPerS)} (${r.raftdesk.spread.join(', ')}) | ${Math.round(r.etcd.opsPerS)} (${r.etcd.spread.join(', ')}) | ${r.raftdesk.p50Ms.toFixed(2)} / ${r.etcd.p50Ms.toFixed(2)} | ${r.raftdesk.p99Ms.toFixed(2)} / ${r.etcd.p99Ms.toFixed(2)} | ${r.raftdesk.cpuMsPerOp.toFixed(3)} / ${r.etcd.cpuMsPerOp.toFixed(3)} |`,
    ),
  ].join('\n')
  writeFileSync(
    join(OUT, 'vs-etcd.json'),
    JSON.stringify({ quick, rounds, seconds, atMs: Date.now(), rows, results }, null, 2),
  )
  writeFileSync(join(OUT, 'vs-etcd.md'), `${table}\n`)
  console.log(`\n${table}`)
}

await main()
