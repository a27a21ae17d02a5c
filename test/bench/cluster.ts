/**
 * Write throughput of a whole 3-member cluster on this machine: raftdesk's node processes
 * (LocalCluster, as `npm run serve` runs them) and, when the etcd binary is installed, a real
 * 3-member etcd cluster with the same client, the same load and the same ports scheme, in one
 * run, so the figure that matters is the ratio.
 *
 *   npm run bench -- cluster [--seconds 4] [--value-bytes 256] [--in-flight 1,16,64]
 *                            [--nodes 3] [--only raftdesk|etcd]
 *
 * The load is puts of distinct keys sent to the leader by one gRPC client with N requests in
 * flight. Prints puts/s and latency percentiles per case, then raftdesk / etcd.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { EtcdClient } from '../../node-core/client/etcd-client'
import { ForkLauncher } from '../../node-core/cluster/launcher'
import { LocalCluster } from '../../node-core/cluster/supervisor'
import { ETCD_BINARY, leaderAmong, startEtcdCluster } from '../helpers/etcd'
import { freePortBlock } from '../helpers/ports'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string' },
    'value-bytes': { type: 'string' },
    'in-flight': { type: 'string' },
    etcd: { type: 'string' },
    nodes: { type: 'string' },
    only: { type: 'string' },
  },
})
const seconds = Number(values.seconds ?? 4)
const valueBytes = Number(values['value-bytes'] ?? 256)
const inFlights = (values['in-flight'] ?? '1,16,64').split(',').map(Number)
const etcdBinary = values.etcd ?? ETCD_BINARY
const nodes = Number(values.nodes ?? 3)
const only = values.only

interface Target {
  name: string
  /** Client URL of the current leader. */
  leader(): Promise<string>
  stop(): Promise<void>
}

interface Result {
  putsPerSecond: number
  p50: number
  p99: number
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0
}

async function load(endpoint: string, inFlight: number, tag: string): Promise<Result> {
  const client = new EtcdClient(endpoint, { timeoutMs: 10_000 })
  const value = Buffer.alloc(valueBytes, 0x61)
  // Warm the channel and the leader before the clock starts.
  for (let i = 0; i < 50; i++) await client.put(`warm/${tag}/${i}`, value)
  const latencies: number[] = []
  let next = 0
  const began = performance.now()
  const until = began + seconds * 1000
  const worker = async () => {
    while (performance.now() < until) {
      const key = `bench/${tag}/${next++}`
      const t0 = performance.now()
      await client.put(key, value)
      latencies.push(performance.now() - t0)
    }
  }
  await Promise.all(Array.from({ length: inFlight }, worker))
  const elapsed = (performance.now() - began) / 1000
  client.close()
  latencies.sort((a, b) => a - b)
  return {
    putsPerSecond: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  }
}

async function startRaftdesk(dir: string): Promise<Target> {
  const cluster = await LocalCluster.start({
    nodes,
    dataDir: join(dir, 'raftdesk'),
    clientPort: await freePortBlock(nodes),
    logLevel: 'warn',
    launcher: new ForkLauncher({ onStderrLine: (_n, line) => process.stderr.write(`${line}\n`) }),
  })
  await cluster.waitForLeader()
  const endpoints = new Map(cluster.list().map((n) => [n.name, n.endpoint]))
  return {
    name: 'raftdesk',
    leader: async () => endpoints.get(await leaderAmong(endpoints))!,
    stop: () => cluster.stop(),
  }
}

async function startEtcd(dir: string): Promise<Target> {
  const etcd = await startEtcdCluster({
    dir: join(dir, 'etcd'),
    nodes,
    binary: etcdBinary,
    stderr: 'inherit',
  })
  return {
    name: 'etcd',
    leader: async () => etcd.endpoints.get(await etcd.leader())!,
    stop: () => etcd.stop(),
  }
}

const dir = mkdtempSync(join(tmpdir(), 'raftdesk-bench-cluster-'))
const results = new Map<string, Map<number, Result>>()
try {
  const starts: Array<() => Promise<Target>> = []
  if (only !== 'etcd') starts.push(() => startRaftdesk(dir))
  if (only === 'raftdesk') {
    // as asked
  } else if (existsSync(etcdBinary)) starts.push(() => startEtcd(dir))
  else console.log(`(no etcd at ${etcdBinary}: raftdesk alone)`)
  for (const start of starts) {
    const target = await start()
    const byInFlight = new Map<number, Result>()
    results.set(target.name, byInFlight)
    try {
      for (const n of inFlights) {
        const r = await load(await target.leader(), n, `${target.name}-${n}`)
        byInFlight.set(n, r)
        console.log(
          `${target.name.padEnd(8)} ${String(n).padStart(3)} in flight: ` +
            `${Math.round(r.putsPerSecond).toLocaleString('en-US').padStart(7)} puts/s, ` +
            `p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`,
        )
      }
    } finally {
      await target.stop()
    }
  }
  const ours = results.get('raftdesk')
  const theirs = results.get('etcd')
  if (ours && theirs) {
    for (const n of inFlights) {
      const ratio = ours.get(n)!.putsPerSecond / theirs.get(n)!.putsPerSecond
      console.log(`raftdesk / etcd at ${n} in flight: ${ratio.toFixed(2)}x`)
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
