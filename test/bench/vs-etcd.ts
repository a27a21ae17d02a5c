/**
 * raftdesk beside a real etcd 3.4 on this machine, in one run: a 3-node raftdesk cluster and a
 * 3-member etcd cluster (apt's binary, 127.0.0.1, data on the same disk, default fsync, election
 * timeouts equal to raftdesk's), driven by the same client, rounds alternating A B A B so drift
 * hits both. The client is test/go/loadgen on etcd's own Go client (built offline on first use),
 * which costs little CPU: on 2 cores a JavaScript client saturates before the members do.
 *
 *   npm run bench -- vs-etcd [--quick] [--rounds 3] [--seconds 5]
 *   npm run bench -- vs-etcd --profile [--quick] [--only 'put, 1 in']
 *
 * `--vs-env NAME=VALUE` measures raftdesk against itself instead of etcd: the first system's nodes
 * get that environment variable, the second's do not (same run, rounds alternating), for
 * trying a change behind a variable; results go to vs-env.{json,md}.
 *
 * `--chart FILE` draws docs/bench/vs-etcd.svg again from a saved vs-etcd.json, running nothing.
 *
 * `--only TEXT` (repeatable) keeps the workloads whose names contain one of the texts; `--out DIR`
 * writes the results there instead.
 *
 * Per workload and system: throughput, p50 / p99 / max latency, the members' CPU per operation
 * (user + system from /proc/PID/stat of every member, before and after each round); medians of
 * the rounds with their spread, and raftdesk / etcd ratios, after one uncounted warm-up round.
 * JSON, a table and a chart go to test-results/bench/vs-etcd.{json,md,svg}.
 *
 * `--profile` runs raftdesk alone, each member under `node --cpu-prof`, one round per workload,
 * and leaves one .cpuprofile per member in test-results/bench/profiles (open them in Chrome's
 * DevTools, or summarise them with test/bench/profile-top.ts).
 */
import { execFile, spawn } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs, promisify } from 'node:util'
import { ForkLauncher } from '../../node-core/cluster/launcher'
import { bundledNodeEntry } from '../../node-core/cluster/node-bundle'
import { LocalCluster } from '../../node-core/cluster/supervisor'
import { startEtcdCluster } from '../helpers/etcd'
import { freePortBlock } from '../helpers/ports'
import { EtcdClient } from '../../node-core/client/etcd-client'

const run = promisify(execFile)
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    profile: { type: 'boolean' },
    only: { type: 'string', multiple: true },
    extras: { type: 'boolean' },
    'vs-env': { type: 'string' },
    chart: { type: 'string' },
    keys: { type: 'string' },
    out: { type: 'string' },
  },
})
const profile = values.profile === true
if (profile && values.extras) throw new Error('--profile and --extras do not go together')
/** `--vs-env NAME=VALUE`: raftdesk with that variable in its nodes' environment against without. */
const vsEnv = values['vs-env']
/**
 * Results go to <out>/vs-etcd.{json,md,svg}, or vs-env.{json,md} for a --vs-env run. A full run
 * (no --quick, --only, --vs-env, --out, --seconds or --rounds) also writes the chart and the table
 * to docs/bench/, where the README shows them.
 */
const BASE = vsEnv === undefined ? 'vs-etcd' : 'vs-env'
const quick = values.quick === true
const rounds = profile ? 1 : Number(values.rounds ?? (quick ? 2 : 3))
const seconds = Number(values.seconds ?? (quick ? 3 : 5))

type LoadgenWorkload =
  | 'put'
  | 'get'
  | 'get-serializable'
  | 'txn-put'
  | 'range-1000'
  | 'mix'
  | 'lease'
  | 'lease-keepalive'
  | 'watch'
interface Workload {
  name: string
  workload: LoadgenWorkload
  inflight: number
  /** Run as the root user, with auth enabled on both systems (after every workload without). */
  auth?: boolean
}
const put1: Workload = { name: 'put, 1 in flight', workload: 'put', inflight: 1 }
const put16: Workload = { name: 'put, 16 in flight', workload: 'put', inflight: 16 }
const linGet64: Workload = { name: 'linearizable get, 64', workload: 'get', inflight: 64 }
const withAuth = (w: Workload): Workload => ({ ...w, name: `${w.name}, auth`, auth: true })
const FULL: Workload[] = [
  put1,
  put16,
  { name: 'put, 64 in flight', workload: 'put', inflight: 64 },
  { name: 'put, 256 in flight', workload: 'put', inflight: 256 },
  linGet64,
  { name: 'serializable get, 64', workload: 'get-serializable', inflight: 64 },
  { name: 'txn put, 16', workload: 'txn-put', inflight: 16 },
  { name: 'range of 1,000 keys, 8', workload: 'range-1000', inflight: 8 },
  { name: 'mix 90% get / 10% put, 64', workload: 'mix', inflight: 64 },
  { name: 'lease grant+keep-alive+revoke, 16', workload: 'lease', inflight: 16 },
  { name: 'lease keep-alive, 16', workload: 'lease-keepalive', inflight: 16 },
  { name: 'watch: 100 watchers, 4 writers', workload: 'watch', inflight: 4 },
]
const ALL_WORKLOADS: Workload[] = quick
  ? [put1, put16, linGet64, withAuth(put16)]
  : [...FULL, ...FULL.filter((w) => w.workload !== 'range-1000').map(withAuth)]

/** `--only put` keeps the workloads whose name contains "put" (repeatable: any of them). */
const WORKLOADS = (values.extras ? [] : ALL_WORKLOADS).filter(
  (w) => values.only === undefined || values.only.some((o) => w.name.includes(o)),
)

const OUT = values.out ?? join(import.meta.dirname, '../../test-results/bench')
const DOCS = join(import.meta.dirname, '../../docs/bench')
const publishes =
  !quick &&
  !profile &&
  values.extras !== true &&
  values.only === undefined &&
  vsEnv === undefined &&
  values.out === undefined &&
  values.seconds === undefined &&
  values.rounds === undefined
const GOCODE = '/usr/share/gocode'
const ROOT_PASSWORD = 'bench'
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
  /** Its slot in the report: raftdesk's figures, and those it is measured against. */
  name: 'raftdesk' | 'etcd'
  /** How the report names it. */
  label: string
  endpoints: string[]
  pids(): number[]
  stop(): Promise<void>
  /** A member that is not the leader. */
  follower(): Promise<string>
  /** The member's WAL directory (raftdesk's grows as written; etcd preallocates its segments). */
  walDir(name: string): string
  /** Kills the member with SIGKILL, starts it again, and resolves once it answers a read. */
  killAndRestart(name: string): Promise<void>
  /** raftdesk only: the same with a clean stop (SIGTERM) first. */
  stopAndRestart?(name: string): Promise<void>
}

interface Round {
  ops: number
  opsPerS: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  cpuMsPerOp: number
  errors: number
  /** The first errors loadgen printed, when there were any. */
  errorSamples?: string[]
}

/** One loadgen run; the members' CPU is sampled from its "ready" line to its exit. */
async function round(loadgen: string, s: System, w: Workload): Promise<Round> {
  const args = [
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
    ...(w.auth ? ['-user', 'root', '-password', ROOT_PASSWORD] : []),
  ]
  const child = spawn(loadgen, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const killer = setTimeout(() => child.kill('SIGKILL'), (seconds + 60) * 1000)
  let before: number | undefined
  let stdout = ''
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d
    if (before === undefined && stdout.startsWith('ready\n')) before = cpuSeconds(s.pids())
  })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  clearTimeout(killer)
  const cpu = cpuSeconds(s.pids()) - (before ?? NaN)
  if (code !== 0 || before === undefined) {
    throw new Error(`loadgen ${w.workload} on ${s.name} failed (exit ${code}): ${stderr.trim()}`)
  }
  const r = JSON.parse(stdout.slice('ready\n'.length)) as {
    ops: number
    seconds: number
    p50Ms: number
    p99Ms: number
    maxMs: number
    errors: number
  }
  return {
    ops: r.ops,
    opsPerS: r.ops / r.seconds,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    maxMs: r.maxMs,
    cpuMsPerOp: r.ops > 0 ? (cpu * 1000) / r.ops : 0,
    errors: r.errors,
    ...(r.errors > 0
      ? {
          errorSamples: stderr
            .split('\n')
            .filter((l) => l.startsWith('error: '))
            .slice(0, 3),
        }
      : {}),
  }
}

/** Turns auth on with a root user, through etcd's own etcdctl (the same calls on both). */
async function enableAuth(s: System): Promise<void> {
  const ctl = (...args: string[]) =>
    run('etcdctl', ['--endpoints', s.endpoints.join(','), ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
    })
  await ctl('user', 'add', 'root', '--new-user-password', ROOT_PASSWORD)
  await ctl('auth', 'enable')
}

/** One system's rounds of a workload: medians, each round's ops/s, and all errors. */
function summarise(rs: Round[]) {
  const med = (k: 'opsPerS' | 'p50Ms' | 'p99Ms' | 'cpuMsPerOp') => median(rs.map((x) => x[k]))
  return {
    opsPerS: med('opsPerS'),
    p50Ms: med('p50Ms'),
    p99Ms: med('p99Ms'),
    cpuMsPerOp: med('cpuMsPerOp'),
    spread: rs.map((x) => Math.round(x.opsPerS)),
    errors: rs.reduce((n, x) => n + x.errors, 0),
  }
}

/** The median; of an even count, the mean of the middle two. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true })
  if (values.chart !== undefined) {
    // Draws the README's chart again from a saved vs-etcd.json, running nothing.
    const { rows } = JSON.parse(readFileSync(values.chart, 'utf8')) as { rows: ChartRow[] }
    mkdirSync(DOCS, { recursive: true })
    writeFileSync(join(DOCS, 'vs-etcd.svg'), chart(rows))
    return
  }
  const loadgen = await buildLoadgen()
  const dir = mkdtempSync(join(tmpdir(), 'raftdesk-vs-etcd-'))
  const systems: System[] = []
  try {
    if (vsEnv === undefined) {
      systems.push(await startRaftdesk(dir, 'raftdesk', 'raftdesk', {}))
      if (!profile) await startEtcd(dir, systems)
    } else {
      // raftdesk with the variable (in raftdesk's slot) against raftdesk without it.
      const eq = vsEnv.indexOf('=')
      if (eq < 1) throw new Error(`--vs-env wants NAME=VALUE, not "${vsEnv}"`)
      const [k, v] = [vsEnv.slice(0, eq), vsEnv.slice(eq + 1)]
      systems.push(await startRaftdesk(join(dir, 'b'), 'raftdesk', `raftdesk ${vsEnv}`, { [k]: v }))
      systems.push(await startRaftdesk(join(dir, 'a'), 'etcd', 'raftdesk', {}))
    }

    // An uncounted warm-up on each: raftdesk's node processes start cold (JIT), etcd's caches too.
    for (const s of systems) {
      await round(loadgen, s, { name: 'warm-up', workload: 'put', inflight: 16 })
    }

    const results: Results = []
    let authOn = false
    for (const w of WORKLOADS) {
      if (w.auth && !authOn) {
        for (const s of systems) await enableAuth(s)
        authOn = true
      }
      const byName = new Map<string, Round[]>(systems.map((s) => [s.name, []]))
      for (let r = 0; r < rounds; r++) {
        // A B, then B A: neither always runs first.
        const order = r % 2 === 0 ? systems : [...systems].reverse()
        for (const s of order) byName.get(s.name)!.push(await round(loadgen, s, w))
      }
      for (const s of systems) {
        results.push({ workload: w.name, system: s.name, rounds: byName.get(s.name)! })
        const m = summarise(byName.get(s.name)!)
        console.log(
          `${w.name.padEnd(22)} ${s.label.padEnd(8)} ${Math.round(m.opsPerS).toString().padStart(6)} ops/s  p50 ${m.p50Ms.toFixed(2)} ms  p99 ${m.p99Ms.toFixed(2)} ms  CPU ${m.cpuMsPerOp.toFixed(3)} ms/op`,
        )
      }
    }
    if (profile) {
      console.log(`profiles in ${PROFILES}`)
      return
    }
    if (values.extras) {
      await extras(loadgen, systems)
      return
    }
    report(results, systems[0]!.label, systems[1]!.label)
  } finally {
    for (const s of systems) await s.stop().catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
  }
}

async function startRaftdesk(
  dir: string,
  slot: System['name'],
  label: string,
  env: Record<string, string>,
): Promise<System> {
  const cluster = await LocalCluster.start({
    nodes: 3,
    dataDir: join(dir, 'raftdesk'),
    clientPort: await freePortBlock(3),
    logLevel: 'warn',
    launcher: new ForkLauncher({
      onStderrLine: () => undefined,
      execArgv: profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILES}`] : [],
      // The nodes run from built JavaScript, as `npm run serve` runs them.
      entry: await bundledNodeEntry(),
      env,
    }),
  })
  try {
    await cluster.waitForLeader()
  } catch (err) {
    await cluster.stop().catch(() => undefined)
    throw err
  }
  return {
    name: slot,
    label,
    endpoints: cluster.list().map((n) => n.endpoint),
    pids: () => cluster.list().flatMap((n) => (n.pid ? [n.pid] : [])),
    stop: () => cluster.stop(),
    follower: async () => {
      const leader = await cluster.waitForLeader()
      return cluster.names().find((n) => n !== leader)!
    },
    walDir: (name) => join(cluster.info(name).dataDir, 'wal'),
    killAndRestart: async (name) => {
      await cluster.kill(name)
      await cluster.startNode(name) // resolves once the node serves clients
      await answersRead(cluster.info(name).endpoint)
    },
    stopAndRestart: async (name) => {
      await cluster.stopNode(name, false)
      await cluster.startNode(name)
      await answersRead(cluster.info(name).endpoint)
    },
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
    label: 'etcd',
    endpoints: [...etcd.endpoints.values()],
    pids: () => etcd.pids(),
    stop: () => etcd.stop(),
    follower: async () => {
      const leader = await etcd.leader()
      return [...etcd.endpoints.keys()].find((n) => n !== leader)!
    },
    walDir: (name) => join(dir, 'etcd', name, 'member', 'wal'),
    killAndRestart: async (name) => {
      await etcd.kill(name)
      await etcd.restart(name)
      await answersRead(etcd.endpoints.get(name)!)
    },
  })
}

type Results = Array<{ workload: string; system: string; rounds: Round[] }>

function report(results: Results, a: string, b: string): void {
  const rows = WORKLOADS.map((w) => {
    const of = (name: string) =>
      results.find((x) => x.workload === w.name && x.system === name)!.rounds
    const ours = summarise(of('raftdesk'))
    const theirs = summarise(of('etcd'))
    return {
      workload: w.name,
      raftdesk: ours,
      etcd: theirs,
      throughputRatio: ours.opsPerS / theirs.opsPerS,
      cpuPerOpRatioEtcdOverRaftdesk: theirs.cpuMsPerOp / ours.cpuMsPerOp,
    }
  })
  const table = [
    `| workload | ${a}/${b} throughput | ops/s ${a} (rounds) | ops/s ${b} (rounds) | p50 ms ${a} / ${b} | p99 ms ${a} / ${b} | CPU ms/op ${a} / ${b} | errors ${a} / ${b} |`,
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.workload} | ${r.throughputRatio.toFixed(2)} | ${Math.round(r.raftdesk.opsPerS)} (${r.raftdesk.spread.join(', ')}) | ${Math.round(r.etcd.opsPerS)} (${r.etcd.spread.join(', ')}) | ${r.raftdesk.p50Ms.toFixed(2)} / ${r.etcd.p50Ms.toFixed(2)} | ${r.raftdesk.p99Ms.toFixed(2)} / ${r.etcd.p99Ms.toFixed(2)} | ${r.raftdesk.cpuMsPerOp.toFixed(3)} / ${r.etcd.cpuMsPerOp.toFixed(3)} | ${r.raftdesk.errors} / ${r.etcd.errors} |`,
    ),
  ].join('\n')
  writeFileSync(
    join(OUT, `${BASE}.json`),
    JSON.stringify({ quick, rounds, seconds, atMs: Date.now(), rows, results }, null, 2),
  )
  writeFileSync(join(OUT, `${BASE}.md`), `${table}\n`)
  if (vsEnv === undefined) writeFileSync(join(OUT, 'vs-etcd.svg'), chart(rows))
  if (publishes) {
    // A whole run is what the README shows.
    mkdirSync(DOCS, { recursive: true })
    writeFileSync(join(DOCS, 'vs-etcd.svg'), chart(rows))
    writeFileSync(join(DOCS, 'vs-etcd.md'), `${table}\n`)
  }
  console.log(`\n${table}`)
}

// ---- --extras: memory, disk and restart -----------------------------------------------------

/** Polls a serializable read on one member until it answers (at most 60 s). */
async function answersRead(endpoint: string): Promise<void> {
  const until = Date.now() + 60_000
  for (;;) {
    const client = new EtcdClient(endpoint, { timeoutMs: 1000 })
    try {
      await client.range('fill/', { prefix: true, serializable: true, countOnly: true })
      return
    } catch (err) {
      if (Date.now() > until) throw err
    } finally {
      client.close()
    }
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Resident memory of each member, MB. */
function rssMb(pids: number[]): number[] {
  return pids.map((pid) => {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : NaN
  })
}

/** Bytes the members sent to storage (/proc/PID/io write_bytes, counted as pages are dirtied). */
function storageBytes(pids: number[]): number {
  let total = 0
  for (const pid of pids) {
    const m = /^write_bytes: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))
    total += m ? Number(m[1]) : 0
  }
  return total
}

function dirBytes(dir: string): number {
  let total = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isFile()) total += statSync(join(dir, e.name)).size
  }
  return total
}

interface Extras {
  system: string
  idleRssMb: number[]
  walBytesPerWrite: number | null
  storageBytesPerWrite: number
  rss100kMb: number[]
  rssKeysMb: number[]
  keys: number
  fillKeysPerS: number
  killRestartMs: number
  stopRestartMs: number | null
}

async function fillKeys(loadgen: string, s: System, from: number, to: number): Promise<number> {
  const { stdout } = await run(
    loadgen,
    [
      '-endpoints',
      s.endpoints.join(','),
      '-workload',
      'fill',
      '-inflight',
      '8',
      '-from',
      String(from),
      '-to',
      String(to),
    ],
    { timeout: 900_000, maxBuffer: 1 << 20 },
  )
  const r = JSON.parse(stdout.slice(stdout.indexOf('{'))) as { ops: number; seconds: number }
  if (r.ops !== to - from) throw new Error(`fill wrote ${r.ops} keys, expected ${to - from}`)
  return r.ops / r.seconds
}

async function timed(f: () => Promise<void>): Promise<number> {
  const t0 = performance.now()
  await f()
  return performance.now() - t0
}

/**
 * Per system: idle memory; WAL and storage bytes per put (16 in flight); memory with 100,000 and
 * with --keys (1,000,000) keys; the time a follower holding them takes to serve again after
 * kill -9 (and, for raftdesk, after a clean stop).
 */
async function extras(loadgen: string, systems: System[]): Promise<void> {
  const keys = Number(values.keys ?? 1_000_000)
  const out: Extras[] = []
  for (const s of systems) {
    const idleRssMb = rssMb(s.pids())
    const follower = await s.follower()
    const wal0 = dirBytes(s.walDir(follower))
    const io0 = storageBytes(s.pids())
    const before = await round(loadgen, s, put16)
    const ops = before.ops
    const walGrowth = dirBytes(s.walDir(follower)) - wal0
    const storageBytesPerWrite = (storageBytes(s.pids()) - io0) / ops
    const fill100k = await fillKeys(loadgen, s, 0, 100_000)
    await new Promise((r) => setTimeout(r, 2000))
    const rss100kMb = rssMb(s.pids())
    const fillRest = keys > 100_000 ? await fillKeys(loadgen, s, 100_000, keys) : fill100k
    await new Promise((r) => setTimeout(r, 2000))
    const rssKeysMb = rssMb(s.pids())
    const killRestartMs = await timed(() => s.killAndRestart(follower))
    const stopRestartMs = s.stopAndRestart ? await timed(() => s.stopAndRestart!(follower)) : null
    const row: Extras = {
      system: s.name,
      idleRssMb,
      // etcd preallocates 64 MB segments: the directory's size says nothing about what it wrote.
      walBytesPerWrite: s.name === 'raftdesk' ? walGrowth / ops : null,
      storageBytesPerWrite,
      rss100kMb,
      rssKeysMb,
      keys,
      fillKeysPerS: Math.min(fill100k, fillRest),
      killRestartMs,
      stopRestartMs,
    }
    console.log(JSON.stringify(row))
    out.push(row)
  }
  const mb = (xs: number[]) => `${Math.round(Math.max(...xs))}`
  const table = [
    `| system | RSS per member idle, MB (max) | at 100,000 keys | at ${keys.toLocaleString('en')} keys | WAL bytes per put | storage bytes per put (all files) | fill, keys/s | restart after kill -9, ms | restart after clean stop, ms |`,
    '|---|---|---|---|---|---|---|---|---|',
    ...out.map(
      (r) =>
        `| ${r.system} | ${mb(r.idleRssMb)} | ${mb(r.rss100kMb)} | ${mb(r.rssKeysMb)} | ${r.walBytesPerWrite === null ? 'n/a (preallocated)' : Math.round(r.walBytesPerWrite)} | ${Math.round(r.storageBytesPerWrite)} | ${Math.round(r.fillKeysPerS)} | ${Math.round(r.killRestartMs)} | ${r.stopRestartMs === null ? '' : Math.round(r.stopRestartMs)} |`,
    ),
  ].join('\n')
  writeFileSync(
    join(OUT, 'vs-etcd-extras.json'),
    JSON.stringify({ atMs: Date.now(), extras: out }, null, 2),
  )
  writeFileSync(join(OUT, 'vs-etcd-extras.md'), `${table}\n`)
  if (
    values.out === undefined &&
    values.keys === undefined &&
    values.seconds === undefined &&
    vsEnv === undefined
  ) {
    mkdirSync(DOCS, { recursive: true })
    writeFileSync(join(DOCS, 'vs-etcd-extras.md'), `${table}\n`)
  }
  console.log(`\n${table}`)
}

interface ChartRow {
  workload: string
  throughputRatio: number
  cpuPerOpRatioEtcdOverRaftdesk: number
}

/**
 * The README's chart: per workload, raftdesk's throughput and CPU efficiency as multiples of
 * etcd's (right of the 1.0 line is better than etcd). A plain SVG written here: a static file
 * with two bars per row needs no charting library.
 */
function chart(rows: ChartRow[]): string {
  const labelW = 300
  const barW = 420
  const rowH = 34
  const top = 56
  const max = Math.max(
    1.5,
    ...rows.flatMap((r) => [r.throughputRatio, r.cpuPerOpRatioEtcdOverRaftdesk]),
  )
  const x = (v: number) => Math.round(10 * (labelW + (Math.min(v, max) / max) * barW)) / 10
  const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;')
  const height = top + rows.length * rowH + 40
  const width = labelW + barW + 70
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="600" fill="#1f2328">raftdesk as a multiple of etcd 3.4 (3 members, same machine; right of 1.0 is better)</text>`,
    `<rect x="12" y="34" width="12" height="10" fill="#2f81f7"/><text x="30" y="43" fill="#1f2328">throughput</text>`,
    `<rect x="120" y="34" width="12" height="10" fill="#d29922"/><text x="138" y="43" fill="#1f2328">CPU per operation (etcd's / raftdesk's)</text>`,
  ]
  rows.forEach((r, i) => {
    const y = top + i * rowH
    parts.push(
      `<text x="${labelW - 8}" y="${y + 19}" text-anchor="end" fill="#1f2328">${esc(r.workload)}</text>`,
      `<rect x="${labelW}" y="${y + 5}" width="${x(r.throughputRatio) - labelW}" height="11" fill="#2f81f7"/>`,
      `<text x="${x(r.throughputRatio) + 4}" y="${y + 15}" font-size="11" fill="#1f2328">${r.throughputRatio.toFixed(2)}</text>`,
      `<rect x="${labelW}" y="${y + 17}" width="${x(r.cpuPerOpRatioEtcdOverRaftdesk) - labelW}" height="11" fill="#d29922"/>`,
      `<text x="${x(r.cpuPerOpRatioEtcdOverRaftdesk) + 4}" y="${y + 27}" font-size="11" fill="#1f2328">${r.cpuPerOpRatioEtcdOverRaftdesk.toFixed(2)}</text>`,
    )
  })
  const one = x(1)
  const bottom = top + rows.length * rowH
  parts.push(
    `<line x1="${one}" y1="${top}" x2="${one}" y2="${bottom}" stroke="#cf222e" stroke-dasharray="4 3"/>`,
    `<text x="${one}" y="${bottom + 16}" text-anchor="middle" fill="#cf222e">1.0 = etcd</text>`,
    '</svg>',
  )
  return parts.join('\n') + '\n'
}

await main()
