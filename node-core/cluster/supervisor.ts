/**
 * The local-cluster supervisor: runs N raftdesk nodes as separate processes on one machine,
 * watches them, and injects faults. Used by `raftdesk serve`, by the desktop app and by tests.
 *
 * Layout: node i (1-based) is named n<i>, serves etcd v3 on clientPort + 100·(i−1) and its peers
 * on that + 1, and keeps its data in <dataDir>/n<i>. <dataDir>/cluster.json records the cluster
 * as it was created (names, URLs, the cluster token); a restart on the same directory uses it,
 * so the cluster comes back as it was, and refuses flags that contradict it.
 *
 * Faults: kill (SIGKILL), pause/resume (SIGSTOP/SIGCONT), restart, and link faults (cut both
 * ways or one way, delay, loss) applied by the nodes' transports, healed with heal().
 *
 * Membership: addNode() adds the next n<i> as a learner (it joins through the leader and catches
 * up), promote() makes it a voter, removeNode() takes a member out (its data is moved to
 * <dataDir>/removed/). setTimeouts() changes the election and heartbeat timeouts by restarting
 * the nodes one at a time, data kept. cluster.json records both, so a restart comes back as left.
 */
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ValidationError } from '../errors'
import type { RaftEvent } from '../../contract'
import { EventRing } from '../server/events'
import type { Member } from '../kernel/member'
import { writeFileAtomic } from '../kernel/fs'
import { firstTakenPort } from './ports'
import { ForkLauncher, type NodeLauncher } from './launcher'
import { NodeCommandError, NodeProcess } from './node-process'
import { timeoutTicks } from './protocol'
import type {
  ClusterMemberSpec,
  NodeArgs,
  NodeCall,
  NodeProcessConfig,
  NodeResult,
  NodeStatus,
} from './protocol'

export interface LocalClusterOptions {
  nodes: number
  dataDir: string
  host: string
  clientPort: number
  tickMs: number
  electionMsMin: number
  electionMsMax: number
  heartbeatMs: number
  snapshotCount: number
  /** Entries kept in the log behind a snapshot (undefined: the node's default). */
  snapshotCatchUpEntries?: number
  /** A per-client rate limit on every member's client port (undefined: none). */
  rateLimit?: { rps: number; burst: number }
  /** etcd's server settings for every member (protocol.ts; undefined: etcd's defaults). */
  etcd?: NodeProcessConfig['etcd']
  statusIntervalMs: number
  logLevel: NodeProcessConfig['logLevel']
  launcher: NodeLauncher
  /** How long a node may take to start serving before start() gives up. */
  startTimeoutMs: number
  /** How long a stopping node may take before it is killed. */
  stopTimeoutMs: number
  /** Told of every node's state change, from the first start on (a window showing progress). */
  onNodeState?: (name: string, state: NodeState) => void
}

export const LOCAL_CLUSTER_DEFAULTS: Omit<LocalClusterOptions, 'dataDir' | 'launcher'> = {
  nodes: 3,
  host: '127.0.0.1',
  clientPort: 2379,
  tickMs: 10,
  electionMsMin: 150,
  electionMsMax: 300,
  heartbeatMs: 50,
  snapshotCount: 10_000,
  statusIntervalMs: 100,
  logLevel: 'info',
  startTimeoutMs: 30_000,
  stopTimeoutMs: 10_000,
}

export type NodeState = 'starting' | 'running' | 'paused' | 'stopping' | 'stopped' | 'crashed'

export interface ManagedNodeInfo {
  name: string
  id: number
  clientUrl: string
  peerUrl: string
  /** host:port, as etcdctl --endpoints wants it. */
  endpoint: string
  peer: string
  dataDir: string
  pid: number | null
  state: NodeState
  status: NodeStatus | null
}

/** The election and heartbeat timeouts, which the window may change. */
export interface RaftTimeouts {
  electionMsMin: number
  electionMsMax: number
  heartbeatMs: number
}

const TIMEOUT_KEYS = ['electionMsMin', 'electionMsMax', 'heartbeatMs'] as const

/** Members a local cluster may have at most (the port layout gives each a block of 100). */
export const LOCAL_CLUSTER_MAX_MEMBERS = 9

interface SavedMember extends ClusterMemberSpec {
  /** Added after the cluster was created: what the cluster answered (the node starts by joining). */
  joined?: { memberId: number; clusterId: number; members: Member[] }
}

interface ClusterFile {
  version: 1
  token: string
  /** Members the cluster was created with (--nodes); absent in files older than addNode. */
  nodes?: number
  members: SavedMember[]
  host: string
  clientPort: number
  /** Timeouts set from the window; timeouts given as flags win and replace them. */
  timeouts?: RaftTimeouts
}

interface ManagedNode {
  spec: SavedMember
  dataDir: string
  proc: NodeProcess | null
  id: number
  state: NodeState
  status: NodeStatus | null
}

export { NodeCommandError }

export interface LocalClusterEvents {
  status: [name: string, status: NodeStatus]
  state: [name: string, state: NodeState]
  /** Something happened: a node's raft event, or a process change or fault made here. */
  event: [event: RaftEvent]
  exit: [name: string, code: number | null, signal: NodeJS.Signals | null]
}

/** The name of the local cluster's member i (0-based): n1, n2, ... */
export function localMemberName(i: number): string {
  return `n${i + 1}`
}

export class LocalCluster extends EventEmitter<LocalClusterEvents> {
  readonly options: LocalClusterOptions
  private readonly nodes = new Map<string, ManagedNode>()
  private token = ''
  private file: ClusterFile | null = null
  /** Every node's events and the supervisor's own, in the order they arrived. */
  readonly events = new EventRing('')
  /** Links cut here, as "from>to" (messages from `from` to `to` are dropped). */
  private readonly cuts = new Set<string>()
  /** Links slowed or made lossy here, "from>to" to the fault. */
  private readonly slow = new Map<string, { delayMs: number; lossRate: number }>()

  private constructor(options: LocalClusterOptions) {
    super()
    this.options = options
  }

  /** Creates or reopens the cluster in options.dataDir and starts every node. */
  static async start(
    partial: Partial<LocalClusterOptions> & { dataDir: string },
  ): Promise<LocalCluster> {
    const options: LocalClusterOptions = {
      ...LOCAL_CLUSTER_DEFAULTS,
      launcher: new ForkLauncher(),
      ...partial,
    }
    validateOptions(options)
    const cluster = new LocalCluster(options)
    await cluster.prepare(TIMEOUT_KEYS.filter((k) => partial[k] !== undefined))
    try {
      await Promise.all([...cluster.nodes.keys()].map((name) => cluster.startNode(name)))
    } catch (err) {
      await cluster.stop().catch(() => undefined)
      throw err
    }
    return cluster
  }

  private async prepare(explicitTimeouts: ReadonlyArray<keyof RaftTimeouts>): Promise<void> {
    const o = this.options
    await mkdir(o.dataDir, { recursive: true })
    const file = join(o.dataDir, 'cluster.json')
    let saved: ClusterFile | null = null
    try {
      saved = JSON.parse(await readFile(file, 'utf8')) as ClusterFile
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new ValidationError(
          'BAD_CLUSTER_FILE',
          `${file} is unreadable: ${(err as Error).message}`,
        )
      }
    }
    if (saved) {
      // Files from before members could be added: what they list is what they were created with.
      saved.nodes ??= saved.members.length
      const created = saved.nodes
      if (created !== o.nodes || saved.clientPort !== o.clientPort || saved.host !== o.host) {
        throw new ValidationError(
          'CLUSTER_MISMATCH',
          `${o.dataDir} holds a cluster created with ${created} nodes on ${saved.host}:${saved.clientPort}; ` +
            `start it with --nodes ${created} --client-port ${saved.clientPort}, or use another --data-dir`,
        )
      }
      // Timeouts chosen in the window stand unless flags say otherwise; flags replace them.
      if (saved.timeouts) {
        for (const k of TIMEOUT_KEYS) if (!explicitTimeouts.includes(k)) o[k] = saved.timeouts[k]
        validateOptions(o)
        if (explicitTimeouts.length > 0) {
          saved.timeouts = pickTimeouts(o)
          await writeFileAtomic(file, JSON.stringify(saved, null, 2), 0o600)
        }
      }
    } else {
      const members = Array.from({ length: o.nodes }, (_, i) => ({
        name: localMemberName(i),
        clientUrl: `http://${o.host}:${o.clientPort + 100 * i}`,
        peerUrl: `http://${o.host}:${o.clientPort + 100 * i + 1}`,
      }))
      saved = {
        version: 1,
        token: randomBytes(16).toString('hex'),
        nodes: o.nodes,
        members,
        host: o.host,
        clientPort: o.clientPort,
      }
      await writeFile(`${file}.tmp`, JSON.stringify(saved, null, 2), { mode: 0o600 })
      await rename(`${file}.tmp`, file)
    }
    this.token = saved.token
    this.file = saved
    for (const spec of saved.members) {
      this.nodes.set(spec.name, {
        spec,
        dataDir: join(o.dataDir, spec.name),
        proc: null,
        id: 0,
        state: 'stopped',
        status: null,
      })
    }
  }

  get clusterToken(): string {
    return this.token
  }

  names(): string[] {
    return [...this.nodes.keys()]
  }

  info(name: string): ManagedNodeInfo {
    const n = this.node(name)
    return {
      name,
      id: n.id,
      clientUrl: n.spec.clientUrl,
      peerUrl: n.spec.peerUrl,
      endpoint: n.spec.clientUrl.replace(/^http:\/\//, ''),
      peer: n.spec.peerUrl.replace(/^http:\/\//, ''),
      dataDir: n.dataDir,
      pid: n.proc?.pid ?? null,
      state: n.state,
      status: n.status,
    }
  }

  list(): ManagedNodeInfo[] {
    return this.names().map((n) => this.info(n))
  }

  /** Starts (or restarts) one node process and resolves once it serves clients. */
  async startNode(name: string): Promise<void> {
    const n = this.node(name)
    if (n.proc && n.state !== 'crashed' && n.state !== 'stopped') return
    const o = this.options
    const joined = n.spec.joined
    const config: NodeProcessConfig = {
      name,
      dataDir: n.dataDir,
      clientUrl: n.spec.clientUrl,
      peerUrl: n.spec.peerUrl,
      // The members the cluster was created with; a member added later joins instead.
      initialCluster: [...this.nodes.values()]
        .filter((m) => !m.spec.joined)
        .map(({ spec }) => ({ name: spec.name, clientUrl: spec.clientUrl, peerUrl: spec.peerUrl })),
      ...(joined
        ? {
            clusterState: 'existing' as const,
            existingMembers: joined.members,
            memberId: joined.memberId,
            clusterId: joined.clusterId,
          }
        : { clusterState: 'new' as const }),
      token: this.token,
      tickMs: o.tickMs,
      electionMsMin: o.electionMsMin,
      electionMsMax: o.electionMsMax,
      heartbeatMs: o.heartbeatMs,
      snapshotCount: o.snapshotCount,
      ...(o.snapshotCatchUpEntries === undefined
        ? {}
        : { snapshotCatchUpEntries: o.snapshotCatchUpEntries }),
      ...(o.rateLimit ? { rateLimit: o.rateLimit } : {}),
      ...(o.etcd ? { etcd: o.etcd } : {}),
      statusIntervalMs: o.statusIntervalMs,
      logLevel: o.logLevel,
    }
    const proc = NodeProcess.launch(o.launcher, config, (status, events) => {
      n.status = status
      n.id = status.id
      for (const e of events) this.emit('event', this.events.add({ ...e, node: name }))
      this.emit('status', name, status)
    })
    n.proc = proc
    // A new process starts with whole links: the cuts it made are gone with the old one.
    for (const c of [...this.cuts]) if (c.startsWith(`${name}>`)) this.cuts.delete(c)
    for (const c of [...this.slow.keys()]) if (c.startsWith(`${name}>`)) this.slow.delete(c)
    this.setState(n, 'starting')
    void proc.exited.then(({ code, signal }) => {
      if (n.proc === proc) {
        n.proc = null
        const clean = n.state === 'stopping' || (code === 0 && signal === null)
        this.setState(n, clean ? 'stopped' : 'crashed')
      }
      this.emit('exit', name, code, signal)
    })
    n.id = await proc.waitReady(o.startTimeoutMs)
    this.setState(n, 'running')
  }

  private setState(n: ManagedNode, state: NodeState): void {
    if (n.state === state) return
    n.state = state
    this.record(n.spec.name, 'process', PROCESS_STATE_TEXT[state])
    this.options.onNodeState?.(n.spec.name, state)
    this.emit('state', n.spec.name, state)
  }

  /** A link joins two different, known nodes. */
  private checkLink(a: string, b: string): void {
    this.node(a)
    this.node(b)
    if (a === b) throw new ValidationError('BAD_LINK', 'a link joins two different nodes')
  }

  /** Records an event of the supervisor's own (a process change, a fault it applied). */
  record(node: string, kind: RaftEvent['kind'], text: string): void {
    const term = Math.max(0, ...[...this.nodes.values()].map((m) => m.status?.term ?? 0))
    this.emit('event', this.events.add({ atMs: Date.now(), node, kind, term, text }))
  }

  private node(name: string): ManagedNode {
    const n = this.nodes.get(name)
    if (!n)
      throw new ValidationError(
        'UNKNOWN_NODE',
        `no node named ${JSON.stringify(name)} (have ${this.names().join(', ')})`,
      )
    return n
  }

  /** Sends a call to a node process and waits for its answer. */
  request<K extends NodeCall>(
    name: string,
    call: K,
    args: NodeArgs<K>,
    timeoutMs = 10_000,
  ): Promise<NodeResult<K>> {
    const n = this.node(name)
    if (!n.proc || n.state === 'paused') {
      return Promise.reject(new NodeCommandError('NODE_NOT_RUNNING', `${name} is ${n.state}`))
    }
    return n.proc.request(call, args, timeoutMs)
  }

  async status(name: string): Promise<NodeStatus> {
    const s = await this.request(name, 'status', {})
    const n = this.node(name)
    n.status = s
    return s
  }

  /** The current leader's name, as the running nodes see it (a majority must agree). */
  async leader(): Promise<string | null> {
    const running = this.names().filter((x) => this.node(x).state === 'running')
    const statuses = await Promise.all(running.map((x) => this.status(x).catch(() => null)))
    // A majority of the voters the claimed leader knows must follow it (learners do not count).
    const votes = new Map<number, number>()
    for (const s of statuses) if (s && s.lead !== 0) votes.set(s.lead, (votes.get(s.lead) ?? 0) + 1)
    for (const [id, count] of votes) {
      const leader = statuses.find((s) => s?.id === id && s.role === 'leader')
      if (!leader) continue
      const voters = new Set(leader.confState.voters)
      const following = statuses.filter((s) => s && s.lead === id && voters.has(s.id)).length
      const quorum = Math.floor(Math.max(1, voters.size) / 2) + 1
      if (count > 0 && following >= quorum) return leader.name
    }
    return null
  }

  async waitForLeader(timeoutMs = 15_000, notName?: string): Promise<string> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const name = await this.leader()
      if (name && name !== notName) return name
      if (Date.now() > deadline) {
        throw new NodeCommandError('NO_LEADER', `no leader within ${timeoutMs} ms`)
      }
      await sleep(25)
    }
  }

  /** The links cut now: messages from `from` to `to` are dropped. */
  cutLinks(): Array<{ from: string; to: string }> {
    return [...this.cuts].map((c) => {
      const [from, to] = c.split('>') as [string, string]
      return { from, to }
    })
  }

  /** Every link with a fault applied from here: cut, delayed or lossy (from `from` to `to`). */
  linkFaults(): Array<{
    from: string
    to: string
    cut: boolean
    delayMs: number
    lossRate: number
  }> {
    const keys = new Set([...this.cuts, ...this.slow.keys()])
    return [...keys].sort().map((k) => {
      const [from, to] = k.split('>') as [string, string]
      const s = this.slow.get(k)
      return {
        from,
        to,
        cut: this.cuts.has(k),
        delayMs: s?.delayMs ?? 0,
        lossRate: s?.lossRate ?? 0,
      }
    })
  }

  /** Calls `listener` whenever a node's status, a process state or an event arrives. */
  subscribe(listener: () => void): () => void {
    const l = () => listener()
    this.on('status', l)
    this.on('state', l)
    this.on('event', l)
    return () => {
      this.off('status', l)
      this.off('state', l)
      this.off('event', l)
    }
  }

  /** A window of a node's log, decoded (the admin port's `log`). */
  nodeLog(name: string, args: NodeArgs<'log'>): Promise<NodeResult<'log'>> {
    return this.request(name, 'log', args)
  }

  /** Saves a snapshot on `name` now; resolves with its index. */
  async snapshot(name: string): Promise<number> {
    return (await this.request(name, 'snapshot', {})).index
  }

  // -----------------------------------------------------------------------------------------------
  // Elections

  /**
   * The node starts an election now. Forced (the default), it runs as a transfer's campaign and
   * the voters set the leader lease aside, so it wins if its log is up to date; unforced, a
   * healthy leader's followers ignore it (pre-vote and the lease), as Raft intends.
   */
  async campaign(name: string, force = true): Promise<void> {
    this.node(name)
    this.record(name, 'action', force ? 'asked to campaign' : 'asked to campaign (lease kept)')
    await this.request(name, 'campaign', { force })
  }

  /** The leader hands leadership to `name` (TimeoutNow): no election timeout is waited for. */
  async transferLeadership(name: string): Promise<void> {
    this.node(name)
    const leader = await this.leader()
    if (!leader) throw new NodeCommandError('NO_LEADER', 'there is no leader to hand over')
    if (leader === name) return
    const to = await this.idOf(name)
    this.record(name, 'action', `leadership transfer from ${leader} asked`)
    await this.request(leader, 'transferLeadership', { to })
  }

  // -----------------------------------------------------------------------------------------------
  // Faults

  /** kill -9: the process dies at once, losing whatever it had not made durable. */
  kill(name: string): Promise<void> {
    const n = this.node(name)
    const proc = n.proc
    if (!proc) return Promise.resolve()
    if (n.state === 'paused') proc.signal('SIGCONT')
    this.record(name, 'fault', 'killed (SIGKILL)')
    proc.signal('SIGKILL')
    return proc.exited.then(() => undefined)
  }

  pause(name: string): void {
    const n = this.node(name)
    if (!n.proc || n.state !== 'running') {
      throw new NodeCommandError('NODE_NOT_RUNNING', `${name} is ${n.state}`)
    }
    this.record(name, 'fault', 'paused (SIGSTOP)')
    n.proc.signal('SIGSTOP')
    this.setState(n, 'paused')
  }

  resume(name: string): void {
    const n = this.node(name)
    if (!n.proc || n.state !== 'paused') return
    n.proc.signal('SIGCONT')
    this.setState(n, 'running')
  }

  async restart(name: string): Promise<void> {
    await this.kill(name)
    await this.startNode(name)
  }

  /** Cuts the link between two nodes, both ways or only from `a` to `b`. */
  async cutLink(a: string, b: string, oneWay = false): Promise<void> {
    this.checkLink(a, b)
    const idA = await this.idOf(a)
    const idB = await this.idOf(b)
    // A link's fault is replaced as a whole by the transport: a cut ends any delay or loss.
    await this.request(a, 'linkFault', { peer: idB, drop: true, direction: 'send' })
    this.cuts.add(`${a}>${b}`)
    this.slow.delete(`${a}>${b}`)
    if (!oneWay) {
      await this.request(b, 'linkFault', { peer: idA, drop: true, direction: 'send' })
      this.cuts.add(`${b}>${a}`)
      this.slow.delete(`${b}>${a}`)
    }
  }

  /** Isolates `group` from every other node (a partition). */
  async partition(group: string[]): Promise<void> {
    await this.partitionGroups([group, this.names().filter((n) => !group.includes(n))])
  }

  /**
   * Cuts every link between nodes of different groups (nodes in no group keep their links).
   * A node that is not running keeps its links: it has none to cut.
   */
  async partitionGroups(groups: string[][]): Promise<void> {
    const seen = new Set<string>()
    for (const g of groups) {
      for (const name of g) {
        this.node(name)
        if (seen.has(name)) {
          throw new ValidationError('BAD_PARTITION', `${name} is in more than one group`)
        }
        seen.add(name)
      }
    }
    const running = (name: string) => this.node(name).state === 'running'
    for (let i = 0; i < groups.length; i++) {
      for (let j = i + 1; j < groups.length; j++) {
        for (const a of groups[i]!.filter(running)) {
          for (const b of groups[j]!.filter(running)) await this.cutLink(a, b)
        }
      }
    }
    const text = groups.map((g) => `{${g.join(', ')}}`).join(' | ')
    this.record('', 'fault', `partitioned ${text}`)
  }

  async setLinkFault(
    a: string,
    b: string,
    fault: { delayMs?: number; lossRate?: number },
  ): Promise<void> {
    this.checkLink(a, b)
    const idB = await this.idOf(b)
    // The transport replaces the link's fault as a whole: a cut link stays cut.
    const cut = this.cuts.has(`${a}>${b}`)
    await this.request(a, 'linkFault', { peer: idB, ...fault, drop: cut, direction: 'send' })
    const delayMs = fault.delayMs ?? 0
    const lossRate = fault.lossRate ?? 0
    if (delayMs === 0 && lossRate === 0) this.slow.delete(`${a}>${b}`)
    else this.slow.set(`${a}>${b}`, { delayMs, lossRate })
    // The node records the fault it applied (events.ts): no second event from here.
  }

  /**
   * Heals every running node's links. A paused or stopped node keeps the faults it holds (a
   * paused one gets them back when it resumes), and they stay listed until it is healed.
   */
  async heal(): Promise<void> {
    const running = this.names().filter((n) => this.node(n).state === 'running')
    const results = await Promise.allSettled(running.map((n) => this.request(n, 'healLinks', {})))
    const healed = running.filter((_, i) => results[i]!.status === 'fulfilled')
    for (const set of [this.cuts, this.slow]) {
      for (const key of [...set.keys()])
        if (healed.some((n) => key.startsWith(`${n}>`))) set.delete(key)
    }
    const left = running.filter((n) => !healed.includes(n))
    this.record(
      '',
      'fault',
      left.length === 0 ? 'healed every link' : `healed every link but ${left.join(', ')}'s`,
    )
    const failed = results.find((r) => r.status === 'rejected')
    if (failed) throw (failed as PromiseRejectedResult).reason
  }

  private async idOf(name: string): Promise<number> {
    const n = this.node(name)
    if (n.id === 0) n.id = (await this.status(name)).id
    return n.id
  }

  // -----------------------------------------------------------------------------------------------
  // Membership and timing

  private async saveFile(): Promise<void> {
    const file = this.file!
    file.members = [...this.nodes.values()].map((n) => n.spec)
    // It holds the cluster token: the owner's alone.
    await writeFileAtomic(
      join(this.options.dataDir, 'cluster.json'),
      JSON.stringify(file, null, 2),
      0o600,
    )
  }

  private async leaderForChange(): Promise<string> {
    const leader = await this.leader()
    if (!leader) {
      throw new NodeCommandError(
        'NO_LEADER',
        'the cluster has no leader now: membership changes need one (heal or start nodes first)',
      )
    }
    return leader
  }

  /**
   * Adds the next local node (n<i>, on the next block of ports) as a learner and starts it: it
   * joins through the leader, catches up (a snapshot when the log no longer reaches back), and
   * votes once promote()d. Resolves with its name once it serves clients.
   */
  async addNode(): Promise<string> {
    if (this.nodes.size >= LOCAL_CLUSTER_MAX_MEMBERS) {
      throw new ValidationError(
        'TOO_MANY_MEMBERS',
        `a local cluster has at most ${LOCAL_CLUSTER_MAX_MEMBERS} members; remove one first`,
      )
    }
    const o = this.options
    // The lowest free number: names and ports stay within the nine blocks of the layout. A
    // number whose directory is still there (a member removed by hand) is skipped.
    let i = 0
    while (this.nodes.has(localMemberName(i)) || existsSync(join(o.dataDir, localMemberName(i))))
      i++
    const clientPort = o.clientPort + 100 * i
    if (clientPort + 1 > 65535) {
      throw new ValidationError('NO_PORTS', `no ports left above ${o.clientPort} for another node`)
    }
    const taken = await firstTakenPort(o.host, [clientPort, clientPort + 1])
    if (taken !== null) {
      throw new ValidationError(
        'PORT_IN_USE',
        `port ${taken} on ${o.host} is in use by another program; the new node needs ${clientPort} and ${clientPort + 1}`,
      )
    }
    const name = localMemberName(i)
    const spec: SavedMember = {
      name,
      clientUrl: `http://${o.host}:${clientPort}`,
      peerUrl: `http://${o.host}:${clientPort + 1}`,
    }
    const leader = await this.leaderForChange()
    let answer: SavedMember['joined']
    try {
      answer = await this.request(
        leader,
        'memberAdd',
        { name, peerUrls: [spec.peerUrl], clientUrls: [spec.clientUrl] },
        15_000,
      )
    } catch (err) {
      // A change that timed out may still have committed: adopt the member if the cluster has it.
      const s = await this.status(leader).catch(() => null)
      const added = s?.members.find((m) => m.name === name && m.peerUrls.includes(spec.peerUrl))
      if (!s || !added) throw err
      answer = { memberId: added.id, clusterId: s.clusterId, members: s.members }
    }
    spec.joined = answer
    this.nodes.set(name, {
      spec,
      dataDir: join(o.dataDir, name),
      proc: null,
      id: answer.memberId,
      state: 'stopped',
      status: null,
    })
    await this.saveFile()
    this.record(name, 'action', `added as a learner through ${leader}`)
    await this.startNode(name)
    return name
  }

  /** Makes a learner a voter; the leader refuses while it is not caught up. */
  async promote(name: string): Promise<void> {
    const id = await this.idOf(name)
    const leader = await this.leaderForChange()
    this.record(name, 'action', 'promotion to voter asked')
    await this.request(leader, 'memberPromote', { id }, 15_000)
  }

  /**
   * Removes a member from the cluster, stops its process and moves its data to
   * <dataDir>/removed/<name>-<time> (nothing is deleted). The last voter cannot be removed.
   */
  async removeNode(name: string): Promise<void> {
    const n = this.node(name)
    const id = await this.idOf(name)
    let leader = await this.leaderForChange()
    const voters = this.node(leader).status?.confState.voters ?? []
    if (voters.length === 1 && voters[0] === id) {
      throw new ValidationError('LAST_VOTER', `${name} is the only voter: a cluster needs one`)
    }
    if (leader === name) {
      // A leader that removes itself learns that the removal committed only if the next leader
      // tells it before dropping it (it may not: then it stops with "server stopped" and the
      // call fails although the removal happened). Hand leadership over first and ask the new
      // leader, which answers once it has applied the removal.
      const to = voters.find((v) => v !== id)
      if (to !== undefined) {
        await this.request(name, 'transferLeadership', { to })
        leader = await this.waitForLeader(15_000, name)
      }
    }
    this.record(name, 'action', 'removal from the cluster asked')
    await this.request(leader, 'memberRemove', { id }, 15_000).catch((err: NodeCommandError) => {
      // Removed already (elsewhere, or by a call that timed out but committed): finish here.
      if (err.code !== 'MEMBER_NOT_FOUND') throw err
    })
    await this.stopNode(name, false).catch(() => undefined)
    await n.proc?.exited
    this.nodes.delete(name)
    for (const set of [this.cuts, this.slow]) {
      for (const key of [...set.keys()]) {
        if (key.startsWith(`${name}>`) || key.endsWith(`>${name}`)) set.delete(key)
      }
    }
    await this.saveFile()
    const removed = join(this.options.dataDir, 'removed')
    await mkdir(removed, { recursive: true })
    const stamp = new Date().toISOString().replace(/[:.]/g, '-')
    await rename(n.dataDir, join(removed, `${name}-${stamp}`)).catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err
      },
    )
    this.record(name, 'action', 'removed from the cluster (its data kept under removed/)')
  }

  readonly maxMembers = LOCAL_CLUSTER_MAX_MEMBERS

  /** The election and heartbeat timeouts the nodes run with. */
  timeouts(): RaftTimeouts {
    return pickTimeouts(this.options)
  }

  /**
   * New election and heartbeat timeouts: each running node is restarted with them one at a time
   * (followers first, the leader last, handing over), and the next waits until the restarted one
   * follows the leader again, so the cluster keeps its quorum. They are saved once every restart
   * went through; when one fails, the nodes restarted so far go back to the previous timeouts.
   * A paused or stopped node takes them when it next starts.
   */
  async setTimeouts(t: RaftTimeouts): Promise<void> {
    const next = pickTimeouts(t)
    validateOptions({ ...this.options, ...next })
    const previous = pickTimeouts(this.options)
    const text = (x: RaftTimeouts) =>
      `election ${x.electionMsMin}-${x.electionMsMax} ms, heartbeat ${x.heartbeatMs} ms`
    this.record('', 'action', `timeouts set to ${text(next)}: restarting nodes one by one`)
    const leader = await this.leader()
    const order = this.names()
      .filter((name) => this.node(name).state === 'running')
      .sort((a, b) => Number(a === leader) - Number(b === leader))
    const restarted: string[] = []
    Object.assign(this.options, next)
    try {
      for (const name of order) {
        restarted.push(name)
        await this.restartWithOptions(name)
      }
    } catch (err) {
      Object.assign(this.options, previous)
      this.record(
        '',
        'action',
        `timeouts not applied (${(err as Error).message}): back to ${text(previous)}`,
      )
      for (const name of restarted) await this.restartWithOptions(name).catch(() => undefined)
      throw err
    }
    this.file!.timeouts = next
    await this.saveFile()
  }

  /** Stops a node (handing over if it leads), starts it, and waits until it follows again. */
  private async restartWithOptions(name: string): Promise<void> {
    await this.stopNode(name, true)
    await this.node(name).proc?.exited
    await this.startNode(name)
    const deadline = Date.now() + this.options.startTimeoutMs
    for (;;) {
      // Asked of the new process itself: it follows (or is) the leader a majority follows.
      const leader = await this.leader()
      const own = await this.status(name).catch(() => null)
      if (leader && own && own.lead !== 0 && own.lead === this.node(leader).id) return
      if (Date.now() > deadline) {
        throw new NodeCommandError('NOT_REJOINED', `${name} did not follow a leader again in time`)
      }
      await sleep(50)
    }
  }

  // -----------------------------------------------------------------------------------------------
  // Stopping

  /** Stops one node cleanly (a leader hands over first); kills it if it does not exit in time. */
  async stopNode(name: string, transferLeadership = true): Promise<void> {
    const n = this.node(name)
    const proc = n.proc
    if (!proc) return
    if (n.state === 'paused') this.resume(name)
    this.setState(n, 'stopping')
    await proc.stop(transferLeadership, this.options.stopTimeoutMs)
  }

  /** Stops every node: the leader first (handing over), then the others. */
  async stop(): Promise<void> {
    const leader = await this.leader().catch(() => null)
    if (leader) await this.stopNode(leader, true)
    await Promise.all(this.names().map((n) => this.stopNode(n, false)))
  }
}

const PROCESS_STATE_TEXT: Record<NodeState, string> = {
  starting: 'process starting',
  running: 'process running',
  paused: 'process paused',
  stopping: 'process stopping',
  stopped: 'process stopped',
  crashed: 'process exited unexpectedly',
}

function pickTimeouts(o: RaftTimeouts): RaftTimeouts {
  return {
    electionMsMin: o.electionMsMin,
    electionMsMax: o.electionMsMax,
    heartbeatMs: o.heartbeatMs,
  }
}

function validateOptions(o: LocalClusterOptions): void {
  const bad = (msg: string) => {
    throw new ValidationError('BAD_OPTION', msg)
  }
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > 9)
    bad(`--nodes must be 1 to 9, got ${o.nodes}`)
  if (
    !Number.isInteger(o.clientPort) ||
    o.clientPort < 1 ||
    o.clientPort + 100 * (o.nodes - 1) + 1 > 65535
  ) {
    bad(`--client-port ${o.clientPort} leaves no room for ${o.nodes} nodes (ports up to 65535)`)
  }
  if (!(o.electionMsMin > 0 && o.electionMsMax > o.electionMsMin)) {
    bad(
      `--election-ms must be MIN-MAX with 0 < MIN < MAX, got ${o.electionMsMin}-${o.electionMsMax}`,
    )
  }
  if (!(o.heartbeatMs > 0 && o.heartbeatMs < o.electionMsMin)) {
    bad(
      `--heartbeat-ms must be above 0 and below the election timeout (${o.electionMsMin}), got ${o.heartbeatMs}`,
    )
  }
  if (o.electionMsMin / o.tickMs < 2)
    bad(`the election timeout must be at least two ticks of ${o.tickMs} ms`)
  // The nodes count in ticks: what differs in milliseconds must still differ once rounded.
  const ticks = timeoutTicks(o)
  if (ticks.electionTicksMax <= ticks.electionTicksMin) {
    bad(
      `--election-ms ${o.electionMsMin}-${o.electionMsMax} is narrower than a tick of ${o.tickMs} ms: widen the range`,
    )
  }
  if (ticks.heartbeatTicks >= ticks.electionTicksMin) {
    bad(
      `--heartbeat-ms ${o.heartbeatMs} must be at least a tick (${o.tickMs} ms) below the election timeout ${o.electionMsMin}`,
    )
  }
  if (!Number.isInteger(o.snapshotCount) || o.snapshotCount < 1) {
    bad(`--snapshot-count must be a positive integer, got ${o.snapshotCount}`)
  }
  if (o.rateLimit && !(o.rateLimit.rps > 0 && Number.isFinite(o.rateLimit.rps))) {
    bad(`--rate-limit-rps must be a positive number, got ${o.rateLimit.rps}`)
  }
  if (o.rateLimit && !(Number.isInteger(o.rateLimit.burst) && o.rateLimit.burst >= 1)) {
    bad(`--rate-limit-burst must be a positive integer, got ${o.rateLimit.burst}`)
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
