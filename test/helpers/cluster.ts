/**
 * Real local clusters for end-to-end tests: node processes forked on 127.0.0.1, ports picked
 * free, data in a temp directory that is removed afterwards, processes stopped by PID.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EtcdClient } from '../../node-core/client/etcd-client'
import { ForkLauncher } from '../../node-core/cluster/launcher'
import { LocalCluster, type LocalClusterOptions } from '../../node-core/cluster/supervisor'
import { freePortBlock } from './ports'

export interface TestCluster {
  cluster: LocalCluster
  dataDir: string
  endpoints: Map<string, string>
  /** Every line the nodes wrote to stderr, newest last. */
  logs: string[]
  client(name: string): EtcdClient
  /** Stops everything and removes the data (kills what does not stop). */
  dispose(): Promise<void>
}

export async function startTestCluster(
  opts: Partial<LocalClusterOptions> & { nodes?: number; keepLogs?: boolean } = {},
): Promise<TestCluster> {
  const nodes = opts.nodes ?? 3
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'raftdesk-e2e-'))
  const clientPort = opts.clientPort ?? (await freePortBlock(nodes))
  const echo = process.env['RAFTDESK_TEST_LOGS'] === '1'
  const logs: string[] = []
  const cluster = await LocalCluster.start({
    logLevel: 'info',
    ...opts,
    nodes,
    dataDir,
    clientPort,
    launcher:
      opts.launcher ??
      new ForkLauncher({
        onStderrLine: (_name, line) => {
          logs.push(line)
          if (logs.length > 50_000) logs.splice(0, 10_000)
          if (echo) process.stderr.write(`${line}\n`)
        },
      }),
  })
  const clients = new Map<string, EtcdClient>()
  const endpoints = new Map(cluster.list().map((n) => [n.name, n.endpoint]))
  return {
    cluster,
    dataDir,
    endpoints,
    logs,
    client(name) {
      let c = clients.get(name)
      if (!c) {
        // A node added after the start is not in the map taken then.
        c = new EtcdClient(endpoints.get(name) ?? cluster.info(name).endpoint, { timeoutMs: 3000 })
        clients.set(name, c)
      }
      return c
    },
    async dispose() {
      for (const c of clients.values()) c.close()
      for (const name of cluster.names()) cluster.resume(name)
      await cluster.stop().catch(() => undefined)
      for (const n of cluster.list()) {
        if (n.pid !== null) {
          try {
            process.kill(n.pid, 'SIGKILL')
          } catch {
            // already gone
          }
        }
      }
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/**
 * Steady writes from several workers, each writing its own keys in sequence to whichever
 * endpoint answers; records every acknowledged write and when it was acknowledged.
 */
export class WriteLoad {
  readonly acknowledged = new Map<string, string>()
  readonly ackTimesMs: number[] = []
  failures = 0
  private running = false
  private workers: Promise<void>[] = []

  constructor(
    private readonly endpoints: () => string[],
    private readonly workersCount = 4,
    private readonly prefix = 'load',
  ) {}

  start(): void {
    this.running = true
    for (let w = 0; w < this.workersCount; w++) this.workers.push(this.worker(w))
  }

  async stop(): Promise<void> {
    this.running = false
    await Promise.all(this.workers)
  }

  /** Resolves with the time of the first acknowledgement after `sinceMs`. */
  async nextAckAfter(sinceMs: number, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const t = this.ackTimesMs.find((x) => x > sinceMs)
      if (t !== undefined) return t
      await sleep(5)
    }
    throw new Error(`no acknowledged write within ${timeoutMs} ms after ${sinceMs}`)
  }

  private async worker(w: number): Promise<void> {
    const clients = new Map<string, EtcdClient>()
    let seq = 0
    let target = w
    while (this.running) {
      const eps = this.endpoints()
      const ep = eps[target % eps.length]!
      let client = clients.get(ep)
      if (!client) {
        client = new EtcdClient(ep, { timeoutMs: 1500 })
        clients.set(ep, client)
      }
      const key = `${this.prefix}/${w}/${String(seq).padStart(8, '0')}`
      const value = `v${w}-${seq}`
      try {
        await client.put(key, value)
        this.acknowledged.set(key, value)
        this.ackTimesMs.push(Date.now())
        seq++
      } catch {
        // Outcome unknown: the next attempt uses a new key, so the check stays exact.
        this.failures++
        seq++
        target++
        await sleep(10)
      }
    }
    for (const c of clients.values()) c.close()
  }
}
