/**
 * The deterministic whole-cluster simulator: raft nodes, a faulty network, crashing disks and
 * clients, all in virtual time and all driven by one seeded PRNG, so that a run is a pure
 * function of its options. A violation found with seed S is found again with seed S.
 *
 * What is simulated:
 * - Nodes: a RawNode each, over a MemoryStorage that stands for the node's disk. A Ready is
 *   persisted after a (random, slow-node-scaled) disk delay; a crash before that loses it, and a
 *   restart rebuilds the node from its disk only: what was not persisted is gone. The state
 *   machine (kv.ts) is rebuilt from the disk's snapshot and the committed log, as a real node
 *   rebuilds from its snap file and WAL. A leader sends its appends while its disk write runs.
 * - Network: per-message delay (occasionally long, which reorders), loss, duplication;
 *   symmetric and one-way partitions; messages to crashed or removed nodes vanish.
 * - Faults (the nemesis): partitions, crashes and restarts (the leader's too), slow nodes, lossy
 *   periods, leader transfers, campaigns on random nodes, membership changes (remove a voter,
 *   add a fresh learner, promote it once caught up).
 * - Clients: put / get / delete / cas on a few keys, each client one request at a time, with a
 *   timeout after which the outcome is unknown. Gets are ReadIndex reads. Clients take answers
 *   as etcd clients do: an error that the etcd3 client retries (kernel/etcd-errors.ts
 *   clientsRetry) is taken to mean "not applied" and the same operation is sent again, inside
 *   one history entry, as the library's retry is invisible to the application. A server that
 *   answers a write that may still commit with such an error is caught writing it twice.
 *
 * What is checked, at every step where it can change:
 * - election safety: at most one leader per term;
 * - state-machine safety: no two nodes apply different entries at one index;
 * - leader completeness: a new leader holds every entry already applied anywhere;
 * - log matching: two logs that agree on an entry's term agree on all before it (checked on
 *   the disks every few hundred steps and at the end);
 * - acknowledged writes are never lost (every acknowledged write is in the applied history);
 * - liveness: after the faults heal, a leader within a bound of virtual time, and every client
 *   makes progress; all members converge on the same applied index;
 * - linearizability of the client history (linearizability.ts), at the end.
 */
import { checkLeaderCompleteness, checkLogMatching, ViolationError } from './checks'
import { sendOrder } from '../raft/send-order'
import {
  ProposalError,
  ReadIndexDroppedError,
  TransferRefusedError,
  RawNode,
  MemoryStorage,
  decodeConfChange,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type Ready,
  type Role,
} from '../raft'
import { createPrng, type Prng } from '../raft/prng'
import { KvMachine, decodeWrite, encodeWrite, type SimWrite, type SimWriteResult } from './kv'
import { checkLinearizability, formatLinearizabilityResult } from './linearizability'
import type { KvInput, KvOperation, KvOutput } from './lin-types'
import { UNKNOWN_OUTPUT } from './lin-types'
import { EventQueue } from './queue'
import { clientsRetry, type EtcdErrorCode } from '../kernel/etcd-errors'
import { raftRefusalAnswer } from '../server/answers'

export interface SimOptions {
  seed: number
  /** Voters at the start: 3 or 5. */
  nodes: number
  /** Events processed while faults are being injected; then everything heals. */
  steps: number
  tickMs: number
  electionTicksMin: number
  electionTicksMax: number
  heartbeatTicks: number
  clients: number
  keys: number
  /** A node snapshots and compacts its log every this many applied entries. */
  snapshotEntries: number
  /** Inject faults (false: a calm cluster, for baselines). */
  faults: boolean
  /** After healing, the cluster must be live again within this much virtual time. */
  healBoundMs: number
  clientTimeoutMs: number
  /** Lines of trace kept for a failure report. */
  traceLines: number
  /**
   * Deliberate defects in the simulated server, to prove that the checks catch what they
   * claim to (tests only): `forgetVote` persists the hard state without the vote;
   * `sendBeforePersist` sends every message before the disk write, so a crash loses entries a
   * follower already acknowledged; `failWritesOnLeaderChange` answers the writes a member is
   * waiting on with "leader changed" when its leader changes (raftdesk's rule before it took
   * etcd's: wait for the outcome); `ignoreAuthRevisionOnFollowers` has members that do not
   * lead apply writes without the auth revision check, so a write refused on the leader for an
   * auth change made meanwhile lands on the followers.
   */
  defects: {
    forgetVote?: boolean
    sendBeforePersist?: boolean
    failWritesOnLeaderChange?: boolean
    ignoreAuthRevisionOnFollowers?: boolean
  }
  /**
   * Probability that a node crashes right after a disk write and the messages it allowed have
   * left, coming back 1-10 ms later: the moment a forgotten vote or an unsynced append hurts.
   */
  crashAfterPersistRate: number
  /** Raft's pre-vote (etcd's default is on; off makes split votes, and some bugs, likelier). */
  preVote: boolean
  /**
   * Flow control: 'default' is raft's (1 MiB messages, 256 in flight); 'tight' sends one entry
   * per append with two in flight, so entries are acknowledged one by one and followers spend
   * time in probe and replicate states; 'seeded' picks one of the two per seed.
   */
  flowControl: 'default' | 'tight' | 'seeded'
  /**
   * Mean virtual ms between two auth changes (an administrator granting or revoking the clients'
   * permission on one key, proposed on a random member) while faults run; 0: none. Client
   * writes are checked against permissions at apply (kv.ts), and every member must reach the
   * same verdict for every entry.
   */
  authChangeEveryMs: number
}

export const SIM_DEFAULTS: Omit<SimOptions, 'seed'> = {
  nodes: 3,
  steps: 4000,
  tickMs: 10,
  electionTicksMin: 15,
  electionTicksMax: 30,
  heartbeatTicks: 5,
  clients: 3,
  keys: 3,
  snapshotEntries: 40,
  faults: true,
  healBoundMs: 10_000,
  clientTimeoutMs: 1000,
  traceLines: 60,
  defects: {},
  crashAfterPersistRate: 0.002,
  preVote: true,
  authChangeEveryMs: 1000,
  flowControl: 'seeded',
}

export interface Violation {
  invariant:
    | 'election-safety'
    | 'state-machine-safety'
    | 'leader-completeness'
    | 'log-matching'
    | 'lost-write'
    | 'applied-twice'
    | 'liveness'
    | 'linearizability'
    | 'crash'
  message: string
  atMs: number
  step: number
}

export interface SimResult {
  seed: number
  nodes: number
  steps: number
  virtualMs: number
  elections: number
  /** Virtual ms from a leader crash (in an otherwise calm cluster) to the next leader. */
  leaderRecoveriesMs: number[]
  opsOk: number
  opsUnknown: number
  violation: Violation | null
  trace: string[]
}

type SimEvent =
  | { type: 'tick'; node: NodeId; incarnation: number }
  | { type: 'deliver'; msg: Message }
  | { type: 'persisted'; node: NodeId; incarnation: number; ready: Ready; later: Message[] }
  | { type: 'clientStart'; client: number }
  | { type: 'authChange' }
  | { type: 'clientTimeout'; client: number; reqId: string }
  | { type: 'reply'; client: number; reqId: string; reply: Reply }
  | { type: 'nemesis' }
  | { type: 'restart'; node: NodeId }
  | { type: 'endFault'; fault: number }
  | { type: 'snapStatus'; node: NodeId; incarnation: number; to: NodeId; ok: boolean }

type Reply =
  { ok: true; output: KvOutput; lead: NodeId } | { ok: false; error: EtcdErrorCode; lead: NodeId }

/**
 * Calls of one operation an etcd client makes before it gives its error to the application (the
 * etcd3 client's default retry policy: the call and 3 retries).
 */
const CLIENT_ATTEMPTS_MAX = 4

/** Operations each client completes after the heal (proof of liveness) before it rests. */
const CLIENT_OPS_AFTER_HEAL = 20

interface SimNode {
  id: NodeId
  disk: MemoryStorage
  raft: RawNode | null
  sm: KvMachine
  confState: ConfState
  incarnation: number
  up: boolean
  removed: boolean
  busy: boolean
  role: Role
  term: number
  lead: NodeId
  slowFactor: number
  pendingWrites: Map<string, { client: number; reqId: string }>
  pendingReads: Map<string, { client: number; reqId: string; key: string }>
  readyReads: Array<{ index: number; ctx: string }>
  prng: Prng
}

interface Client {
  id: number
  seq: number
  leaderHint: NodeId
  outstanding: { reqId: string; historyIndex: number; input: KvInput; attempts: number } | null
  completedSinceHeal: number
  lastSeen: Map<string, string | null>
}

/** Faults that are active now; each has an id so that its scheduled end can find it. */
interface ActiveFault {
  id: number
  kind: 'partition' | 'oneway' | 'slow' | 'lossy'
  blocked?: Array<[NodeId, NodeId]>
  node?: NodeId
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export class Simulation {
  readonly options: SimOptions
  private readonly prng: Prng
  private readonly queue = new EventQueue<SimEvent>()
  private readonly nodes = new Map<NodeId, SimNode>()
  private readonly clients: Client[] = []
  private readonly history: KvOperation[] = []
  private readonly faults = new Map<number, ActiveFault>()
  private nextFaultId = 1
  private nextNodeId: NodeId
  private nowMs = 0
  private step = 0
  private healed = false
  private healStartMs = 0
  private elections = 0
  private lossRate = 0
  private dupRate = 0
  private readonly leadersByTerm = new Map<number, NodeId>()
  /** Entry applied at each index by any node: term and data, to compare all others against. */
  private readonly appliedLog = new Map<number, { term: number; data: string; result?: string }>()
  private maxAppliedIndex = 0
  private readonly acknowledgedWrites = new Set<string>()
  private readonly appliedWriteIds = new Set<string>()
  /** The log index at which each client operation (all its attempts together) was applied. */
  private readonly appliedOpIndex = new Map<string, number>()
  private readonly leaderRecoveriesMs: number[] = []
  private pendingRecovery: { crashMs: number; term: number } | null = null
  private readonly trace: string[] = []
  private opsOk = 0
  private opsUnknown = 0

  private readonly tightFlow: boolean

  constructor(options: Partial<SimOptions> & { seed: number }) {
    this.options = { ...SIM_DEFAULTS, ...options }
    this.prng = createPrng(this.options.seed)
    this.authPrng = createPrng((this.options.seed ^ 0x5eed_a0a0) >>> 0)
    const flow = this.options.flowControl
    this.tightFlow = flow === 'tight' || (flow === 'seeded' && this.prng.chance(0.5))
    const ids = Array.from({ length: this.options.nodes }, (_, i) => i + 1)
    this.nextNodeId = ids.length + 1
    // Every initial member starts from the same snapshot at index 1 holding the membership and
    // an empty state machine, so that a node added later learns the initial configuration the
    // same way (from a snapshot) instead of from a log that never recorded it.
    for (const id of ids) {
      const node = this.addNode(id)
      node.disk.applySnapshot({
        metadata: { index: 1, term: 1, confState: { voters: ids, learners: [] } },
        data: emptyImage(this.options.keys),
      })
      this.boot(node)
    }
    for (let c = 0; c < this.options.clients; c++) {
      this.clients.push({
        id: c + 1,
        seq: 0,
        leaderHint: 0,
        outstanding: null,
        completedSinceHeal: 0,
        lastSeen: new Map(),
      })
      this.queue.push(this.prng.int(0, 50), { type: 'clientStart', client: c + 1 })
    }
    if (this.options.faults) this.queue.push(this.prng.int(200, 600), { type: 'nemesis' })
    if (this.options.authChangeEveryMs > 0) this.scheduleAuthChange()
  }

  /** Auth changes draw from their own PRNG, so they leave the other random choices alone. */
  private readonly authPrng: Prng
  private authChanges = 0

  private scheduleAuthChange(): void {
    const mean = this.options.authChangeEveryMs
    this.queue.push(this.nowMs + this.authPrng.int(1, 2 * mean), { type: 'authChange' })
  }

  /** An administrator grants or revokes the clients' permission on one key. */
  private onAuthChange(): void {
    if (this.healed) return
    this.scheduleAuthChange()
    const members = this.liveMembers()
    if (members.length === 0) return
    const node = members[this.authPrng.int(0, members.length)]!
    const op: SimWrite = {
      id: `auth-${++this.authChanges}`,
      kind: this.authPrng.chance(0.5) ? 'revoke' : 'grant',
      key: `k${this.authPrng.int(0, this.options.keys)}`,
    }
    try {
      node.raft!.propose(encodeWrite(op))
    } catch (err) {
      if (!isRaftRefusal(err)) throw err
      return // no leader to take it: the administrator tries again later
    }
    this.process(node)
  }

  /** Runs to the end: the fault phase, the heal, liveness, then the final checks. */
  run(): SimResult {
    let violation: Violation | null = null
    try {
      this.loop()
      this.finalChecks()
    } catch (err) {
      if (err instanceof ViolationError) {
        violation = { ...err.violation, atMs: this.nowMs, step: this.step }
      } else {
        const e = err as Error
        violation = {
          invariant: 'crash',
          message: `${e.name}: ${e.message}\n${(e.stack ?? '').split('\n').slice(1, 6).join('\n')}`,
          atMs: this.nowMs,
          step: this.step,
        }
      }
    }
    return {
      seed: this.options.seed,
      nodes: this.options.nodes,
      steps: this.step,
      virtualMs: this.nowMs,
      elections: this.elections,
      leaderRecoveriesMs: this.leaderRecoveriesMs,
      opsOk: this.opsOk,
      opsUnknown: this.opsUnknown,
      violation,
      trace: this.trace,
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The loop

  private loop(): void {
    for (;;) {
      const item = this.queue.pop()
      if (!item) throw new ViolationError({ invariant: 'liveness', message: 'agenda ran dry' })
      this.nowMs = item.atMs
      this.step++
      this.handle(item.event)
      if (!this.healed && this.step >= this.options.steps) this.heal()
      if (this.step % 256 === 0) checkLogMatching([...this.nodes.values()])
      if (this.healed && this.step % 32 === 0 && this.converged()) return
      if (this.healed && this.nowMs - this.healStartMs > this.options.healBoundMs) {
        throw new ViolationError({ invariant: 'liveness', message: this.livenessReport() })
      }
    }
  }

  private handle(ev: SimEvent): void {
    switch (ev.type) {
      case 'tick':
        return this.onTick(ev.node, ev.incarnation)
      case 'deliver':
        return this.onDeliver(ev.msg)
      case 'persisted':
        return this.onPersisted(ev.node, ev.incarnation, ev.ready, ev.later)
      case 'clientStart':
        return this.onClientStart(ev.client)
      case 'authChange':
        return this.onAuthChange()
      case 'clientTimeout':
        return this.onClientTimeout(ev.client, ev.reqId)
      case 'reply':
        return this.onReply(ev.client, ev.reqId, ev.reply)
      case 'nemesis':
        return this.onNemesis()
      case 'restart':
        return this.restart(ev.node)
      case 'endFault':
        return this.endFault(ev.fault)
      case 'snapStatus':
        return this.onSnapStatus(ev.node, ev.incarnation, ev.to, ev.ok)
    }
  }

  private log(line: string): void {
    this.trace.push(`${String(this.nowMs).padStart(6)} ms  ${line}`)
    if (this.trace.length > this.options.traceLines) this.trace.shift()
  }

  // ---------------------------------------------------------------------------------------------
  // Nodes

  private addNode(id: NodeId): SimNode {
    const node: SimNode = {
      id,
      disk: new MemoryStorage(),
      raft: null,
      sm: new KvMachine(this.options.keys),
      confState: { voters: [], learners: [] },
      incarnation: 0,
      up: false,
      removed: false,
      busy: false,
      role: 'follower',
      term: 0,
      lead: 0,
      slowFactor: 1,
      pendingWrites: new Map(),
      pendingReads: new Map(),
      readyReads: [],
      prng: this.prng.fork(),
    }
    this.nodes.set(id, node)
    this.boot(node)
    return node
  }

  /** (Re)builds a node's volatile state from its disk, as a process start does. */
  private boot(node: SimNode): void {
    const snap = node.disk.snapshot()
    node.sm = new KvMachine(this.options.keys)
    if (snap.metadata.index > 0) node.sm.restore(snap.data)
    node.confState = node.disk.initialState().confState
    node.raft = new RawNode({
      id: node.id,
      storage: node.disk,
      prng: node.prng.fork(),
      electionTicksMin: this.options.electionTicksMin,
      electionTicksMax: this.options.electionTicksMax,
      heartbeatTicks: this.options.heartbeatTicks,
      preVote: this.options.preVote,
      applied: snap.metadata.index,
      ...(this.tightFlow ? { maxSizePerMsgBytes: 1, maxInflightMsgs: 2 } : {}),
    })
    node.incarnation++
    node.up = true
    node.busy = false
    node.role = 'follower'
    node.lead = 0
    node.term = node.disk.initialState().hardState.term
    node.pendingWrites.clear()
    node.pendingReads.clear()
    node.readyReads = []
    this.queue.push(this.nowMs + node.prng.int(1, this.options.tickMs + 1), {
      type: 'tick',
      node: node.id,
      incarnation: node.incarnation,
    })
  }

  private crash(node: SimNode, why: string): void {
    if (!node.up) return
    node.up = false
    node.raft = null
    node.incarnation++
    this.log(`n${node.id} crashed (${why})`)
  }

  private restart(id: NodeId): void {
    const node = this.nodes.get(id)
    if (!node || node.up || node.removed) return
    this.boot(node)
    this.log(`n${id} restarted from disk: term ${node.term}, last ${node.disk.lastIndex()}`)
  }

  private onTick(id: NodeId, incarnation: number): void {
    const node = this.nodes.get(id)
    if (!node || !node.up || node.incarnation !== incarnation) return
    node.raft!.tick()
    this.process(node)
    this.queue.push(this.nowMs + this.options.tickMs * node.slowFactor, {
      type: 'tick',
      node: id,
      incarnation,
    })
  }

  private onDeliver(msg: Message): void {
    const node = this.nodes.get(msg.to)
    const delivered = !!node && node.up && !this.blocked(msg.from, msg.to)
    if (msg.type === 'MsgSnap') this.reportSnapshotOutcome(msg, delivered)
    if (!delivered) return
    try {
      node.raft!.step(msg)
    } catch (err) {
      // A forwarded proposal or read the node refuses is dropped: its client times out.
      if (!isRaftRefusal(err)) throw err
    }
    this.process(node)
  }

  /** Takes the node's next Ready, if any, and starts persisting it. */
  private process(node: SimNode): void {
    if (!node.up || node.busy || !node.raft!.hasReady()) return
    const rd = node.raft!.ready()
    node.busy = true
    if (rd.softState) this.onSoftState(node, rd.softState.role, rd)
    if (rd.hardState) node.term = rd.hardState.term
    // The server's rule (raft/send-order.ts); the defect sends everything before the disk write.
    const { early, later } = this.options.defects.sendBeforePersist
      ? { early: rd.messages, later: [] }
      : sendOrder(rd, node.role, node.disk.initialState().hardState)
    for (const m of early) this.send(m)
    const diskMs = node.prng.int(0, 3) * node.slowFactor
    this.queue.push(this.nowMs + diskMs, {
      type: 'persisted',
      node: node.id,
      incarnation: node.incarnation,
      ready: rd,
      later,
    })
  }

  private onPersisted(id: NodeId, incarnation: number, rd: Ready, later: Message[]): void {
    const node = this.nodes.get(id)
    if (!node || !node.up || node.incarnation !== incarnation) return
    if (rd.snapshot) node.disk.applySnapshot(rd.snapshot)
    if (rd.entries.length > 0) node.disk.append(rd.entries)
    if (rd.hardState) {
      const forget = this.options.defects.forgetVote
      node.disk.setHardState(forget ? { ...rd.hardState, vote: 0 } : rd.hardState)
    }
    for (const m of later) this.send(m)
    if (
      !this.healed &&
      this.options.crashAfterPersistRate > 0 &&
      this.prng.chance(this.options.crashAfterPersistRate)
    ) {
      this.crash(node, 'power loss right after a write')
      this.queue.push(this.nowMs + this.prng.int(1, 11), { type: 'restart', node: id })
      return
    }
    if (rd.snapshot) {
      node.sm.restore(rd.snapshot.data)
      node.confState = rd.snapshot.metadata.confState
      this.log(`n${id} restored snapshot at ${rd.snapshot.metadata.index}`)
    }
    for (const e of rd.committedEntries) {
      this.applyEntry(node, e)
      if (!node.up) return
    }
    for (const rs of rd.readStates) {
      node.readyReads.push({ index: rs.index, ctx: decoder.decode(rs.requestCtx) })
    }
    node.raft!.advance(rd)
    node.busy = false
    this.serveReads(node)
    this.maybeSnapshot(node)
    this.process(node)
  }

  private onSoftState(node: SimNode, role: Role, rd: Ready): void {
    const was = node.role
    node.role = role
    const lead = rd.softState!.lead
    if (lead !== node.lead && node.lead !== 0 && this.options.defects.failWritesOnLeaderChange) {
      for (const w of node.pendingWrites.values()) {
        this.reply(node, w.client, w.reqId, { ok: false, error: 'LEADER_CHANGED', lead })
      }
      node.pendingWrites.clear()
    }
    node.lead = lead
    if (role !== 'leader' || was === 'leader') return
    const term = rd.hardState?.term ?? node.raft!.status().term
    node.term = term
    this.elections++
    const other = this.leadersByTerm.get(term)
    if (other !== undefined && other !== node.id) {
      throw new ViolationError({
        invariant: 'election-safety',
        message: `n${node.id} and n${other} are both leaders of term ${term}`,
      })
    }
    this.leadersByTerm.set(term, node.id)
    this.log(`n${node.id} became leader at term ${term}`)
    checkLeaderCompleteness(node, term, this.appliedLog, this.maxAppliedIndex)
    if (this.pendingRecovery && term > this.pendingRecovery.term) {
      this.leaderRecoveriesMs.push(this.nowMs - this.pendingRecovery.crashMs)
      this.pendingRecovery = null
    }
  }

  private applyEntry(node: SimNode, e: Entry): void {
    const data = e.type === 'confChange' ? `cc:${hex(e.data)}` : decoder.decode(e.data)
    const seen = this.appliedLog.get(e.index)
    if (seen && (seen.term !== e.term || seen.data !== data)) {
      throw new ViolationError({
        invariant: 'state-machine-safety',
        message: `n${node.id} applied ${e.term}/${e.index} ${short(data)}, but ${seen.term}/${e.index} ${short(seen.data)} was applied before`,
      })
    }
    if (!seen) this.appliedLog.set(e.index, { term: e.term, data })
    this.maxAppliedIndex = Math.max(this.maxAppliedIndex, e.index)

    if (e.type === 'confChange') {
      node.sm.skip(e.index)
      const cc = decodeConfChange(e.data)
      node.confState = node.raft!.applyConfChange(cc)
      this.onConfChangeApplied(cc)
      return
    }
    let op = decodeWrite(e.data)
    if (
      this.options.defects.ignoreAuthRevisionOnFollowers &&
      op?.authRevision !== undefined &&
      node.raft!.status().lead !== node.id
    ) {
      op = { ...op, authRevision: Number.MAX_SAFE_INTEGER }
    }
    const result = node.sm.apply(e.index, op)
    if (!op || !result) return
    this.checkSameVerdict(node, e.index, result)
    if (result.kind === 'auth') return
    this.appliedWriteIds.add(op.id)
    this.checkAppliedOnce(op.id, e.index)
    const waiting = node.pendingWrites.get(op.id)
    if (waiting) {
      node.pendingWrites.delete(op.id)
      const lead = node.raft!.status().lead
      this.reply(
        node,
        waiting.client,
        waiting.reqId,
        result.kind === 'refused'
          ? { ok: false, error: result.code as EtcdErrorCode, lead }
          : { ok: true, output: toOutput(result), lead },
      )
    }
  }

  /**
   * Every member reaches the same result for an entry, refusals included: the permission checks
   * at apply depend on nothing but the entries before it.
   */
  private checkSameVerdict(node: SimNode, index: number, result: SimWriteResult): void {
    const text = JSON.stringify(result)
    const seen = this.appliedLog.get(index)!
    if (seen.result === undefined) {
      seen.result = text
      return
    }
    if (seen.result !== text) {
      throw new ViolationError({
        invariant: 'state-machine-safety',
        message: `n${node.id} applied entry ${index} with result ${text}, another member with ${seen.result}`,
      })
    }
  }

  /**
   * A client operation takes effect at most once, whichever of its attempts carries it: a second
   * entry for it means a server answered an attempt that could still commit with an error the
   * client retried.
   */
  private checkAppliedOnce(attemptId: string, index: number): void {
    const base = baseRequestId(attemptId)
    const first = this.appliedOpIndex.get(base)
    if (first === undefined) {
      this.appliedOpIndex.set(base, index)
      return
    }
    if (first !== index) {
      throw new ViolationError({
        invariant: 'applied-twice',
        message: `client operation ${base} was applied at index ${first} and again at ${index} (as ${attemptId})`,
      })
    }
  }

  private onConfChangeApplied(cc: ConfChange): void {
    if (cc.type !== 'removeNode') return
    const target = this.nodes.get(cc.nodeId)
    if (!target || target.removed) return
    // As a removed etcd member is told by its peers and stops, the removed node stops for good.
    target.removed = true
    this.crash(target, 'removed from the cluster')
  }

  private serveReads(node: SimNode): void {
    if (node.readyReads.length === 0) return
    const waiting: Array<{ index: number; ctx: string }> = []
    for (const rs of node.readyReads) {
      if (rs.index > node.sm.appliedIndex) {
        waiting.push(rs)
        continue
      }
      const read = node.pendingReads.get(rs.ctx)
      if (!read) continue
      node.pendingReads.delete(rs.ctx)
      this.reply(node, read.client, read.reqId, {
        ok: true,
        output: { kind: 'get', value: node.sm.data.get(read.key) ?? null },
        lead: node.raft!.status().lead,
      })
    }
    node.readyReads = waiting
  }

  private maybeSnapshot(node: SimNode): void {
    const applied = node.sm.appliedIndex
    const first = node.disk.firstIndex()
    if (applied - first < this.options.snapshotEntries) return
    if (applied <= node.disk.snapshot().metadata.index) return
    node.disk.createSnapshot(applied, node.confState, node.sm.image())
    // Keep a short tail so that slightly lagging followers catch up from the log, not a snapshot.
    const keep = Math.max(node.disk.firstIndex() - 1, applied - 8)
    if (keep > node.disk.firstIndex() - 1) node.disk.compact(keep)
  }

  // ---------------------------------------------------------------------------------------------
  // Network

  private blocked(from: NodeId, to: NodeId): boolean {
    for (const f of this.faults.values()) {
      if (f.blocked?.some(([a, b]) => a === from && b === to)) return true
    }
    return false
  }

  /**
   * A snapshot travels on its own stream whose sender learns the outcome (the TCP transport's
   * sendSnapshot promise): the leader is told finish or failure, never left waiting.
   */
  private reportSnapshotOutcome(m: Message, delivered: boolean): void {
    const sender = this.nodes.get(m.from)
    if (!sender || !sender.up) return
    this.queue.push(this.nowMs + this.prng.int(1, 6), {
      type: 'snapStatus',
      node: sender.id,
      incarnation: sender.incarnation,
      to: m.to,
      ok: delivered,
    })
  }

  private onSnapStatus(id: NodeId, incarnation: number, to: NodeId, ok: boolean): void {
    const node = this.nodes.get(id)
    if (!node || !node.up || node.incarnation !== incarnation) return
    node.raft!.reportSnapshot(to, ok ? 'finish' : 'failure')
    this.log(`n${id} snapshot to n${to}: ${ok ? 'finish' : 'failure'}`)
    this.process(node)
  }

  private send(m: Message): void {
    if (m.type === 'MsgSnap') {
      this.log(`n${m.from} -> n${m.to} MsgSnap term ${m.term} at ${m.snapshot?.metadata.index}`)
    }
    if (this.blocked(m.from, m.to) || (this.lossRate > 0 && this.prng.chance(this.lossRate))) {
      if (m.type === 'MsgSnap') this.reportSnapshotOutcome(m, false)
      return
    }
    const copies = this.dupRate > 0 && this.prng.chance(this.dupRate) ? 2 : 1
    for (let i = 0; i < copies; i++) {
      let delay = this.prng.int(1, 6)
      if (this.prng.chance(0.03)) delay += this.prng.int(10, 150)
      const target = this.nodes.get(m.to)
      if (target) delay *= target.slowFactor
      this.queue.push(this.nowMs + delay, { type: 'deliver', msg: m })
    }
  }

  private reply(node: SimNode, client: number, reqId: string, reply: Reply): void {
    this.queue.push(this.nowMs + node.prng.int(1, 4), { type: 'reply', client, reqId, reply })
  }

  // ---------------------------------------------------------------------------------------------
  // Clients

  private liveMembers(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.up && !n.removed)
  }

  private onClientStart(clientId: number): void {
    const client = this.clients[clientId - 1]!
    if (client.outstanding) return
    // After the heal a client that has shown progress stops, so that the cluster drains and its
    // members can be seen to converge (under a steady load from many clients a follower trails
    // the leader by a few entries at every moment, live as it is).
    if (this.healed && client.completedSinceHeal >= CLIENT_OPS_AFTER_HEAL) return
    const node = this.pickMember(client)
    if (!node) {
      this.queue.push(this.nowMs + 50, { type: 'clientStart', client: clientId })
      return
    }
    client.seq++
    const reqId = `c${clientId}-${client.seq}`
    const input = this.chooseInput(client, reqId)
    const historyIndex = this.history.length
    this.history.push({
      clientId,
      input,
      output: UNKNOWN_OUTPUT,
      invokeMs: this.nowMs,
      completeMs: Number.POSITIVE_INFINITY,
    })
    client.outstanding = { reqId, historyIndex, input, attempts: 1 }
    this.attempt(node, client, reqId, input)
  }

  /** Sends one call of the client's operation, with its own timeout. */
  private attempt(node: SimNode, client: Client, reqId: string, input: KvInput): void {
    this.queue.push(this.nowMs + this.options.clientTimeoutMs, {
      type: 'clientTimeout',
      client: client.id,
      reqId,
    })
    this.submit(node, client, reqId, input)
  }

  /** A member for the next call: the leader hinted by the last answer, else any live one. */
  private pickMember(client: Client): SimNode | undefined {
    const members = this.liveMembers()
    const hinted = this.nodes.get(client.leaderHint)
    if (hinted && hinted.up) return hinted
    return members.length > 0 ? members[this.prng.int(0, members.length)]! : undefined
  }

  private chooseInput(client: Client, reqId: string): KvInput {
    const key = `k${this.prng.int(0, this.options.keys)}`
    const r = this.prng.float()
    if (r < 0.35) return { kind: 'get', key }
    if (r < 0.75) return { kind: 'put', key, value: reqId }
    if (r < 0.85) return { kind: 'delete', key }
    return { kind: 'cas', key, expected: client.lastSeen.get(key) ?? null, value: reqId }
  }

  private submit(node: SimNode, client: Client, reqId: string, input: KvInput): void {
    const raft = node.raft!
    try {
      if (input.kind === 'get') {
        node.pendingReads.set(reqId, { client: client.id, reqId, key: input.key })
        raft.readIndex(encoder.encode(reqId))
      } else {
        // The member stamps the write with its auth revision, as etcd's with the token's.
        const authRevision = node.sm.auth.revision
        const op: SimWrite =
          input.kind === 'put'
            ? { id: reqId, kind: 'put', key: input.key, value: input.value, authRevision }
            : input.kind === 'delete'
              ? { id: reqId, kind: 'delete', key: input.key, authRevision }
              : {
                  id: reqId,
                  kind: 'cas',
                  key: input.key,
                  expected: input.expected,
                  value: input.value,
                  authRevision,
                }
        node.pendingWrites.set(reqId, { client: client.id, reqId })
        raft.propose(encodeWrite(op))
      }
    } catch (err) {
      if (!isRaftRefusal(err)) throw err
      node.pendingReads.delete(reqId)
      node.pendingWrites.delete(reqId)
      // Refused before anything was appended: the server answers as raftdesk's does.
      const error = raftRefusalAnswer(err)?.code ?? 'PROPOSAL_DROPPED'
      this.reply(node, client.id, reqId, { ok: false, error, lead: raft.status().lead })
      return
    }
    this.process(node)
  }

  private onReply(clientId: number, reqId: string, reply: Reply): void {
    const client = this.clients[clientId - 1]!
    const out = client.outstanding
    if (!out || out.reqId !== reqId) return
    client.outstanding = null
    client.leaderHint = reply.lead
    const op = this.history[out.historyIndex]!
    if (reply.ok) {
      op.output = reply.output
      op.completeMs = this.nowMs
      this.opsOk++
      if (this.healed) client.completedSinceHeal++
      if (out.input.kind !== 'get') this.acknowledgedWrites.add(reqId)
      if (reply.output.kind === 'get') client.lastSeen.set(out.input.key, reply.output.value)
      if (out.input.kind === 'put') client.lastSeen.set(out.input.key, out.input.value)
    } else if (clientsRetry(reply.error) && out.attempts < CLIENT_ATTEMPTS_MAX) {
      // The etcd client takes this answer as "not applied" and calls again with the same
      // operation; the application still waits on its one call.
      const node = this.pickMember(client)
      if (node) {
        out.attempts++
        out.reqId = `${baseRequestId(reqId)}.${out.attempts}`
        client.outstanding = out
        this.attempt(node, client, out.reqId, out.input)
        return
      }
      this.giveUp(out)
    } else if (clientsRetry(reply.error)) {
      // Out of attempts: the application gets the error and cannot know what happened.
      this.giveUp(out)
    } else {
      // A definite refusal: the operation never took effect, so it leaves the history.
      this.dropFromHistory(out.historyIndex)
    }
    this.queue.push(this.nowMs + this.prng.int(0, 20), { type: 'clientStart', client: clientId })
  }

  private giveUp(out: NonNullable<Client['outstanding']>): void {
    if (out.input.kind === 'get') this.dropFromHistory(out.historyIndex)
    else this.opsUnknown++
  }

  private onClientTimeout(clientId: number, reqId: string): void {
    const client = this.clients[clientId - 1]!
    const out = client.outstanding
    if (!out || out.reqId !== reqId) return
    client.outstanding = null
    client.leaderHint = 0
    if (out.input.kind === 'get') {
      // A read without an answer constrains nothing.
      this.dropFromHistory(out.historyIndex)
    } else {
      this.opsUnknown++
    }
    this.queue.push(this.nowMs + this.prng.int(0, 20), { type: 'clientStart', client: clientId })
  }

  private readonly droppedOps = new Set<number>()
  private dropFromHistory(index: number): void {
    this.droppedOps.add(index)
  }

  // ---------------------------------------------------------------------------------------------
  // Faults

  private onNemesis(): void {
    if (this.healed) return
    // While a leader-crash recovery is being timed, nothing else happens, so that the figure is
    // the election alone (bounded: a recovery that takes this long is reported as measured).
    if (this.pendingRecovery && this.nowMs - this.pendingRecovery.crashMs < 5000) {
      this.queue.push(this.nowMs + 100, { type: 'nemesis' })
      return
    }
    this.pendingRecovery = null
    const r = this.prng.float()
    const members = this.liveMembers()
    const leader = this.currentLeader()
    if (r < 0.16) this.partition(false)
    else if (r < 0.24) this.partition(true)
    else if (r < 0.4) this.crashAny()
    else if (r < 0.52) this.crashLeader(leader)
    else if (r < 0.6) this.slowOne(members)
    else if (r < 0.68) this.lossyNetwork()
    else if (r < 0.76) this.moveLeadership(leader, members)
    else if (r < 0.8) this.campaignOne(members)
    else if (r < 0.9) this.changeMembership(leader)
    else this.healFaults()
    this.queue.push(this.nowMs + this.prng.int(100, 700), { type: 'nemesis' })
  }

  /** Crashes any member that is up; half of the crashes are bounces. */
  private crashAny(): void {
    const pool = [...this.nodes.values()].filter((n) => n.up && !n.removed)
    if (pool.length === 0) return
    const victim = pool[this.prng.int(0, pool.length)]!
    // Half of the crashes are bounces: the process is back within milliseconds, in the
    // middle of whatever round it was part of (what a supervisor's restart looks like).
    const bounce = this.prng.chance(0.5)
    this.crash(victim, bounce ? 'nemesis: bounce' : 'nemesis')
    const downMs = bounce ? this.prng.int(1, 30) : this.prng.int(20, 2000)
    this.queue.push(this.nowMs + downMs, { type: 'restart', node: victim.id })
  }

  /** Crashes the leader; in a calm cluster the election that follows is timed. */
  private crashLeader(leader: SimNode | undefined): void {
    if (!leader) return
    if (this.calmWithout(leader)) {
      this.pendingRecovery = { crashMs: this.nowMs, term: leader.term }
    }
    this.crash(leader, 'nemesis: leader crash')
    this.queue.push(this.nowMs + this.prng.int(300, 2500), { type: 'restart', node: leader.id })
  }

  /** Makes one member's disk 2-5 times slower for a while. */
  private slowOne(members: SimNode[]): void {
    if (members.length === 0) return
    const node = members[this.prng.int(0, members.length)]!
    const id = this.nextFaultId++
    node.slowFactor = this.prng.int(2, 6)
    this.faults.set(id, { id, kind: 'slow', node: node.id })
    this.log(`n${node.id} slow x${node.slowFactor}`)
    this.queue.push(this.nowMs + this.prng.int(300, 3000), { type: 'endFault', fault: id })
  }

  /** Loses and duplicates messages for a while. */
  private lossyNetwork(): void {
    const id = this.nextFaultId++
    this.lossRate = this.prng.float() * 0.3
    this.dupRate = this.prng.float() * 0.1
    this.faults.set(id, { id, kind: 'lossy' })
    this.log(`lossy network: loss ${this.lossRate.toFixed(2)} dup ${this.dupRate.toFixed(2)}`)
    this.queue.push(this.nowMs + this.prng.int(300, 3000), { type: 'endFault', fault: id })
  }

  /** Asks the leader to hand leadership to another voter. */
  private moveLeadership(leader: SimNode | undefined, members: SimNode[]): void {
    if (!leader || members.length <= 1) return
    const voters = leader.confState.voters.filter((v) => v !== leader.id)
    if (voters.length === 0) return
    const to = voters[this.prng.int(0, voters.length)]!
    this.log(`transfer leadership n${leader.id} -> n${to}`)
    try {
      leader.raft!.transferLeadership(to)
    } catch (err) {
      if (!isRaftRefusal(err)) throw err
    }
    this.process(leader)
  }

  /** Makes one member campaign, whatever its role. */
  private campaignOne(members: SimNode[]): void {
    if (members.length === 0) return
    const node = members[this.prng.int(0, members.length)]!
    this.log(`campaign on n${node.id}`)
    node.raft!.campaign()
    this.process(node)
  }

  /**
   * True when no fault is active and, without `leader`, the voters that are up still form a
   * quorum: a leader crash now measures a plain election.
   */
  private calmWithout(leader: SimNode): boolean {
    if (this.faults.size > 0) return false
    const voters = leader.confState.voters
    const up = voters.filter((id) => id !== leader.id && this.nodes.get(id)?.up).length
    return up >= Math.floor(voters.length / 2) + 1
  }

  private partition(oneWay: boolean): void {
    const ids = [...this.nodes.values()].filter((n) => !n.removed).map((n) => n.id)
    if (ids.length < 2) return
    const side = ids.filter(() => this.prng.chance(0.5))
    if (side.length === 0 || side.length === ids.length) side.splice(0, side.length, ids[0]!)
    const rest = ids.filter((id) => !side.includes(id))
    const blocked: Array<[NodeId, NodeId]> = []
    for (const a of side) {
      for (const b of rest) {
        blocked.push([a, b])
        if (!oneWay) blocked.push([b, a])
      }
    }
    const id = this.nextFaultId++
    this.faults.set(id, { id, kind: oneWay ? 'oneway' : 'partition', blocked })
    this.pendingRecovery = null
    this.log(
      `${oneWay ? 'one-way partition' : 'partition'} {${side.join(',')}} ${oneWay ? '->x' : '|'} {${rest.join(',')}}`,
    )
    this.queue.push(this.nowMs + this.prng.int(200, 2500), { type: 'endFault', fault: id })
  }

  private endFault(id: number): void {
    const f = this.faults.get(id)
    if (!f) return
    this.faults.delete(id)
    if (f.kind === 'slow' && f.node !== undefined) {
      const node = this.nodes.get(f.node)
      if (node) node.slowFactor = 1
    }
    if (f.kind === 'lossy' && ![...this.faults.values()].some((x) => x.kind === 'lossy')) {
      this.lossRate = 0
      this.dupRate = 0
    }
    this.log(`fault ${f.kind} ended`)
  }

  private healFaults(): void {
    for (const id of [...this.faults.keys()]) this.endFault(id)
  }

  private currentLeader(): SimNode | undefined {
    let best: SimNode | undefined
    for (const n of this.nodes.values()) {
      if (n.up && n.role === 'leader' && (!best || n.term > best.term)) best = n
    }
    return best
  }

  /**
   * One step of membership churn, always through the leader: promote a caught-up learner, or
   * add a fresh learner when the cluster is short of its size, or remove a random voter.
   */
  private changeMembership(leader: SimNode | undefined): void {
    if (!leader || !leader.up) return
    const status = leader.raft!.status()
    const conf = status.confState
    let cc: ConfChange | null = null
    const learner = conf.learners.find((id) => {
      const p = status.progress[id]
      return p && p.match >= status.commit
    })
    if (learner !== undefined) {
      cc = { type: 'promoteLearner', nodeId: learner, context: new Uint8Array() }
    } else if (conf.voters.length + conf.learners.length < this.options.nodes) {
      const id = this.nextNodeId++
      this.addNode(id)
      cc = { type: 'addLearner', nodeId: id, context: new Uint8Array() }
    } else if (conf.learners.length === 0 && conf.voters.length >= this.options.nodes) {
      const victim = conf.voters[this.prng.int(0, conf.voters.length)]!
      cc = { type: 'removeNode', nodeId: victim, context: new Uint8Array() }
    }
    if (!cc) return
    this.log(`propose ${cc.type} n${cc.nodeId} on leader n${leader.id}`)
    try {
      leader.raft!.proposeConfChange(cc)
    } catch (err) {
      if (!isRaftRefusal(err)) throw err
      this.log(`  refused: ${(err as Error).message}`)
    }
    this.process(leader)
  }

  /** End of the fault phase: every fault healed, every crashed member back up. */
  private heal(): void {
    this.healed = true
    this.healStartMs = this.nowMs
    this.healFaults()
    this.pendingRecovery = null
    for (const n of this.nodes.values()) {
      if (!n.up && !n.removed) this.boot(n)
    }
    // Fresh nodes that never made it into the configuration are discarded.
    this.log('healed: all faults cleared, all members restarted')
  }

  private converged(): boolean {
    const leader = this.currentLeader()
    if (!leader || leader.busy) return false
    if (this.clients.some((c) => c.completedSinceHeal < 1)) return false
    const status = leader.raft!.status()
    if (status.lead !== leader.id) return false
    const members = [...status.confState.voters, ...status.confState.learners]
    return members.every((id) => {
      const n = this.nodes.get(id)
      return (
        n &&
        n.up &&
        n.sm.appliedIndex === status.commit &&
        n.sm.appliedIndex >= this.maxAppliedIndex
      )
    })
  }

  private livenessReport(): string {
    const leader = this.currentLeader()
    const lines = [
      `cluster not live ${this.options.healBoundMs} ms after healing` +
        (leader ? ` (leader n${leader.id} term ${leader.term})` : ' (no leader)'),
    ]
    for (const n of this.nodes.values()) {
      if (n.removed) continue
      const s = n.raft?.status()
      lines.push(
        `  n${n.id} ${n.up ? (s?.role ?? '?') : 'down'} term ${s?.term ?? n.term} lead ${s?.lead ?? '-'} commit ${s?.commit ?? '-'} applied ${n.sm.appliedIndex} last ${s?.lastIndex ?? n.disk.lastIndex()} voters [${n.confState.voters.join(',')}] learners [${n.confState.learners.join(',')}]`,
      )
    }
    if (leader?.raft) {
      const st = leader.raft.status()
      lines.push(`  leader n${leader.id} first index ${st.firstIndex}, progress:`)
      for (const [id, p] of Object.entries(st.progress)) {
        lines.push(
          `    n${id} ${p.state} match ${p.match} next ${p.next} inflight ${p.inflight} active ${p.recentActive} pendingSnapshot ${p.pendingSnapshot}`,
        )
      }
    }
    for (const c of this.clients) {
      lines.push(`  client ${c.id}: ${c.completedSinceHeal} ops since heal`)
    }
    return lines.join('\n')
  }

  // ---------------------------------------------------------------------------------------------
  // Invariants

  private finalChecks(): void {
    checkLogMatching([...this.nodes.values()])
    for (const id of this.acknowledgedWrites) {
      if (!this.appliedWriteIds.has(id)) {
        throw new ViolationError({
          invariant: 'lost-write',
          message: `write ${id} was acknowledged but is not in the applied history`,
        })
      }
    }
    const history = this.history.filter((_, i) => !this.droppedOps.has(i))
    const result = checkLinearizability(history)
    // A history the checker could not settle within its bounds is reported too: an unchecked
    // history must not pass as a checked one.
    if (result.ok !== true) {
      throw new ViolationError({
        invariant: 'linearizability',
        message: formatLinearizabilityResult(result),
      })
    }
  }
}

/** A client operation's id from the id of one of its attempts (`c1-5.3` -> `c1-5`). */
function baseRequestId(attemptId: string): string {
  const dot = attemptId.indexOf('.')
  return dot < 0 ? attemptId : attemptId.slice(0, dot)
}

/** The refusals a client or the nemesis can meet; anything else is a bug and ends the run. */
function isRaftRefusal(err: unknown): boolean {
  return (
    err instanceof ProposalError ||
    err instanceof ReadIndexDroppedError ||
    err instanceof TransferRefusedError
  )
}

function toOutput(result: SimWriteResult): KvOutput {
  switch (result.kind) {
    case 'put':
      return { kind: 'put' }
    case 'delete':
      return { kind: 'delete', deleted: result.deleted }
    case 'cas':
      return { kind: 'cas', succeeded: result.succeeded }
    case 'auth':
    case 'refused':
      throw new Error(`a ${result.kind} result is not a client's answer`)
  }
}

function emptyImage(keys: number): Uint8Array {
  const sm = new KvMachine(keys)
  sm.skip(1)
  return sm.image()
}

function hex(data: Uint8Array): string {
  let s = ''
  for (const b of data) s += b.toString(16).padStart(2, '0')
  return s
}

function short(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s
}
