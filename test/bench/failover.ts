/**
 * Failover as a client sees it, raftdesk beside a real etcd 3.4 in one run (test/helpers/
 * failover.ts): a fresh etcd3 client (default options) on the two members that survive puts a key
 * every 10 ms, the leader is killed with SIGKILL, and the figure is the time from the kill to the
 * first acknowledged put sent after it, with the errors the client saw per kill (a server that
 * fails its waiting writes all at once trips the client's circuit breaker: 5 s of nothing).
 *
 *   npm run bench -- failover [--clusters 4] [--kills 5] [--only raftdesk|etcd]
 *
 * Both draw election timeouts from 150-300 ms: raftdesk's defaults, and for etcd
 * --election-timeout=150 with --heartbeat-interval=30 (its raft draws from 1x to 2x the base,
 * counted in heartbeat ticks, and wants the base to be at least 5 ticks). Fresh clusters, the two
 * systems alternating cluster by cluster so that drift on the machine hits both.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ForkLauncher } from '../../node-core/cluster/launcher'
import { LocalCluster } from '../../node-core/cluster/supervisor'
import { ETCD_BINARY, startEtcdCluster } from '../helpers/etcd'
import {
  describeKills,
  killLeaderOnce,
  type FailoverTarget,
  type KillResult,
} from '../helpers/failover'
import { freePortBlock } from '../helpers/ports'

const { values } = parseArgs({
  options: {
    clusters: { type: 'string' },
    kills: { type: 'string' },
    only: { type: 'string' },
    etcd: { type: 'string' },
  },
})
const clusters = Number(values.clusters ?? 4)
const kills = Number(values.kills ?? 5)
const etcdBinary = values.etcd ?? ETCD_BINARY

type Target = FailoverTarget & { stop(): Promise<void> }

async function startRaftdesk(dir: string): Promise<Target> {
  const cluster = await LocalCluster.start({
    nodes: 3,
    dataDir: dir,
    clientPort: await freePortBlock(3),
    logLevel: 'warn',
    launcher: new ForkLauncher({ onStderrLine: () => {} }),
  })
  await cluster.waitForLeader()
  return {
    endpoints: new Map(cluster.list().map((n) => [n.name, n.endpoint])),
    leader: () => cluster.waitForLeader(10_000),
    kill: (name) => cluster.kill(name),
    restart: (name) => cluster.startNode(name),
    stop: () => cluster.stop(),
  }
}

function startEtcd(dir: string): Promise<Target> {
  return startEtcdCluster({
    dir,
    binary: etcdBinary,
    extraArgs: ['--election-timeout=150', '--heartbeat-interval=30'],
  })
}

const root = mkdtempSync(join(tmpdir(), 'raftdesk-bench-failover-'))
try {
  const runs: Array<[string, (dir: string) => Promise<Target>]> = []
  if (values.only !== 'etcd') runs.push(['raftdesk', startRaftdesk])
  if (values.only !== 'raftdesk') {
    if (existsSync(etcdBinary)) runs.push(['etcd', startEtcd])
    else console.log(`(no etcd at ${etcdBinary}: raftdesk alone)`)
  }
  const results = new Map<string, KillResult[]>(runs.map(([n]) => [n, []]))
  for (let c = 0; c < clusters; c++) {
    for (const [name, start] of runs) {
      const target = await start(join(root, `${name}-${c}`))
      try {
        for (let k = 0; k < kills; k++) {
          results.get(name)!.push(await killLeaderOnce(target, `${c}-${k}`))
        }
      } finally {
        await target.stop()
      }
    }
  }
  for (const [name, r] of results) console.log(describeKills(name.padEnd(8), r))
} finally {
  rmSync(root, { recursive: true, force: true })
}
