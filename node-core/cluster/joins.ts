/**
 * This machine's members of other raftdesk clusters: the nodes the window joined to a remote
 * cluster (join.ts does the joining). Each lives in <dir>/<name> with its join record, so the
 * host starts them again when it starts; leaving removes the member from its cluster and moves
 * the directory to <dir>/removed/.
 *
 * A joined node goes through phases a person can follow: joining (asking the cluster), snapshot
 * (waiting for the first image), catchingUp (the share of the cluster's log it has applied),
 * caughtUp (ready to promote), voter; stopped or failed when its process does not run.
 */
import { EventEmitter } from 'node:events'
import type { JoinedMember } from '../../contract'
import { existsSync } from 'node:fs'
import { mkdir, readdir, rename, rm } from 'node:fs/promises'
import { hostname, networkInterfaces } from 'node:os'
import { join as joinPath } from 'node:path'
import { ValidationError } from '../errors'
import { isLoopbackAddress, MEMBER_NAME_RE, MEMBER_NAME_RULE } from '../kernel/member'
import { ForkLauncher, type NodeLauncher } from './launcher'
import { clientEndpointForPeer, JoinedNode, JoinError } from './join'
import { firstTakenPort } from './ports'

export interface JoinRequest {
  peer: string
  token: string
  /** Name in the remote cluster (default: this host's name and a number). */
  name?: string
  /** The address the cluster's members reach this node at (default: see advertiseHostFor). */
  advertiseHost?: string
  /** From an invite link: refuse another cluster. */
  clusterId?: number
}

export interface JoinManagerOptions {
  /** Where joined nodes keep their data. */
  dir: string
  /** Joined nodes take free client/peer port pairs from here up, 100 apart. */
  portBase: number
  launcher?: NodeLauncher
  /** How often the cluster's commit index is asked for, per joined node. */
  pollMs?: number
}

/**
 * Where joined nodes' ports start for a host whose local cluster starts at `clientPort`: 1000
 * above it (clear of the local cluster's nine members), or below when that leaves no room.
 */
export function joinedPortBase(clientPort: number): number {
  return clientPort + 1000 + 5000 <= 65535 ? clientPort + 1000 : Math.max(1024, clientPort - 6000)
}

/**
 * The address a remote cluster reaches this machine at: loopback for a cluster on this machine,
 * otherwise the first non-internal IPv4 address.
 */
export function advertiseHostFor(peer: string): string {
  if (isLoopbackAddress(peer)) return '127.0.0.1'
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return '127.0.0.1'
}

interface Entry {
  name: string
  peer: string
  node: JoinedNode | null
  /** The client port taken while the join is on its way (before the node exists). */
  port?: number
  clusterCommit: number
  error?: string
}

export class JoinManager extends EventEmitter<{ changed: [] }> {
  private readonly entries = new Map<string, Entry>()
  private readonly launcher: NodeLauncher
  private timer: NodeJS.Timeout | null = null
  private portQueue: Promise<void> = Promise.resolve()

  private constructor(private readonly options: JoinManagerOptions) {
    super()
    this.launcher = options.launcher ?? new ForkLauncher()
  }

  /** Opens the directory and starts every node joined before (each failure is kept, not thrown). */
  static async open(options: JoinManagerOptions): Promise<JoinManager> {
    const m = new JoinManager(options)
    // Each member's directory holds its cluster's token: the owner's alone.
    await mkdir(options.dir, { recursive: true, mode: 0o700 })
    const names = (await readdir(options.dir, { withFileTypes: true }))
      .filter((d) => d.isDirectory() && existsSync(joinPath(options.dir, d.name, 'join.json')))
      .map((d) => d.name)
    await Promise.all(names.map((name) => m.restart(name)))
    m.timer = setInterval(() => void m.poll(), options.pollMs ?? 1_000)
    m.timer.unref()
    return m
  }

  private async restart(name: string): Promise<void> {
    const entry: Entry = { name, peer: '', node: null, clusterCommit: 0 }
    this.entries.set(name, entry)
    try {
      entry.node = await JoinedNode.load(joinPath(this.options.dir, name), this.launcher)
      entry.peer = entry.node?.via.peer ?? ''
      await entry.node?.start()
    } catch (err) {
      entry.error = (err as Error).message
    }
    this.emit('changed')
  }

  list(): JoinedMember[] {
    return [...this.entries.values()]
      .map((e) => this.info(e))
      .sort((a, b) => a.name.localeCompare(b.name))
  }

  private info(e: Entry): JoinedMember {
    const n = e.node
    const s = n?.lastStatus ?? null
    const base = {
      name: e.name,
      peer: e.peer,
      clusterId: n ? n.clusterId.toString(16) : '',
      memberId: n ? n.memberId.toString(16) : '',
      endpoint: n?.endpoint ?? '',
      applied: s?.applied ?? 0,
      // The cluster's commit as last asked, or as this node has heard it if that is newer.
      clusterCommit: Math.max(e.clusterCommit, s?.commit ?? 0),
      snapshotBytes: n?.receivedSnapshotBytes ?? 0,
      ...(e.error ? { error: e.error } : {}),
    }
    if (!n) return { ...base, phase: e.error ? 'failed' : 'joining', catchUp: null }
    if (!n.running) return { ...base, phase: e.error ? 'failed' : 'stopped', catchUp: null }
    if (!s) return { ...base, phase: 'snapshot', catchUp: 0 }
    const learner = s.confState.learners.includes(n.memberId)
    const voter = s.confState.voters.includes(n.memberId)
    if (voter) return { ...base, phase: 'voter', catchUp: 1 }
    const commit = base.clusterCommit
    const catchUp = commit === 0 ? 0 : Math.min(1, s.applied / commit)
    if (!learner || s.applied === 0) return { ...base, phase: 'snapshot', catchUp }
    return { ...base, phase: catchUp >= 0.99 ? 'caughtUp' : 'catchingUp', catchUp }
  }

  /** Asks each cluster for its commit index (the catch-up's denominator). */
  private async poll(): Promise<void> {
    await Promise.all(
      [...this.entries.values()].map(async (e) => {
        if (!e.node?.running) return
        try {
          e.clusterCommit = (await e.node.clusterStatus()).commit
        } catch {
          // The cluster is out of reach for a moment: the last known commit stands.
        }
      }),
    )
    if (this.entries.size > 0) this.emit('changed')
  }

  /** A free client/peer port pair for a new joined node. */
  private async ports(): Promise<number> {
    const used = new Set(
      [...this.entries.values()].map((e) =>
        e.node ? Number(e.node.endpoint.split(':').pop()) : (e.port ?? 0),
      ),
    )
    for (let i = 0; i < 50; i++) {
      const port = this.options.portBase + 100 * i
      if (port + 1 > 65535) break
      if (used.has(port)) continue
      if ((await firstTakenPort('127.0.0.1', [port, port + 1])) === null) return port
    }
    throw new JoinError('NO_PORTS', `no free port pair from ${this.options.portBase} up`)
  }

  private defaultName(): string {
    const base = (hostname().split('.')[0] ?? 'raftdesk').replace(/[^A-Za-z0-9._-]/g, '-')
    for (let i = 1; ; i++) {
      const name = `${base || 'raftdesk'}-${i}`
      if (!this.entries.has(name) && !existsSync(joinPath(this.options.dir, name))) return name
    }
  }

  /**
   * Joins a remote cluster as a learner and starts the node. Everything that can be checked is
   * checked before the cluster is changed (join.ts); a failure after that is kept on the entry,
   * so the member can still be removed with leave().
   */
  async join(req: JoinRequest): Promise<JoinedMember> {
    clientEndpointForPeer(req.peer)
    if (req.token === '') throw new ValidationError('NO_TOKEN', 'the cluster token is required')
    const name = req.name?.trim() || this.defaultName()
    if (!MEMBER_NAME_RE.test(name)) {
      throw new ValidationError(
        'INVALID_MEMBER_NAME',
        `a member name is ${MEMBER_NAME_RULE}, got ${JSON.stringify(name)}`,
      )
    }
    if (this.entries.has(name) || existsSync(joinPath(this.options.dir, name))) {
      throw new ValidationError('NAME_TAKEN', `this machine already has a member named ${name}`)
    }
    const entry: Entry = { name, peer: req.peer, node: null, clusterCommit: 0 }
    this.entries.set(name, entry)
    this.emit('changed')
    const dataDir = joinPath(this.options.dir, name)
    try {
      // Picked one join at a time and held on the entry, so two joins get different ports.
      const pick = this.portQueue.then(async () => (entry.port = await this.ports()))
      this.portQueue = pick.then(
        () => undefined,
        () => undefined,
      )
      const port = await pick
      entry.node = await JoinedNode.join({
        peer: req.peer,
        token: req.token,
        name,
        dataDir,
        host: req.advertiseHost?.trim() || advertiseHostFor(req.peer),
        clientPort: port,
        launcher: this.launcher,
        ...(req.clusterId === undefined ? {} : { expectClusterId: req.clusterId }),
      })
    } catch (err) {
      // Refused before anything changed: nothing to keep.
      if (!existsSync(joinPath(dataDir, 'join.json'))) {
        this.entries.delete(name)
        await rm(dataDir, { recursive: true, force: true })
        this.emit('changed')
        throw err
      }
      // A member now, that did not start: kept, so it can be started again or leave.
      entry.node = await JoinedNode.load(dataDir, this.launcher)
      entry.error = (err as Error).message
    }
    this.emit('changed')
    return this.info(entry)
  }

  private entry(name: string): Entry & { node: JoinedNode } {
    const e = this.entries.get(name)
    if (!e) throw new ValidationError('UNKNOWN_MEMBER', `this machine has no member named ${name}`)
    if (!e.node)
      throw new JoinError('NOT_JOINED', `${name} has not joined (${e.error ?? 'joining'})`)
    return e as Entry & { node: JoinedNode }
  }

  /** How to reach a joined member's cluster: the member's own endpoint and the cluster token. */
  adminOf(name: string): { endpoint: string; token: string } | null {
    const node = this.entries.get(name)?.node
    return node?.running ? { endpoint: node.endpoint, token: node.token } : null
  }

  /** Asks the leader to make this learner a voter (refused while it trails). */
  async promote(name: string): Promise<void> {
    await this.entry(name).node.promote(0)
    this.emit('changed')
  }

  /** Starts a stopped joined node again. */
  async start(name: string): Promise<void> {
    const e = this.entry(name)
    delete e.error
    try {
      await e.node.start()
    } catch (err) {
      e.error = (err as Error).message
      throw err
    } finally {
      this.emit('changed')
    }
  }

  /**
   * Leaves the cluster: the leader removes the member, the node stops, and its data moves to
   * <dir>/removed/. A member whose cluster cannot be reached stays (say so; try again).
   */
  async leave(name: string): Promise<void> {
    const e = this.entry(name)
    await e.node.leave()
    this.entries.delete(name)
    const removed = joinPath(this.options.dir, 'removed')
    await mkdir(removed, { recursive: true })
    const stamp = new Date().toISOString().replace(/[:.]/g, '-')
    await rename(joinPath(this.options.dir, name), joinPath(removed, `${name}-${stamp}`))
    this.emit('changed')
  }

  /** Stops every joined node (they stay members; the next open starts them again). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    await Promise.all([...this.entries.values()].map((e) => e.node?.stop()))
  }
}
