/**
 * A real etcd cluster (Debian's etcd 3.4 binary) on 127.0.0.1, for benchmarks and compatibility
 * tests that run raftdesk and etcd side by side: ports picked free with raftdesk's scheme (member
 * i serves clients on base + 100·i and peers on that + 1), data under the given directory,
 * processes stopped by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { EtcdClient } from '../../node-core/client/etcd-client'
import { freePortBlock } from './ports'

export const ETCD_BINARY = process.env['RAFTDESK_ETCD'] ?? '/usr/bin/etcd'

export interface EtcdClusterOptions {
  dir: string
  nodes?: number
  binary?: string
  /** Flags added to every member's command line (timeouts, quotas...). */
  extraArgs?: string[]
  /** Where the members' stderr goes (default: discarded). */
  stderr?: 'inherit' | 'ignore'
}

export interface EtcdCluster {
  /** Client endpoints (host:port) by member name (e1, e2, ...). */
  endpoints: Map<string, string>
  /** The current leader's name, as its own Status says; waits for one (up to ~10 s). */
  leader(not?: string): Promise<string>
  kill(name: string): Promise<void>
  /** Starts a killed member again on its data directory. */
  restart(name: string): Promise<void>
  stop(): Promise<void>
  /** The members' process ids (for their CPU time in benchmarks). */
  pids(): number[]
}

export async function leaderAmong(
  endpoints: ReadonlyMap<string, string>,
  not?: string,
): Promise<string> {
  for (let attempt = 0; attempt < 200; attempt++) {
    for (const [name, endpoint] of endpoints) {
      if (name === not) continue
      const client = new EtcdClient(endpoint, { timeoutMs: 500 })
      try {
        const s = await client.status()
        if (s.leader !== '0' && s.leader === s.header.memberId) return name
      } catch {
        // down, or not up yet
      } finally {
        client.close()
      }
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`no leader among ${[...endpoints.values()].join(', ')}`)
}

function exited(c: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve()
    c.once('exit', () => resolve())
  })
}

export async function startEtcdCluster(opts: EtcdClusterOptions): Promise<EtcdCluster> {
  const nodes = opts.nodes ?? 3
  const base = await freePortBlock(nodes)
  const members = Array.from({ length: nodes }, (_, i) => ({
    name: `e${i + 1}`,
    client: `127.0.0.1:${base + 100 * i}`,
    peer: `127.0.0.1:${base + 100 * i + 1}`,
  }))
  const initialCluster = members.map((m) => `${m.name}=http://${m.peer}`).join(',')
  const procs = new Map<string, ChildProcess>()
  const launch = (m: (typeof members)[number]) => {
    const args = [
      `--name=${m.name}`,
      `--data-dir=${join(opts.dir, m.name)}`,
      `--listen-client-urls=http://${m.client}`,
      `--advertise-client-urls=http://${m.client}`,
      `--listen-peer-urls=http://${m.peer}`,
      `--initial-advertise-peer-urls=http://${m.peer}`,
      `--initial-cluster=${initialCluster}`,
      '--initial-cluster-state=new',
      '--initial-cluster-token=raftdesk-test',
      '--logger=zap',
      '--log-outputs=stderr',
      '--log-level=error',
      ...(opts.extraArgs ?? []),
    ]
    const stdio = ['ignore', 'ignore', opts.stderr ?? 'ignore'] as const
    procs.set(m.name, spawn(opts.binary ?? ETCD_BINARY, args, { stdio: [...stdio] }))
  }
  members.forEach(launch)
  const endpoints = new Map(members.map((m) => [m.name, m.client]))
  await leaderAmong(endpoints)
  return {
    endpoints,
    pids: () => [...procs.values()].map((c) => c.pid!).filter((p) => p !== undefined),
    leader: (not) => leaderAmong(endpoints, not),
    async kill(name) {
      const c = procs.get(name)!
      c.kill('SIGKILL')
      await exited(c)
    },
    async restart(name) {
      launch(members.find((m) => m.name === name)!)
    },
    async stop() {
      for (const c of procs.values()) c.kill('SIGTERM')
      await Promise.all([...procs.values()].map(exited))
    },
  }
}
