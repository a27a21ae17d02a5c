/**
 * Local clusters started from a saved snapshot file (what `etcdctl snapshot save` or the window's
 * Save writes): each restored into <dir>/<name> (three new members holding every key, lease and
 * user at the file's revision) and started on the next free block of ports. They run until the
 * host stops; their data stays, and `raftdesk serve --data-dir <dir>/<name>` starts one again.
 */
import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { ValidationError } from '../errors'
import { MEMBER_NAME_RE, MEMBER_NAME_RULE } from '../kernel/member'
import { restoreCluster } from '../server/restore'
import type { NodeLauncher } from './launcher'
import { clusterPorts, firstTakenPort } from './ports'
import { LocalCluster, localMemberName } from './supervisor'

export interface RestoredInfo {
  name: string
  dataDir: string
  /** Client endpoints, host:port. */
  endpoints: string[]
  keys: number
  revision: number
}

const NODES = 3

/**
 * Where restored clusters' ports start for a host whose local cluster starts at `clientPort`:
 * 10,000 above it, clear of the local cluster's members and of joined ones.
 */
export function restoredPortBase(clientPort: number): number {
  return clientPort + 10_000 + 5_000 <= 65535 ? clientPort + 10_000 : 20_000
}

export class RestoredClusters {
  private readonly running = new Map<string, { cluster: LocalCluster; info: RestoredInfo }>()

  constructor(
    private readonly options: {
      dir: string
      /** Restored clusters take client ports from here up, a block of 1000 each. */
      portBase: number
      launcher?: NodeLauncher
    },
  ) {}

  list(): RestoredInfo[] {
    return [...this.running.values()].map((r) => r.info)
  }

  cluster(name: string): LocalCluster | null {
    return this.running.get(name)?.cluster ?? null
  }

  private nameFor(file: string, given?: string): string {
    if (given !== undefined && given.trim() !== '') {
      const name = given.trim()
      if (!MEMBER_NAME_RE.test(name)) {
        throw new ValidationError(
          'BAD_NAME',
          `a cluster name is ${MEMBER_NAME_RULE}, got ${JSON.stringify(name)}`,
        )
      }
      if (this.running.has(name) || existsSync(join(this.options.dir, name))) {
        throw new ValidationError('NAME_TAKEN', `a restored cluster named ${name} exists`)
      }
      return name
    }
    const base =
      basename(file)
        .replace(/\.[^.]*$/, '')
        .replace(/[^A-Za-z0-9._-]/g, '-') || 'restored'
    for (let i = 1; ; i++) {
      const name = `${base.slice(0, 56)}-${i}`
      if (!this.running.has(name) && !existsSync(join(this.options.dir, name))) return name
    }
  }

  private async freeBase(): Promise<number> {
    const used = new Set(this.list().map((r) => Number(r.endpoints[0]!.split(':').pop())))
    for (let base = this.options.portBase; base + 100 * (NODES - 1) + 1 <= 65535; base += 1000) {
      if (used.has(base)) continue
      if ((await firstTakenPort('127.0.0.1', clusterPorts(base, NODES))) === null) return base
    }
    throw new ValidationError(
      'NO_PORTS',
      `no free ports for a cluster from ${this.options.portBase} up`,
    )
  }

  /**
   * Restores `file` into a new directory and starts it. The file is checked whole before
   * anything is written; a start that fails removes what was written.
   */
  async start(file: string, given?: string): Promise<RestoredInfo> {
    const path = resolve(file)
    const name = this.nameFor(path, given)
    const dataDir = join(this.options.dir, name)
    const names = Array.from({ length: NODES }, (_, i) => localMemberName(i))
    let restored
    try {
      restored = await restoreCluster(path, dataDir, names)
    } catch (err) {
      await rm(dataDir, { recursive: true, force: true })
      throw err
    }
    let cluster: LocalCluster
    try {
      cluster = await LocalCluster.start({
        dataDir,
        nodes: NODES,
        clientPort: await this.freeBase(),
        ...(this.options.launcher ? { launcher: this.options.launcher } : {}),
      })
      await cluster.waitForLeader(30_000)
    } catch (err) {
      await rm(dataDir, { recursive: true, force: true })
      throw err
    }
    const info: RestoredInfo = {
      name,
      dataDir,
      endpoints: cluster.list().map((n) => n.endpoint),
      keys: restored.keys,
      revision: restored.revision,
    }
    this.running.set(name, { cluster, info })
    return info
  }

  /** Stops every restored cluster (their data stays). */
  async close(): Promise<void> {
    await Promise.all([...this.running.values()].map((r) => r.cluster.stop()))
    this.running.clear()
  }
}
