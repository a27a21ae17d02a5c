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
  RawNode,
  MemoryStorage,
  decodeConfChange,
  type ConfChange,
  type Entry,
  type Message,
  type NodeId,
  type Ready,
  type Role,
} from '../raft'
import { createPrng, type Prng } from '../raft/prng'
import { KvMachine, decodeWrite, encodeWrite, type SimWrite, type SimWriteResult } from './kv'
import { checkLinearizability, formatLinearizabilityResult } from './linearizability'
import type { KvInput, KvOutput } from './lin-types'
import { EventQueue } from './queue'
import type { EtcdErrorCode } from '../kernel/etcd-errors'
import { Nemesis } from './nemesis'
import { SimClients } from './clients'
import {
  baseRequestId,
  isRaftRefusal,
  type Reply,
  type SimEvent,
  type SimNode,
  type SimWorld,
} from './types'
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

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export class Simulation {
  readonly options: SimOptions
  private readonly prng: Prng
  private readonly queue = new EventQueue<SimEvent>()
  private readonly nodes = new Map<NodeId, SimNode>()
  private nowMs = 0
  private step = 0
  private healed = false
  private healStartMs = 0
  private elections = 0
  private readonly leadersByTerm = new Map<number, NodeId>()
  /** Entry applied at each index by any node: term and data, to compare all others against. */
  private readonly appliedLog = new Map<number, { term: number; data: string; result?: string }>()
  private maxAppliedIndex = 0
  private readonly appliedWriteIds = new Set<string>()
  /** The log index at which each client operation (all its attempts together) was applied. */
  private readonly appliedOpIndex = new Map<string, number>()
  private readonly trace: string[] = []
  /** What the nemesis and the clients act through. */
  private readonly port: SimWorld
  private readonly nemesis: Nemesis
  private readonly clients: SimClients

  private readonly tightFlow: boolean

  constructor(options: Partial<SimOptions> & { seed: number }) {
    this.options = { ...SIM_DEFAULTS, ...options }
    this.prng = createPrng(this.options.seed)
    this.authPrng = createPrng((this.options.seed ^ 0x5eed_a0a0) >>> 0)
    const flow = this.options.flowControl
    this.tightFlow = flow === 'tight' || (flow === 'seeded' && this.prng.chance(0.5))
    const ids = Array.from({ length: this.options.nodes }, (_, i) => i + 1)
    this.port = this.makePort()
    this.nemesis = new Nemesis(this.port, ids.length + 1)
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
    this.clients = new SimClients(this.port, this.options.clients)
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
      leaderRecoveriesMs: this.nemesis.leaderRecoveriesMs,
      opsOk: this.clients.opsOk,
      opsUnknown: this.clients.opsUnknown,
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
        return this.clients.onClientStart(ev.client)
      case 'authChange':
        return this.onAuthChange()
      case 'clientTimeout':
        return this.clients.onClientTimeout(ev.client, ev.reqId)
      case 'reply':
        return this.clients.onReply(ev.client, ev.reqId, ev.reply)
      case 'nemesis':
        return this.nemesis.onNemesis()
      case 'restart':
        return this.restart(ev.node)
      case 'endFault':
        return this.nemesis.endFault(ev.fault)
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
    const delivered = !!node && node.up && !this.nemesis.blocked(msg.from, msg.to)
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
    this.nemesis.onLeaderElected(term)
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
    if (
      this.nemesis.blocked(m.from, m.to) ||
      (this.nemesis.lossRate > 0 && this.prng.chance(this.nemesis.lossRate))
    ) {
      if (m.type === 'MsgSnap') this.reportSnapshotOutcome(m, false)
      return
    }
    const copies = this.nemesis.dupRate > 0 && this.prng.chance(this.nemesis.dupRate) ? 2 : 1
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
  // Members as clients and the nemesis see them (clients.ts, nemesis.ts)

  private makePort(): SimWorld {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const sim = this
    return {
      options: this.options,
      prng: this.prng,
      nodes: this.nodes,
      get healed() {
        return sim.healed
      },
      now: () => this.nowMs,
      schedule: (atMs, event) => this.queue.push(atMs, event),
      log: (line) => this.log(line),
      liveMembers: () => this.liveMembers(),
      currentLeader: () => this.currentLeader(),
      process: (node) => this.process(node),
      crash: (node, why) => this.crash(node, why),
      addNode: (id) => this.addNode(id),
      submit: (node, clientId, reqId, input) => this.submit(node, clientId, reqId, input),
    }
  }

  private liveMembers(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.up && !n.removed)
  }

  private submit(node: SimNode, clientId: number, reqId: string, input: KvInput): void {
    const raft = node.raft!
    try {
      if (input.kind === 'get') {
        node.pendingReads.set(reqId, { client: clientId, reqId, key: input.key })
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
        node.pendingWrites.set(reqId, { client: clientId, reqId })
        raft.propose(encodeWrite(op))
      }
    } catch (err) {
      if (!isRaftRefusal(err)) throw err
      node.pendingReads.delete(reqId)
      node.pendingWrites.delete(reqId)
      // Refused before anything was appended: the server answers as raftdesk's does.
      const error = raftRefusalAnswer(err)?.code ?? 'PROPOSAL_DROPPED'
      this.reply(node, clientId, reqId, { ok: false, error, lead: raft.status().lead })
      return
    }
    this.process(node)
  }

  /** The member up and leading with the highest term, if any. */
  private currentLeader(): SimNode | undefined {
    let best: SimNode | undefined
    for (const n of this.nodes.values()) {
      if (n.up && n.role === 'leader' && (!best || n.term > best.term)) best = n
    }
    return best
  }

  /** End of the fault phase: every fault healed, every crashed member back up. */
  private heal(): void {
    this.healed = true
    this.healStartMs = this.nowMs
    this.nemesis.healAll()
    for (const n of this.nodes.values()) {
      if (!n.up && !n.removed) this.boot(n)
    }
    // Fresh nodes that never made it into the configuration are discarded.
    this.log('healed: all faults cleared, all members restarted')
  }

  private converged(): boolean {
    const leader = this.currentLeader()
    if (!leader || leader.busy) return false
    if (!this.clients.allProgressed) return false
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
    lines.push(...this.clients.progressLines())
    return lines.join('\n')
  }

  // ---------------------------------------------------------------------------------------------
  // The heal, liveness and the final checks

  private finalChecks(): void {
    checkLogMatching([...this.nodes.values()])
    for (const id of this.clients.acknowledgedWrites) {
      if (!this.appliedWriteIds.has(id)) {
        throw new ViolationError({
          invariant: 'lost-write',
          message: `write ${id} was acknowledged but is not in the applied history`,
        })
      }
    }
    const history = this.clients.checkedHistory()
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
