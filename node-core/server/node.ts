/**
 * One raftdesk node: the raft core, its WAL and snapshots, the MVCC state machine and the peer
 * transport, driven by the Ready loop in etcd's order.
 *
 * ## The Ready loop
 *   1. take a Ready from the RawNode;
 *   2. a leader sends its appends and heartbeats right away (its own log counts toward a
 *      commit only once advance() says it is durable, so this is safe and hides the fsync);
 *   3. a snapshot from the leader: its file is already in snap/ (the transport's snapshot
 *      handler received it); record it in the WAL (replacesLog);
 *   4. append entries and the hard state to the WAL: one write, one fsync (group commit: every
 *      proposal that arrived while the previous fsync ran is in this batch);
 *   5. mirror them into the in-memory raft storage, then send every other message (votes,
 *      append responses: they promise what step 4 made durable);
 *   6. apply (apply.ts): the snapshot (restore the store from the file), then the committed
 *      entries as ONE store batch; conf changes also go to raft and the membership; waiting
 *      clients are answered with their results;
 *   7. serve linearizable reads whose read index is now applied;
 *   8. advance(); every `snapshotCount` applied entries, save a snapshot (in the background) and
 *      compact the raft log and the WAL behind it.
 *
 * ## Start
 * A fresh data directory either bootstraps a new cluster (the initial members become conf
 * change entries 1..n of term 1, committed, exactly like etcd's bootstrap, so members added later
 * learn the initial configuration from the log) or joins an existing one (empty log; the leader
 * sends a snapshot or the log). An existing directory is reopened: newest valid snapshot (among
 * those the WAL has markers for), the store (restored from the snapshot if it is behind it), the
 * WAL replayed after the snapshot. Committed entries after the snapshot are re-applied: the store
 * skips what it already has (its consistent index), raft and the membership replay conf changes.
 *
 * ## Reads and writes
 * Writes are proposed with a request id and answered when the proposing node applies them (a
 * follower's proposal travels to the leader inside raft as MsgProp). Linearizable reads wait for
 * a ReadIndex round: reads arriving while a round is in flight share the next one. Serializable
 * reads are served from local state at once.
 */
import { takeSnapshot } from './snapshots'
import { Applier } from './apply'
import { ReadIndexQueue } from './read-index'
import { systemClock, type Clock } from '../kernel/clock'
import { sendOrder } from '../raft/send-order'
import type { Logger } from '../kernel/logger'
import { EtcdServerError } from '../kernel/etcd-errors'
import { RaftdeskError } from '../errors'
import type { RangeRequest, RangeResponse, WriteOp, WriteResult } from '../mvcc/types'
import type { MvccStore, StoreOptions } from '../mvcc/store'
import type { AuthInfo } from '../mvcc/auth'
import { AUTH_TOKEN_TTL_MS_DEFAULT, tokenIndex, TokenKeeper } from './auth-tokens'
import type { MemoryStorage } from '../raft'
import {
  ConfChangePendingError,
  ProposalError,
  RawNode,
  ReadIndexDroppedError,
  createPrng,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type ProgressStatus,
  type Ready,
  type Role,
} from '../raft'
import { openSnapshot, readSnapshotFile, receiveSnapshot, retainSnapshots } from '../snap'
import type { PeerTransport } from '../transport/types'
import type { Wal, WalOptions } from '../wal'
import { RequestIdGenerator } from './ids'
import { loadNode, nodeDataDirs, type NodeInit } from './node-open'
import type { Membership } from './members'
import { encodeChangeContext, type MemberContext } from './members'
import type { Member } from '../kernel/member'
import { APPLY_LAG_ENTRIES_MAX, raftRefusalAnswer, writeDeadlineAnswer } from './answers'
import { encodeRequest } from './request-codec'
import { TooManyRequestsError, WaitRegistry } from './wait'
import { EventRing } from './events'
import { LatencyWindow, type LatencySummary } from './latency'

export interface InitialMember {
  name: string
  /** etcd-style URLs: http://host:port */
  peerUrl: string
  clientUrl: string
}

export interface RaftdeskNodeOptions {
  name: string
  dataDir: string
  token: string
  peerUrl: string
  clientUrl: string
  /** A new cluster: its initial members, this one among them. Ignored when data exists. */
  bootstrap?: { members: InitialMember[] }
  /** An existing cluster that already added this member (as a learner or voter). */
  join?: { memberId: number; clusterId: number; members: Member[] }
  tickMs: number
  electionTicksMin: number
  electionTicksMax: number
  heartbeatTicks: number
  /** Applied entries between two snapshots. */
  snapshotCount: number
  /** Entries kept in the raft log behind a snapshot, for followers slightly behind. */
  snapshotCatchUpEntries: number
  requestTimeoutMs: number
  /** Requests waiting for apply or a read index at once. */
  pendingRequestsMax: number
  /** Committed entries not yet applied beyond which proposals are refused (etcd: 5,000). */
  applyLagEntriesMax?: number
  /** How long an auth token lives after its last use (etcd's --auth-token-ttl; 300 s). */
  authTokenTtlMs?: number
  /** Builds the peer transport once the member and cluster ids are known. */
  transportFactory: (memberId: number, clusterId: number) => PeerTransport
  logger: Logger
  /**
   * What lease expiry, auth token expiry, the deadlines of writes, membership changes and
   * linearizable reads, and the leadership times behind etcd's timeout answers count in (the
   * system clock by default; tests pass a ManualClock). The lease check still runs every 500 ms
   * of real time and reads it. Deadlines shared with the network (a gRPC call's, a forwarded
   * call's) and network retries stay in wall time.
   */
  clock?: Clock
  wal?: WalOptions
  store?: StoreOptions
}

export const NODE_DEFAULTS = {
  tickMs: 10,
  electionTicksMin: 15,
  electionTicksMax: 30,
  heartbeatTicks: 5,
  snapshotCount: 10_000,
  snapshotCatchUpEntries: 5_000,
  requestTimeoutMs: 7_000,
  pendingRequestsMax: 100_000,
} as const

/** A membership change to propose: the member's record rides along when it is added. */
export interface MembershipChange {
  type: ConfChange['type']
  nodeId: number
  member?: MemberContext
}

/** The live picture of the node: what status streams and the UI show. */
export interface NodeRuntimeStatus {
  id: number
  name: string
  clusterId: number
  role: Role
  term: number
  vote: number
  lead: number
  commit: number
  applied: number
  lastIndex: number
  stableIndex: number
  firstIndex: number
  snapshotIndex: number
  revision: number
  compactRevision: number
  confState: ConfState
  members: Member[]
  /** Leader only: its view of every other member. */
  progress: Record<number, ProgressStatus>
  leadTransferee: number
  electionElapsedTicks: number
  electionTimeoutTicks: number
  /** Writes proposed on this node since it started (counted when proposed). */
  proposals: number
  /** Peer messages sent and received since start (every peer summed). */
  messagesSent: number
  messagesReceived: number
  /** Proposal-to-apply time of this node's writes over the last second. */
  writeLatency: LatencySummary
}

/** Unreachable events for one peer closer together than this are one burst. */
const UNREACHABLE_EVENT_GAP_MS = 5_000

const ROLE_TEXT: Record<Role, string> = {
  follower: 'follower',
  preCandidate: 'pre-candidate',
  candidate: 'candidate',
  leader: 'leader',
  learner: 'learner',
}

const CONF_CHANGE_TEXT: Record<ConfChange['type'], string> = {
  addVoter: 'added voter',
  addLearner: 'added learner',
  promoteLearner: 'promoted learner',
  removeNode: 'removed',
  updateNode: 'updated',
}

export class NodeStoppedError extends EtcdServerError {
  constructor(detail: string) {
    super('STOPPED', detail)
  }
}

export class RaftdeskNode {
  readonly id: number
  readonly clusterId: number
  readonly name: string
  readonly store: MvccStore
  readonly membership: Membership
  private readonly raft: RawNode
  private readonly storage: MemoryStorage
  private readonly wal: Wal
  private readonly transport: PeerTransport
  private readonly options: RaftdeskNodeOptions
  private readonly log: Logger
  private readonly snapDir: string
  // The wall clock on purpose: request ids stay unique across restarts (see ids.ts).
  private readonly requestIds = new RequestIdGenerator(Date.now())
  private readonly writes: WaitRegistry<WriteResult>
  /** Auth tokens this member knows (auth-tokens.ts), filled as authenticate entries apply. */
  readonly tokens: TokenKeeper
  /** Calls waiting until this member has applied an index (a token issued there). */
  private appliedWaiters: Array<{
    index: number
    done: () => void
    fail: (err: Error) => void
  }> = []
  private readonly confChanges: WaitRegistry<ConfState>
  private role: Role = 'follower'
  private lead = 0
  private term = 0
  private durableHardState: HardState
  private snapshotIndex: number
  private snapshotInFlight = false
  private loopRunning = false
  private wakeLoop: (() => void) | null = null
  private ticker: NodeJS.Timeout | null = null
  private leaseTimer: NodeJS.Timeout | null = null
  private stopping = false
  /** Set once this member knows it was removed from the cluster (it then stops). */
  private removed = false
  private stopped = false
  private stopReason = ''
  private fatal: Error | null = null
  private readonly stoppedWaiters: Array<(reason: string) => void> = []
  /** Proposals held while this node knows no leader (see afterLeaderKnown). */
  private readonly leaderWaiters = new Set<() => void>()
  /** Conf changes raft refused while another was pending; retried after each advance. */
  private confChangesWaiting: Array<() => void> = []
  private readonly statusListeners = new Set<() => void>()
  private readonly reads: ReadIndexQueue
  private readonly applier: Applier
  /** See RaftdeskNodeOptions.clock. */
  readonly clock: Clock
  /** When this member last became leader (etcd's leadElectedTime), 0 before that. */
  private leaderElectedAtMs = 0
  /** What happened to this node lately (events.ts), read through the admin port. */
  readonly events: EventRing
  private proposals = 0
  /** The last log index when the node opened: applying up to it replays what happened before. */
  private readonly replayedToIndex: number
  private readonly latency = new LatencyWindow()
  /** When each peer was last recorded unreachable: one event per peer per burst. */
  private readonly unreachableAtMs = new Map<number, number>()

  private constructor(init: NodeInit) {
    this.options = init.options
    this.log = init.options.logger
    this.id = init.id
    this.clusterId = init.clusterId
    this.name = init.options.name
    this.store = init.store
    this.membership = init.membership
    this.storage = init.storage
    this.wal = init.wal
    this.snapshotIndex = init.snapshotIndex
    this.snapDir = nodeDataDirs(init.options.dataDir).snapDir
    this.durableHardState = init.storage.initialState().hardState
    this.events = new EventRing(this.name)
    this.replayedToIndex = init.storage.lastIndex()
    this.term = this.durableHardState.term
    this.clock = init.options.clock ?? systemClock
    this.writes = new WaitRegistry(init.options.pendingRequestsMax, 'request', this.clock)
    const clock = this.clock
    this.tokens = new TokenKeeper(init.options.authTokenTtlMs ?? AUTH_TOKEN_TTL_MS_DEFAULT, () =>
      clock.now(),
    )
    this.confChanges = new WaitRegistry(1024, 'membership change', this.clock)
    // The seed only needs to differ between members and runs: any entropy will do.
    const seed = (Date.now() ^ (process.pid << 8) ^ this.id) >>> 0
    this.raft = new RawNode({
      id: this.id,
      storage: this.storage,
      prng: createPrng(seed),
      electionTicksMin: init.options.electionTicksMin,
      electionTicksMax: init.options.electionTicksMax,
      heartbeatTicks: init.options.heartbeatTicks,
      applied: init.applied,
      logger: this.log,
    })
    this.reads = new ReadIndexQueue({
      readIndex: (ctx) => {
        this.raft.readIndex(ctx)
        this.wake()
      },
      // Re-asking a lost round is a network retry: real time, whatever the node's clock.
      clock: systemClock,
      reissueAfterMs: init.options.tickMs * init.options.electionTicksMin,
      retryMs: init.options.tickMs * init.options.heartbeatTicks,
    })
    this.transport = init.options.transportFactory(this.id, this.clusterId)
    this.applier = new Applier(
      {
        id: this.id,
        store: this.store,
        membership: this.membership,
        raft: this.raft,
        transport: this.transport,
        wal: this.wal,
        snapDir: this.snapDir,
        tokens: this.tokens,
        writes: this.writes,
        confChanges: this.confChanges,
        log: this.log,
        // Entries the WAL held at open are replayed, not new: only later changes are events.
        onConfChange: (type, id, name, index) =>
          index > this.replayedToIndex &&
          this.events.record({
            kind: 'confChange',
            term: this.term,
            text: `membership: ${CONF_CHANGE_TEXT[type]} ${name || id.toString(16)}`,
            detail: type,
          }),
      },
      { applied: init.applied, confState: init.confState },
    )
    this.listenToPeers()
  }

  /** Opens (or creates) the node's data directory; start() then joins the cluster. */
  static async open(options: RaftdeskNodeOptions): Promise<RaftdeskNode> {
    return new RaftdeskNode(await loadNode(options))
  }

  /** Starts the transport, the clock and the Ready loop. */
  async start(): Promise<void> {
    await this.transport.start()
    for (const m of this.membership.list()) this.applier.connectPeer(m)
    this.ticker = setInterval(() => this.onTick(), this.options.tickMs)
    this.leaseTimer = setInterval(() => this.checkLeases(), 500)
    this.ticker.unref?.()
    this.leaseTimer.unref?.()
    void this.runLoop()
    this.events.record({
      kind: 'started',
      term: this.term,
      text: `started at index ${this.storage.lastIndex()}, term ${this.term}`,
    })
  }

  /** A member's name for events (its id in hex while the member is unknown). */
  private nameOf(id: number): string {
    return this.membership.get(id)?.name || id.toString(16)
  }

  /** What the transport hands over: messages, snapshots, unreachable peers, removal. */
  private listenToPeers(): void {
    this.transport.onMessage((m) => this.onPeerMessage(m))
    this.transport.onUnreachable((id) => {
      this.raft.reportUnreachable(id)
      this.recordUnreachable(id)
      this.wake()
    })
    this.transport.onSnapshot((m, image) => this.onPeerSnapshot(m, image))
    // Members this node knows removed are refused, and told so; a member that applied our
    // removal refuses us in turn: stop, as applying the removal ourselves would have done.
    this.transport.refuseRemoved((id) => this.membership.isRemoved(id))
    this.transport.onRemoved((by) => {
      if (this.stopping) return
      this.log.warn(`member ${by} says this member was removed from the cluster`)
      this.removed = true
      void this.shutdown('removed from the cluster')
    })
  }

  // -----------------------------------------------------------------------------------------------
  // Public operations

  /** True once this member learnt that the cluster removed it (applied, or told by a peer). */
  get wasRemoved(): boolean {
    return this.removed
  }

  get isStopped(): boolean {
    return this.stopped
  }

  get leaderId(): number {
    return this.lead
  }

  get raftTerm(): number {
    return this.term
  }

  get isLeader(): boolean {
    return this.role === 'leader'
  }

  get isLearner(): boolean {
    return this.applier.confState.learners.includes(this.id)
  }

  /**
   * Proposes a write and resolves with its result once this node has applied it, whatever this
   * node's role by then; or rejects at the request deadline (answers.ts says with what). A write
   * that may still commit is never failed early: a client would retry it into a second copy.
   */
  async propose(
    op: WriteOp,
    opts: { signal?: AbortSignal; who?: AuthInfo } = {},
  ): Promise<WriteResult> {
    this.assertRunning()
    this.checkApplyLag()
    const id = this.requestIds.nextId()
    const data = encodeRequest(opts.who ? { id, op, who: opts.who } : { id, op })
    const startMs = Date.now()
    const result = await this.track(this.writes, id, opts.signal, () => {
      this.proposals++
      try {
        this.raft.propose(data)
      } catch (err) {
        this.writes.reject(id, this.translateRaftError(err))
      }
      this.wake()
    })
    const nowMs = Date.now()
    this.latency.add(nowMs, nowMs - startMs)
    return result
  }

  /**
   * Registers request `id` and runs `attempt` (which proposes it) once a leader is known. The
   * request is answered when this member applies it, or at its deadline with etcd's answer for
   * how far it got (deadlineError); a client that goes away (`signal`) before `attempt` ran
   * takes the request with it, as etcd's Propose returns with its context. Once proposed, a
   * request may still commit, whatever its client does.
   */
  private track<T>(
    registry: WaitRegistry<T>,
    id: number,
    signal: AbortSignal | undefined,
    attempt: () => void,
  ): Promise<T> {
    if (signal?.aborted) throw new EtcdServerError('CANCELED', 'the client went away')
    const startMs = this.clock.now()
    let proposed = false
    let stopWaiting = () => {}
    const done = registry.register(id, this.options.requestTimeoutMs, () => {
      stopWaiting()
      return this.deadlineError(startMs, proposed)
    })
    stopWaiting = this.afterLeaderKnown(() => {
      if (!registry.has(id)) return // its deadline passed or its client went: it was answered
      proposed = true
      attempt()
    })
    if (signal && !proposed) {
      const onAbort = () => {
        if (proposed) return
        stopWaiting()
        registry.reject(id, new EtcdServerError('CANCELED', 'the client went away'))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      const forget = () => signal.removeEventListener('abort', onAbort)
      void done.then(forget, forget)
    }
    return done
  }

  /**
   * Runs a proposal now if this node knows a leader, else once it learns of one, as etcd's raft
   * node holds proposals while it has no leader. A follower hears of a new leader from its first
   * append, a moment after the election: a write arriving in that gap (or during an election)
   * waits for it rather than failing. The request's own deadline bounds the wait (and calls the
   * returned function, so that nothing is proposed for a client that was already answered).
   */
  private afterLeaderKnown(propose: () => void): () => void {
    if (this.lead !== 0) {
      propose()
      return () => {}
    }
    const run = () => {
      this.leaderWaiters.delete(run)
      if (!this.stopping) propose()
    }
    this.leaderWaiters.add(run)
    return () => this.leaderWaiters.delete(run)
  }

  /**
   * etcd's backpressure: too far behind in applying, new proposals are refused. The commit index
   * is raft's own (it moves as messages arrive, while the Ready loop may be busy applying).
   */
  private checkApplyLag(): void {
    const lag = this.raft.committedIndex - this.applier.appliedIndex
    if (lag > (this.options.applyLagEntriesMax ?? APPLY_LAG_ENTRIES_MAX)) {
      throw new EtcdServerError('TOO_MANY_REQUESTS', `${lag} committed entries not yet applied`)
    }
  }

  /** The error for a write or membership change whose deadline passed (etcd's choice). */
  private deadlineError(startMs: number, proposed: boolean): EtcdServerError {
    const code = writeDeadlineAnswer({
      startMs,
      proposed,
      leaderElectedAtMs: this.leaderElectedAtMs,
      electionTimeoutMs: this.options.tickMs * this.options.electionTicksMin,
      leaderReachable: () => this.leaderReachable(),
    })
    const waited = `${this.options.requestTimeoutMs} ms`
    return new EtcdServerError(
      code,
      proposed ? `not applied here within ${waited}` : `no leader to propose to within ${waited}`,
    )
  }

  /** On the leader: a quorum of voters is connected; elsewhere: the leader is connected. */
  private leaderReachable(): boolean {
    if (this.lead === 0) return true // etcd's answer then is the plain timeout
    const connected = new Set(
      this.transport
        .stats()
        .peers.filter((p) => p.connected)
        .map((p) => p.id),
    )
    if (this.lead !== this.id) return connected.has(this.lead)
    const voters = this.applier.confState.voters
    const reachable = voters.filter((v) => v === this.id || connected.has(v)).length
    return reachable > voters.length / 2
  }

  /**
   * Runs `call` against the leader's clock, as etcd does for lease renewals: on this member when
   * it leads, else through `forward`; without a leader it waits for one, and a forward that fails
   * because leadership moved is tried again, until the request deadline (then "no leader" if no
   * leader came, else "request timed out").
   */
  async leaderCall<T>(
    local: () => T | Promise<T>,
    forward: (deadlineMs: number) => Promise<T>,
  ): Promise<T> {
    this.assertRunning()
    // Wall time, not the node's clock: the deadline also bounds the gRPC call to the leader.
    const deadline = Date.now() + this.options.requestTimeoutMs
    const electionMs = this.options.tickMs * this.options.electionTicksMin
    for (;;) {
      if (this.isLeader) {
        try {
          return await local()
        } catch (err) {
          // Leadership moved while it ran (it may wait for the apply): ask the new leader.
          if (!isLeadershipMiss(err)) throw err
        }
      } else if (this.lead !== 0) {
        try {
          return await forward(deadline)
        } catch (err) {
          if (!isLeadershipMiss(err)) throw err
        }
      }
      const leftMs = deadline - Date.now()
      if (leftMs <= 0) {
        // etcd: no leader known at the deadline is "no leader"; a leader that did not answer,
        // a timeout.
        throw new EtcdServerError(this.lead === 0 ? 'NO_LEADER' : 'TIMEOUT', 'leader call')
      }
      await new Promise((r) => setTimeout(r, Math.min(electionMs, leftMs)))
      this.assertRunning()
    }
  }

  /** A range read: linearizable through ReadIndex unless `serializable`. */
  /**
   * etcd's Range with its auth check (doSerialize): read permission on the range against the
   * state the read sees, then the read, and "revision of auth store is old" if the auth state
   * changed while it ran. As in etcd, a linearizable read looks its token up after the barrier:
   * a token whose user lost it meanwhile (password changed, deleted) is invalid by then.
   */
  async range(req: RangeRequest, who?: AuthInfo, token?: string): Promise<RangeResponse> {
    this.assertRunning()
    if (!req.serializable) {
      await this.linearizableBarrier()
      if (token !== undefined) who = this.tokenHolder(token)
    }
    this.store.auth.checkRead(who, req.key, req.rangeEnd)
    const res = this.store.range(req)
    if (who && who.revision !== 0 && who.revision !== this.store.auth.revision) {
      throw new EtcdServerError('AUTH_OLD_REVISION', 'auth changed during the read')
    }
    return res
  }

  /**
   * Who a token belongs to, with the auth revision now (etcd's AuthInfoFromCtx). A token issued
   * by an entry this member has not applied yet waits for it, until `deadlineMs`.
   */
  async authInfo(token: string, deadlineMs: number): Promise<AuthInfo> {
    this.assertRunning()
    const index = tokenIndex(token)
    if (index === undefined) throw new EtcdServerError('INVALID_AUTH_TOKEN', 'malformed token')
    if (index > this.applier.appliedIndex) await this.appliedAtLeast(index, deadlineMs)
    return this.tokenHolder(token)
  }

  /** Who holds a token this member has applied, with the auth revision now. */
  private tokenHolder(token: string): AuthInfo {
    const user = this.tokens.user(token)
    if (user === undefined) throw new EtcdServerError('INVALID_AUTH_TOKEN', 'unknown or expired')
    return { user, revision: this.store.auth.revision }
  }

  /**
   * etcd's waitAppliedIndex: resolves once this member has applied everything committed when it
   * was called. The leader does this before it renews a lease or tells its time to live, so that
   * a lease granted through another member a moment ago is there (that member may apply the grant
   * before the leader does).
   */
  async appliedCommitted(deadlineMs: number): Promise<void> {
    const commit = this.commitIndex()
    if (commit <= this.applier.appliedIndex) return
    await this.appliedAtLeast(commit, deadlineMs, 'TIMEOUT_WAIT_APPLIED_INDEX')
  }

  /** Resolves once this member has applied `index`; rejects at `deadlineMs` with `code`. */
  private appliedAtLeast(
    index: number,
    deadlineMs: number,
    code: 'INVALID_AUTH_TOKEN' | 'TIMEOUT_WAIT_APPLIED_INDEX' = 'INVALID_AUTH_TOKEN',
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        index,
        done: () => (clearTimeout(timer), resolve()),
        fail: (err: Error) => (clearTimeout(timer), reject(err)),
      }
      // deadlineMs is the gRPC call's, in wall time.
      const timer = setTimeout(
        () => {
          this.appliedWaiters = this.appliedWaiters.filter((w) => w !== waiter)
          reject(new EtcdServerError(code, `entry ${index} not applied in time`))
        },
        Math.max(0, deadlineMs - Date.now()),
      )
      this.appliedWaiters.push(waiter)
    })
  }

  /** Resolves when this node has applied everything committed before the call (ReadIndex). */
  linearizableBarrier(): Promise<void> {
    this.assertRunning()
    if (this.reads.size >= this.options.pendingRequestsMax) {
      throw new TooManyRequestsError(this.options.pendingRequestsMax)
    }
    return new Promise<void>((resolve, reject) => {
      const cancelTimer = this.clock.after(this.options.requestTimeoutMs, () => {
        this.reads.remove(serve)
        reject(
          new EtcdServerError(
            'TIMEOUT',
            this.lead === 0 ? 'no leader for a linearizable read' : 'linearizable read timed out',
          ),
        )
      })
      const serve = () => {
        cancelTimer()
        resolve()
      }
      this.reads.add(serve)
    })
  }

  /** Proposes a membership change; resolves with the new ConfState once applied here. */
  async changeMembership(change: MembershipChange): Promise<ConfState> {
    this.assertRunning()
    const id = this.requestIds.nextId()
    const cc: ConfChange = {
      type: change.type,
      nodeId: change.nodeId,
      context: encodeChangeContext(change.member ?? null, id),
    }
    const attempt = () => {
      if (!this.confChanges.has(id)) return // timed out or rejected meanwhile
      try {
        this.raft.proposeConfChange(cc)
      } catch (err) {
        // The previous change (or a new leader's first entry) is not applied yet: one change
        // at a time, so this one waits its turn (bounded by its request timeout) rather than
        // failing a `member add` sent right after another, or right after an election.
        if (err instanceof ConfChangePendingError && !this.stopping) {
          this.confChangesWaiting.push(attempt)
          return
        }
        this.confChanges.reject(id, this.translateRaftError(err))
      }
      this.wake()
    }
    return this.track(this.confChanges, id, undefined, attempt)
  }

  /** The leader's view of a member's replication (0 when unknown or not the leader). */
  matchOf(id: number): number {
    const p = this.raft.status().progress[id]
    return p ? p.match : 0
  }

  /** How long a request may take (its deadline from now). */
  get requestTimeoutMs(): number {
    return this.options.requestTimeoutMs
  }

  commitIndex(): number {
    return this.raft.committedIndex
  }

  transferLeadership(to: number): void {
    this.assertRunning()
    try {
      this.raft.transferLeadership(to)
    } catch (err) {
      throw this.translateRaftError(err)
    }
    this.wake()
  }

  /** Starts an election here; `force` sets the leader lease aside (rawnode.ts campaign). */
  campaign(opts: { force?: boolean } = {}): void {
    this.assertRunning()
    this.raft.campaign(opts)
    this.wake()
  }

  setLinkFault(...args: Parameters<PeerTransport['setLinkFault']>): void {
    this.transport.setLinkFault(...args)
    const [peer, fault, direction] = args
    const what = [
      fault.drop ? 'cut' : '',
      fault.delayMs ? `delay ${fault.delayMs} ms` : '',
      fault.lossRate ? `loss ${Math.round(fault.lossRate * 100)}%` : '',
    ].filter(Boolean)
    this.events.record({
      kind: 'fault',
      term: this.term,
      text: `link to ${this.nameOf(peer)} (${direction ?? 'both'}): ${what.join(', ') || 'healed'}`,
    })
  }

  healLinks(): void {
    this.transport.healLink()
    this.events.record({ kind: 'fault', term: this.term, text: 'links healed' })
  }

  /** Records an unreachable peer once per burst (the transport reports it per lost message). */
  private recordUnreachable(id: number): void {
    const now = Date.now()
    if (now - (this.unreachableAtMs.get(id) ?? 0) < UNREACHABLE_EVENT_GAP_MS) return
    this.unreachableAtMs.set(id, now)
    this.events.record({
      kind: 'unreachable',
      term: this.term,
      text: `${this.nameOf(id)} unreachable`,
      detail: this.nameOf(id),
    })
  }

  /** Log entries [lo, hi) as they are now, unstable ones included (the admin port's log view). */
  logEntries(lo: number, hi: number): Entry[] {
    return this.raft.entriesBetween(lo, hi)
  }

  transportStats() {
    return this.transport.stats()
  }

  status(): NodeRuntimeStatus {
    const s = this.raft.status()
    return {
      id: this.id,
      name: this.name,
      clusterId: this.clusterId,
      role: s.role,
      term: s.term,
      vote: s.vote,
      lead: s.lead,
      commit: s.commit,
      applied: this.applier.appliedIndex,
      lastIndex: s.lastIndex,
      stableIndex: s.stableIndex,
      firstIndex: s.firstIndex,
      snapshotIndex: this.snapshotIndex,
      revision: this.store.revision,
      compactRevision: this.store.compactedRevision,
      confState: s.confState,
      members: this.membership.list(),
      progress: s.progress,
      leadTransferee: s.leadTransferee,
      electionElapsedTicks: s.electionElapsedTicks ?? 0,
      electionTimeoutTicks: s.electionTimeoutTicks ?? 0,
      proposals: this.proposals,
      ...this.messageCounts(),
      writeLatency: this.latency.summary(Date.now()),
    }
  }

  private messageCounts(): { messagesSent: number; messagesReceived: number } {
    let sent = 0
    let received = 0
    for (const p of this.transport.stats().peers) {
      sent += p.sentMessages
      received += p.receivedMessages
    }
    return { messagesSent: sent, messagesReceived: received }
  }

  onStatusChange(listener: () => void): () => void {
    this.statusListeners.add(listener)
    return () => this.statusListeners.delete(listener)
  }

  /** Resolves with the reason when the node stops (stop(), removal, a fatal error). */
  whenStopped(): Promise<string> {
    if (this.stopped) return Promise.resolve(this.stopReason)
    return new Promise((resolve) => this.stoppedWaiters.push(resolve))
  }

  /**
   * Stops the node. With transferLeadership, a leader first hands leadership to its most
   * caught-up voter and waits (up to an election timeout) for it to take over.
   */
  async stop(opts: { transferLeadership?: boolean; reason?: string } = {}): Promise<void> {
    if (this.stopping) return this.whenStopped().then(() => undefined)
    if (opts.transferLeadership && this.role === 'leader') await this.handOver()
    await this.shutdown(opts.reason ?? 'stopped')
  }

  // -----------------------------------------------------------------------------------------------
  // Inputs

  private onTick(): void {
    if (this.stopping) return
    this.raft.tick()
    this.wake()
  }

  private onPeerMessage(m: Message): void {
    if (this.stopping) return
    if ((m.type === 'MsgVoteResp' || m.type === 'MsgPreVoteResp') && m.term >= this.term) {
      const pre = m.type === 'MsgPreVoteResp' ? 'pre-vote' : 'vote'
      this.events.record({
        kind: 'vote',
        term: m.term,
        text: `${this.nameOf(m.from)} ${m.reject ? 'refused' : 'granted'} its ${pre}`,
        detail: this.nameOf(m.from),
        granted: !m.reject,
      })
    }
    try {
      this.raft.step(m)
    } catch (err) {
      // A forwarded proposal or read that raft refuses is dropped; its client times out.
      if (!(err instanceof ProposalError || err instanceof ReadIndexDroppedError)) {
        this.fail(err)
        return
      }
    }
    this.wake()
  }

  private async onPeerSnapshot(m: Message, image: AsyncIterable<Uint8Array>): Promise<void> {
    if (this.stopping || !m.snapshot) throw new NodeStoppedError('not accepting snapshots')
    const meta = m.snapshot.metadata
    const info = await receiveSnapshot(this.snapDir, image, {
      expected: { index: meta.index, term: meta.term },
    })
    this.log.info(`received snapshot ${info.name} (${info.fileBytes} bytes) from ${m.from}`)
    this.events.record({
      kind: 'snapshotReceived',
      term: this.term,
      text: `received snapshot at index ${meta.index} (${info.fileBytes} bytes) from ${this.nameOf(m.from)}`,
      detail: String(info.fileBytes),
    })
    this.onPeerMessage(m)
  }

  private wake(): void {
    const w = this.wakeLoop
    if (w) {
      this.wakeLoop = null
      w()
    }
  }

  // -----------------------------------------------------------------------------------------------
  // The Ready loop

  private async runLoop(): Promise<void> {
    if (this.loopRunning) return
    this.loopRunning = true
    try {
      while (!this.stopping) {
        if (!this.raft.hasReady()) {
          await new Promise<void>((resolve) => (this.wakeLoop = resolve))
          continue
        }
        await this.handleReady(this.raft.ready())
      }
    } catch (err) {
      this.fail(err)
    } finally {
      this.loopRunning = false
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState) this.onSoftState(rd.softState.role, rd.softState.lead)
    if (rd.hardState) this.term = rd.hardState.term

    // A leader's appends go out while its own write runs; the rest waits for the disk.
    const { early, later } = sendOrder(rd, this.role, this.durableHardState)
    if (early.length > 0) this.sendMessages(early)

    // Both are queued before either is awaited, so that they share one fsync.
    const marker = rd.snapshot
      ? this.wal.saveSnapshot(
          { index: rd.snapshot.metadata.index, term: rd.snapshot.metadata.term },
          { replacesLog: true },
        )
      : null
    const saved =
      rd.hardState || rd.entries.length > 0 ? this.wal.save(rd.hardState, rd.entries) : null
    await marker
    await saved
    if (rd.hardState) this.durableHardState = rd.hardState

    if (rd.snapshot) this.storage.applySnapshot(rd.snapshot)
    if (rd.entries.length > 0) this.storage.append(rd.entries)
    if (rd.hardState) this.storage.setHardState(rd.hardState)

    this.sendMessages(later)

    if (rd.snapshot) {
      await this.applier.applySnapshot(rd.snapshot)
      this.snapshotIndex = rd.snapshot.metadata.index
    }
    await this.applier.applyEntries(rd.committedEntries)
    for (const rs of rd.readStates) this.reads.onReadState(rs.requestCtx, rs.index)
    this.serveAppliedWaiters()
    this.reads.serve(this.applier.appliedIndex)

    this.raft.advance(rd)
    if (this.confChangesWaiting.length > 0 && rd.committedEntries.length > 0) {
      for (const attempt of this.confChangesWaiting.splice(0)) attempt()
    }
    this.notifyStatus()
    if (this.applier.removedSelf) {
      this.removed = true
      void this.shutdown('removed from the cluster')
      return
    }
    this.maybeSnapshot()
  }

  private sendMessages(messages: Message[]): void {
    const plain: Message[] = []
    for (const m of messages) {
      if (m.type === 'MsgSnap') this.sendSnapshot(m)
      else plain.push(m)
      if (m.type === 'MsgVoteResp' || m.type === 'MsgPreVoteResp') this.recordVoteGiven(m)
    }
    if (plain.length > 0) this.transport.send(plain)
  }

  private sendSnapshot(m: Message): void {
    const meta = m.snapshot!.metadata
    const to = m.to
    this.log.info(`sending snapshot ${meta.term}/${meta.index} to ${to}`)
    openSnapshot(this.snapDir, { index: meta.index, term: meta.term })
      .then((snap) => this.transport.sendSnapshot(to, m, () => readSnapshotFile(snap.path)))
      .then(
        () => {
          this.raft.reportSnapshot(to, 'finish')
          this.events.record({
            kind: 'snapshotSent',
            term: this.term,
            text: `sent snapshot at index ${meta.index} to ${this.nameOf(to)}`,
          })
          this.wake()
        },
        (err: unknown) => {
          this.log.warn(`snapshot to ${to} failed: ${(err as Error).message}`)
          this.raft.reportSnapshot(to, 'failure')
          this.wake()
        },
      )
  }

  private recordVoteGiven(m: Message): void {
    const pre = m.type === 'MsgPreVoteResp' ? 'pre-vote' : 'vote'
    this.events.record({
      kind: 'voted',
      term: m.term,
      text: `${m.reject ? 'refused' : 'granted'} ${pre} to ${this.nameOf(m.to)}`,
      detail: this.nameOf(m.to),
      granted: !m.reject,
    })
  }

  private onSoftState(role: Role, lead: number): void {
    const wasLeader = this.role === 'leader'
    if (role !== this.role) {
      this.events.record({
        kind: 'role',
        term: this.raft.status().term,
        text: `became ${ROLE_TEXT[role]}`,
        detail: role,
      })
    }
    if (lead !== this.lead) {
      this.events.record({
        kind: 'leader',
        term: this.raft.status().term,
        text: lead === 0 ? 'lost the leader' : `leader is ${this.nameOf(lead)}`,
        detail: lead === 0 ? '' : this.nameOf(lead),
      })
    }
    this.role = role
    if (lead !== this.lead) {
      this.log.info(lead === 0 ? 'lost the leader' : `leader is now ${lead}`)
      // Writes waiting here stay waiting: the new leader may still commit them, and this member
      // answers each when it applies it (or at its deadline). Failing them now with an error
      // that clients retry would write them twice.
    }
    this.lead = lead
    if (lead !== 0) for (const run of [...this.leaderWaiters]) run()
    if (role === 'leader' && !wasLeader) {
      // etcd's leadElectedTime: only the member that becomes leader records it.
      this.leaderElectedAtMs = this.clock.now()
      this.store.lessor.promote(this.clock.now())
    } else if (role !== 'leader' && wasLeader) {
      this.store.lessor.demote()
    }
  }

  // -----------------------------------------------------------------------------------------------
  // Linearizable reads (ReadIndex, batched in read-index.ts) and applied-index waiters

  /** Wakes those waiting for an applied index (a token's issue, a barrier). */
  private serveAppliedWaiters(): void {
    if (this.appliedWaiters.length === 0) return
    const ready = this.appliedWaiters.filter((w) => w.index <= this.applier.appliedIndex)
    this.appliedWaiters = this.appliedWaiters.filter((w) => w.index > this.applier.appliedIndex)
    for (const w of ready) w.done()
  }

  // -----------------------------------------------------------------------------------------------
  // Snapshots and compaction

  private maybeSnapshot(): void {
    if (this.snapshotInFlight) return
    if (this.applier.appliedIndex - this.snapshotIndex < this.options.snapshotCount) return
    void this.snapshotNow().catch((err: unknown) => {
      this.log.error(`snapshot failed: ${(err as Error).message}`)
    })
  }

  /** Saves a snapshot at the applied index and compacts behind it. */
  async snapshotNow(): Promise<number> {
    if (this.snapshotInFlight) return this.snapshotIndex
    this.snapshotInFlight = true
    try {
      const index = this.applier.appliedIndex
      if (index <= this.snapshotIndex) return this.snapshotIndex
      const info = await takeSnapshot(
        {
          snapDir: this.snapDir,
          wal: this.wal,
          storage: this.storage,
          store: this.store,
          membership: this.membership,
          confState: this.applier.confState,
          catchUpEntries: this.options.snapshotCatchUpEntries,
        },
        index,
      )
      this.snapshotIndex = index
      await retainSnapshots(this.wal, this.snapDir)
      this.log.info(`saved snapshot ${info.name} (${info.fileBytes} bytes)`)
      this.events.record({
        kind: 'snapshotTaken',
        term: this.term,
        text: `saved snapshot at index ${index} (${info.fileBytes} bytes)`,
      })
      return index
    } finally {
      this.snapshotInFlight = false
    }
  }

  // -----------------------------------------------------------------------------------------------
  // Leases

  private checkLeases(): void {
    if (this.role !== 'leader' || this.stopping) return
    for (const id of this.store.lessor.expired(this.clock.now())) {
      this.propose({ type: 'leaseRevoke', leaseRevoke: { id } }).catch((err: unknown) =>
        this.log.debug(`revoking expired lease ${id}: ${(err as Error).message}`),
      )
    }
  }

  // -----------------------------------------------------------------------------------------------
  // Stopping

  /** Hands leadership to the most caught-up voter and waits for it to take over (leader only). */
  async handOverLeadership(): Promise<void> {
    if (this.role === 'leader') await this.handOver()
  }

  private async handOver(): Promise<void> {
    const s = this.raft.status()
    const candidates = s.confState.voters
      .filter((id) => id !== this.id)
      .sort((a, b) => (s.progress[b]?.match ?? 0) - (s.progress[a]?.match ?? 0))
    const to = candidates[0]
    if (to === undefined) return
    try {
      this.raft.transferLeadership(to)
      this.wake()
    } catch (err) {
      this.log.warn(`could not hand leadership to ${to}: ${(err as Error).message}`)
      return
    }
    // Real time, not the node's clock: a bounded wait for the transfer, polled while it runs.
    const deadline = Date.now() + this.options.tickMs * this.options.electionTicksMax * 2
    while (Date.now() < deadline && (this.lead === this.id || this.lead === 0)) {
      await new Promise((r) => setTimeout(r, this.options.tickMs))
    }
    this.log.info(
      this.lead === this.id ? `leadership stayed here` : `handed leadership to ${this.lead}`,
    )
  }

  private async shutdown(reason: string): Promise<void> {
    if (this.stopping) return
    this.stopping = true
    this.reads.stop()
    if (this.ticker) clearInterval(this.ticker)
    if (this.leaseTimer) clearInterval(this.leaseTimer)
    this.wake()
    const err = new NodeStoppedError(reason)
    for (const run of [...this.leaderWaiters]) run()
    this.writes.rejectAll(err)
    this.confChanges.rejectAll(err)
    for (const w of this.appliedWaiters.splice(0)) w.fail(err)
    await this.transport.stop().catch(() => undefined)
    // Let a Ready in flight finish its WAL write before the WAL closes.
    while (this.loopRunning) await new Promise((r) => setTimeout(r, 5))
    await this.wal.close().catch(() => undefined)
    await this.store.close().catch(() => undefined)
    this.stopped = true
    this.stopReason = reason
    this.log.info(`stopped: ${reason}`)
    for (const w of this.stoppedWaiters.splice(0)) w(reason)
  }

  private fail(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err))
    if (this.fatal) return
    this.fatal = e
    this.log.error(`fatal: ${e.message}`, { stack: e.stack })
    void this.shutdown(`fatal: ${e.message}`)
  }

  private assertRunning(): void {
    if (this.stopping) throw new NodeStoppedError('the node is stopping')
  }

  private notifyStatus(): void {
    for (const l of this.statusListeners) l()
  }

  private translateRaftError(err: unknown): unknown {
    return raftRefusalAnswer(err) ?? err
  }
}

/** A forwarded call that failed because the leader moved or could not be reached. */
function isLeadershipMiss(err: unknown): boolean {
  return (
    err instanceof RaftdeskError &&
    ['NOT_LEADER', 'NOT_PRIMARY', 'NO_LEADER', 'STOPPED', 'UNREACHABLE'].includes(err.code)
  )
}
