/**
 * The Raft state machine of one node: roles, terms, elections, replication, commitment,
 * leadership transfer, ReadIndex and membership. Pure and deterministic: it reads its Storage,
 * draws election timeouts from its Prng, and otherwise only reacts to tick() and step(message).
 * Its output is queued (`msgs`, `readStates`, the log's unstable part and commit index) and
 * collected by RawNode.ready(); nothing is sent from in here.
 *
 * step() settles the term first (Raft §5.1: a higher term turns any node into a follower, a
 * lower one marks a stale message), answers votes the same way in every role, then hands the
 * message to the handler of the current role (stepLeader / stepCandidate / stepFollower).
 * Timers are messages too: an election timeout is a local MsgHup, a heartbeat timeout MsgBeat.
 *
 * Deliberate choices worth knowing:
 *   - The leader counts its own log toward the commit quorum only up to stableIndex, i.e. once
 *     advance() said its entries are durable (onStable()). Everything else waits on Ready order.
 *   - A node that believes it is a learner never campaigns and never counts, but it does answer
 *     a vote request: a candidate only asks the voters of its own configuration, so a request
 *     reaching a learner means the candidate has already seen that learner's promotion (not yet
 *     applied here). Refusing would deadlock an election that needs the promoted node's vote.
 *   - A configuration change takes effect when the server applies its entry
 *     (applyConfChange()), like etcd. A leader accepts a new one only when every earlier one,
 *     and its own first entry of the term, is applied (pendingConfIndex).
 *   - A leader that applies its own removal steps down to follower (the change is committed by
 *     then); the others elect a new leader after their election timeout.
 */
import { RaftInvariantError } from './errors'
import {
  CompactedError,
  ConfChangeInvalidError,
  ConfChangePendingError,
  ProposalDroppedError,
  ProposalTooLargeError,
  ReadIndexDroppedError,
  SnapshotTemporarilyUnavailableError,
  UncommittedLimitError,
} from './errors'
import type { ResolvedRaftConfig } from './config'
import type { Logger } from '../kernel/logger'
import { confChangeProblem, decodeConfChange } from './confchange'
import { RaftLog } from './log'
import type { Progress } from './progress'
import { ReadOnly } from './readonly'
import { ProgressTracker } from './tracker'
import type {
  ConfChange,
  ConfState,
  Entry,
  Message,
  MessageType,
  NodeId,
  ReadState,
  Role,
  Snapshot,
} from './types'
import { CAMPAIGN_TRANSFER, NONE, entrySizeBytes, isLocalMessage, message } from './types'

export type CampaignKind = 'preElection' | 'election' | 'transfer'

const EMPTY = new Uint8Array(0)

function isTransferContext(ctx: Uint8Array | undefined): boolean {
  if (ctx === undefined || ctx.byteLength !== CAMPAIGN_TRANSFER.byteLength) return false
  for (let i = 0; i < ctx.byteLength; i++) if (ctx[i] !== CAMPAIGN_TRANSFER[i]) return false
  return true
}

function voteRespType(type: MessageType): MessageType {
  switch (type) {
    case 'MsgVote':
      return 'MsgVoteResp'
    case 'MsgPreVote':
      return 'MsgPreVoteResp'
    default:
      throw new RaftInvariantError(`not a vote message: ${type}`)
  }
}

export class Raft {
  readonly id: NodeId
  /** Persisted (HardState). */
  term = 0
  vote: NodeId = NONE
  /** Volatile. */
  lead: NodeId = NONE
  role: Role = 'follower'
  isLearner = false
  readonly log: RaftLog
  readonly tracker: ProgressTracker
  /** Outbox, taken by RawNode.ready(). */
  msgs: Message[] = []
  readStates: ReadState[] = []
  /** The node a leadership transfer is under way to, or NONE. */
  leadTransferee: NodeId = NONE
  /**
   * A leader accepts a conf change only when applied >= pendingConfIndex: the index of the last
   * conf change it appended, or of its first entry of the term (the fix of the single-server
   * change bug: a new leader must commit an entry of its term before changing membership).
   */
  pendingConfIndex = 0
  /** Bytes (entrySizeBytes) of the leader's entries appended but not yet handed out to apply. */
  uncommittedBytes = 0
  readonly readOnly = new ReadOnly()
  /** Read requests that arrived before the leader committed an entry of its term. */
  pendingReadIndexMessages: Message[] = []
  /**
   * Broadcasts owed to the followers, sent by flushBroadcasts() when RawNode.ready() takes the
   * outbox: new entries were appended, or the commit index moved. Deferring them costs nothing
   * (messages only leave through a Ready) and turns many proposals or acknowledgements between
   * two Readies into one append per follower.
   */
  private bcastEntriesPending = false
  private bcastCommitPending = false

  electionElapsed = 0
  heartbeatElapsed = 0
  randomizedElectionTimeout = 0

  private readonly cfg: ResolvedRaftConfig
  private readonly logger: Logger

  constructor(cfg: ResolvedRaftConfig) {
    this.cfg = cfg
    this.id = cfg.id
    this.logger = cfg.logger
    this.log = new RaftLog(
      cfg.storage,
      cfg.maxCommittedSizePerReadyBytes,
      cfg.logger,
      String(cfg.id),
    )
    this.tracker = new ProgressTracker(cfg.maxInflightMsgs)

    const { hardState, confState } = cfg.storage.initialState()
    this.tracker.reset(confState, this.log.lastIndex() + 1)
    this.isLearner = this.tracker.isLearner(this.id)
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) {
      this.loadHardState(hardState.term, hardState.vote, hardState.commit)
    }
    if (cfg.applied > 0) {
      if (cfg.applied > this.log.committed && cfg.applied <= this.log.lastIndex()) {
        // The commit index is persisted without fsync and may lag after a crash, but whatever
        // the state machine applied was committed.
        this.logger.warn(
          `${this.id} applied ${cfg.applied} is above the persisted commit ${this.log.committed}: committing up to it`,
        )
        this.log.commitTo(cfg.applied)
      }
      this.log.appliedTo(cfg.applied)
    }
    this.becomeFollower(this.term, NONE)
    this.logger.info(
      `${this.id} starts with ${this.describeConf()} [term: ${this.term}, commit: ${this.log.committed}, applied: ${this.log.applied}, lastindex: ${this.log.lastIndex()}, lastterm: ${this.log.lastTerm()}]`,
    )
  }

  private loadHardState(term: number, vote: NodeId, commit: number): void {
    const first = this.log.firstIndex()
    const last = this.log.lastIndex()
    if (commit < first - 1 || commit > last) {
      throw new RaftInvariantError(
        `${this.id} state.commit ${commit} is out of range [${first - 1}, ${last}]`,
      )
    }
    this.log.committed = commit
    this.term = term
    this.vote = vote
  }

  describeConf(): string {
    return `voters=(${this.tracker.voters.join(' ')}) learners=(${this.tracker.learners.join(' ')})`
  }

  // ------------------------------------------------------------------------------------------
  // Role changes

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term
      this.vote = NONE
    }
    this.lead = NONE
    this.electionElapsed = 0
    this.heartbeatElapsed = 0
    this.resetRandomizedElectionTimeout()
    this.leadTransferee = NONE
    this.tracker.resetVotes()
    const next = this.log.lastIndex() + 1
    for (const [id, pr] of this.tracker.progress) {
      pr.reset(next)
      // Our own log counts only as far as it is durable.
      if (id === this.id) pr.match = Math.min(this.log.stableIndex(), this.log.lastIndex())
    }
    this.pendingConfIndex = 0
    this.uncommittedBytes = 0
    this.readOnly.reset()
    this.pendingReadIndexMessages = []
    this.bcastEntriesPending = false
    this.bcastCommitPending = false
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.cfg.prng.int(
      this.cfg.electionTicksMin,
      this.cfg.electionTicksMax,
    )
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term)
    this.lead = lead
    this.role = this.isLearner ? 'learner' : 'follower'
    this.logger.info(`${this.id} became ${this.role} at term ${this.term}`)
  }

  private becomePreCandidate(): void {
    if (this.role === 'leader') {
      throw new RaftInvariantError(`${this.id} invalid transition [leader -> preCandidate]`)
    }
    // Pre-vote changes neither the term nor the vote: a node that cannot win disrupts nobody.
    this.role = 'preCandidate'
    this.lead = NONE
    this.tracker.resetVotes()
    this.resetRandomizedElectionTimeout()
    this.logger.info(`${this.id} became pre-candidate at term ${this.term}`)
  }

  private becomeCandidate(): void {
    if (this.role === 'leader') {
      throw new RaftInvariantError(`${this.id} invalid transition [leader -> candidate]`)
    }
    this.reset(this.term + 1)
    this.vote = this.id
    this.role = 'candidate'
    this.logger.info(`${this.id} became candidate at term ${this.term}`)
  }

  private becomeLeader(): void {
    if (this.role === 'follower' || this.role === 'learner') {
      throw new RaftInvariantError(`${this.id} invalid transition [${this.role} -> leader]`)
    }
    this.reset(this.term)
    this.lead = this.id
    this.role = 'leader'
    const self = this.tracker.progress.get(this.id)!
    self.becomeReplicate()
    self.recentActive = true
    // Raft §5.4.2: entries of earlier terms are committed only through an entry of this term,
    // so append an empty one at once. Until it is applied, no conf change is accepted.
    const index = this.log.lastIndex() + 1
    this.log.append([{ term: this.term, index, type: 'normal', data: EMPTY }])
    this.pendingConfIndex = index
    this.logger.info(`${this.id} became leader at term ${this.term}`)
  }

  private promotable(): boolean {
    return this.tracker.isVoter(this.id)
  }

  // ------------------------------------------------------------------------------------------
  // Time

  tick(): void {
    if (this.role === 'leader') this.tickHeartbeat()
    else this.tickElection()
  }

  private tickElection(): void {
    this.electionElapsed++
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0
      this.step(message({ type: 'MsgHup', from: this.id, to: this.id }))
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++
    this.electionElapsed++
    if (this.electionElapsed >= this.cfg.electionTicksMin) {
      this.electionElapsed = 0
      if (this.cfg.checkQuorum) {
        this.step(message({ type: 'MsgCheckQuorum', from: this.id, to: this.id }))
      }
      // A transfer that has not finished within an election timeout is abandoned.
      if (this.role === 'leader' && this.leadTransferee !== NONE) {
        this.logger.info(
          `${this.id} [term ${this.term}] aborted leadership transfer to ${this.leadTransferee}: not done within an election timeout`,
        )
        this.leadTransferee = NONE
      }
    }
    if (this.role !== 'leader') return
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0
      this.step(message({ type: 'MsgBeat', from: this.id, to: this.id }))
    }
  }

  // ------------------------------------------------------------------------------------------
  // Step

  step(m: Message): void {
    if (m.term === 0) {
      // A local message or a forwarded proposal / read request: no term to settle.
    } else if (m.term > this.term) {
      if (!this.stepHigherTerm(m)) return
    } else if (m.term < this.term) {
      this.stepLowerTerm(m)
      return
    }

    switch (m.type) {
      case 'MsgHup':
        // A forced campaign (a person's "campaign now") runs like a transfer's: no pre-vote,
        // and voters set the leader lease aside for it, as they do for TimeoutNow.
        if (isTransferContext(m.context)) this.hup('transfer')
        else this.hup(this.cfg.preVote ? 'preElection' : 'election')
        return
      case 'MsgVote':
      case 'MsgPreVote':
        this.handleVoteRequest(m)
        return
    }
    switch (this.role) {
      case 'leader':
        this.stepLeader(m)
        return
      case 'candidate':
      case 'preCandidate':
        this.stepCandidate(m)
        return
      case 'follower':
      case 'learner':
        this.stepFollower(m)
        return
    }
  }

  /** Returns false when the message is to be ignored. */
  private stepHigherTerm(m: Message): boolean {
    if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
      // The leader lease: a node that heard from a leader within the election timeout does not
      // help depose it (a transfer campaign is the leader's own wish, so it passes).
      const force = isTransferContext(m.context)
      const inLease =
        this.cfg.checkQuorum &&
        this.lead !== NONE &&
        this.electionElapsed < this.cfg.electionTicksMin
      if (!force && inLease) {
        this.logger.info(
          `${this.id} [logterm: ${this.log.lastTerm()}, index: ${this.log.lastIndex()}, vote: ${this.vote}] ignored ${m.type} from ${m.from} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}: lease is not expired (remaining ticks: ${this.cfg.electionTicksMin - this.electionElapsed})`,
        )
        return false
      }
    }
    if (m.type === 'MsgPreVote') {
      // Never change the term for a pre-vote.
      return true
    }
    if (m.type === 'MsgPreVoteResp' && !m.reject) {
      // Pre-votes are asked for term + 1; the term moves once a quorum granted them.
      return true
    }
    this.logger.info(
      `${this.id} [term: ${this.term}] received a ${m.type} message with higher term from ${m.from} [term: ${m.term}]`,
    )
    const fromLeader = m.type === 'MsgApp' || m.type === 'MsgHeartbeat' || m.type === 'MsgSnap'
    this.becomeFollower(m.term, fromLeader ? m.from : NONE)
    return true
  }

  private stepLowerTerm(m: Message): void {
    if (
      (this.cfg.checkQuorum || this.cfg.preVote) &&
      (m.type === 'MsgHeartbeat' || m.type === 'MsgApp')
    ) {
      // A leader of an older term is talking to us. Maybe the message was just delayed, but
      // maybe this node raised its term while partitioned and, with check-quorum, nobody will
      // grant it a vote (their lease holds) nor adopt its term. Answer with our term so that
      // the stale leader steps down and a new election can include this node.
      this.send(message({ type: 'MsgAppResp', from: this.id, to: m.from }))
      return
    }
    if (m.type === 'MsgPreVote') {
      this.logger.info(
        `${this.id} [logterm: ${this.log.lastTerm()}, index: ${this.log.lastIndex()}, vote: ${this.vote}] rejected ${m.type} from ${m.from} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
      )
      this.send(
        message({
          type: 'MsgPreVoteResp',
          from: this.id,
          to: m.from,
          term: this.term,
          reject: true,
        }),
      )
      return
    }
    this.logger.debug(
      `${this.id} [term: ${this.term}] ignored a ${m.type} message with lower term from ${m.from} [term: ${m.term}]`,
    )
  }

  private handleVoteRequest(m: Message): void {
    // One vote per term (§5.2): we may grant it again to the node we voted for, or to anyone
    // when we have neither voted nor heard from a leader in this term. A pre-vote for a later
    // term does not bind us.
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (m.type === 'MsgPreVote' && m.term > this.term)
    const respType = voteRespType(m.type)
    const lastTerm = this.log.lastTerm()
    const lastIndex = this.log.lastIndex()
    // §5.4.1: only for a candidate whose log is at least as up to date as ours.
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      this.logger.info(
        `${this.id} [logterm: ${lastTerm}, index: ${lastIndex}, vote: ${this.vote}] cast ${m.type} for ${m.from} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
      )
      // The response carries the candidate's term: for a pre-vote that is our term + 1, which
      // the pre-candidate recognises as a grant.
      this.send(message({ type: respType, from: this.id, to: m.from, term: m.term }))
      if (m.type === 'MsgVote') {
        this.electionElapsed = 0
        this.vote = m.from
      }
    } else {
      this.logger.info(
        `${this.id} [logterm: ${lastTerm}, index: ${lastIndex}, vote: ${this.vote}] rejected ${m.type} from ${m.from} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
      )
      this.send(
        message({ type: respType, from: this.id, to: m.from, term: this.term, reject: true }),
      )
    }
  }

  // ------------------------------------------------------------------------------------------
  // Elections

  private hup(kind: CampaignKind): void {
    if (this.role === 'leader') {
      this.logger.debug(`${this.id} ignoring MsgHup because already leader`)
      return
    }
    if (!this.promotable()) {
      this.logger.warn(`${this.id} is unpromotable and can not campaign`)
      return
    }
    const pending = this.pendingConfChangesToApply()
    if (pending > 0) {
      this.logger.warn(
        `${this.id} cannot campaign at term ${this.term} since there are still ${pending} pending configuration changes to apply`,
      )
      return
    }
    this.logger.info(`${this.id} is starting a new election at term ${this.term}`)
    this.campaign(kind)
  }

  private pendingConfChangesToApply(): number {
    if (this.log.committed <= this.log.applied) return 0
    // A snapshot received but not yet applied: the entries it replaces are gone from the log,
    // and the configuration it carries takes effect only once it is applied, so it counts as a
    // pending change (found by the simulator: campaign() between ready() and advance()).
    if (this.log.applied + 1 < this.log.firstIndex()) return 1
    let n = 0
    for (const e of this.log.slice(this.log.applied + 1, this.log.committed + 1)) {
      if (e.type === 'confChange') n++
    }
    return n
  }

  campaign(kind: CampaignKind): void {
    let voteType: MessageType
    let term: number
    if (kind === 'preElection') {
      this.becomePreCandidate()
      voteType = 'MsgPreVote'
      // Ask for the term we would campaign in, without moving to it yet.
      term = this.term + 1
    } else {
      this.becomeCandidate()
      voteType = 'MsgVote'
      term = this.term
    }
    if (this.poll(this.id, voteRespType(voteType), true).result === 'won') {
      // A single-voter configuration: we won by voting for ourselves.
      if (kind === 'preElection') {
        this.campaign('election')
      } else {
        this.becomeLeader()
        // Learners, if any, get the new leader's entry at once.
        this.bcastAppend()
      }
      return
    }
    const lastIndex = this.log.lastIndex()
    const lastTerm = this.log.lastTerm()
    for (const voter of this.tracker.voters) {
      if (voter === this.id) continue
      this.logger.info(
        `${this.id} [logterm: ${lastTerm}, index: ${lastIndex}] sent ${voteType} request to ${voter} at term ${term}`,
      )
      const m = message({
        type: voteType,
        from: this.id,
        to: voter,
        term,
        logTerm: lastTerm,
        index: lastIndex,
      })
      if (kind === 'transfer') m.context = CAMPAIGN_TRANSFER
      this.send(m)
    }
  }

  private poll(from: NodeId, type: MessageType, granted: boolean) {
    if (granted) this.logger.info(`${this.id} received ${type} from ${from} at term ${this.term}`)
    else this.logger.info(`${this.id} received ${type} rejection from ${from} at term ${this.term}`)
    this.tracker.recordVote(from, granted)
    return this.tracker.tallyVotes()
  }

  // ------------------------------------------------------------------------------------------
  // Leader

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'MsgBeat':
        this.bcastHeartbeat(this.readOnly.lastPendingCtx())
        return
      case 'MsgCheckQuorum':
        if (!this.tracker.quorumActive(this.id)) {
          this.logger.warn(`${this.id} stepped down to follower since quorum is not active`)
          this.becomeFollower(this.term, NONE)
        }
        // Every member has to prove itself again during the next election timeout.
        for (const [id, pr] of this.tracker.progress) if (id !== this.id) pr.recentActive = false
        return
      case 'MsgProp':
        this.handleProposal(m)
        return
      case 'MsgReadIndex':
        this.leaderReadIndex(m)
        return
      case 'MsgTransferLeader':
        this.handleTransferLeader(m)
        return
    }
    const pr = this.tracker.progress.get(m.from)
    if (pr === undefined) {
      this.logger.debug(`${this.id} no progress available for ${m.from}`)
      return
    }
    switch (m.type) {
      case 'MsgAppResp':
        this.handleAppendResponse(m, pr)
        return
      case 'MsgHeartbeatResp':
        this.handleHeartbeatResponse(m, pr)
        return
      case 'MsgSnapStatus':
        if (pr.state !== 'snapshot') return
        if (m.reject) {
          this.logger.info(`${this.id} snapshot to ${m.from} failed, probing again [${pr}]`)
          pr.pendingSnapshot = 0
        } else {
          this.logger.info(`${this.id} snapshot to ${m.from} succeeded, probing again [${pr}]`)
        }
        pr.becomeProbe()
        // After a snapshot, wait for the follower's append response (or, after a failure, the
        // next heartbeat response) before probing.
        pr.probeSent = true
        return
      case 'MsgUnreachable':
        // The follower may have lost what is in flight: probe it again.
        if (pr.state === 'replicate') pr.becomeProbe()
        this.logger.debug(
          `${this.id} failed to send message to ${m.from} because it is unreachable [${pr}]`,
        )
        return
    }
  }

  private handleProposal(m: Message): void {
    const n = m.entries.length
    if (n === 0) throw new RaftInvariantError(`${this.id} stepped empty MsgProp`)
    if (!this.tracker.progress.has(this.id)) {
      throw new ProposalDroppedError(
        `${this.id} is not a member of the configuration (${this.describeConf()})`,
      )
    }
    if (this.leadTransferee !== NONE) {
      throw new ProposalDroppedError(
        `${this.id} [term ${this.term}] is transferring leadership to ${this.leadTransferee}`,
      )
    }
    // Check everything before appending anything: a batch is accepted or refused as a whole.
    let bytes = 0
    let confChangeAt = -1
    for (let i = 0; i < n; i++) {
      const e = m.entries[i]!
      if (e.data.byteLength > this.cfg.maxProposalBytes) {
        throw new ProposalTooLargeError(e.data.byteLength, this.cfg.maxProposalBytes)
      }
      if (e.type === 'confChange') {
        if (confChangeAt >= 0) {
          throw new ProposalDroppedError(`${this.id} refused a batch with two conf changes`)
        }
        if (this.pendingConfIndex > this.log.applied) {
          throw new ConfChangePendingError(
            `${this.id} refused a conf change: a conf change or the leader's first entry is pending until index ${this.pendingConfIndex} is applied [applied ${this.log.applied}]`,
          )
        }
        const problem = confChangeProblem(this.tracker.confState(), decodeConfChange(e.data))
        if (problem !== undefined) throw new ConfChangeInvalidError(problem)
        confChangeAt = i
      }
      bytes += entrySizeBytes(e)
    }
    if (
      this.uncommittedBytes > 0 &&
      this.uncommittedBytes + bytes > this.cfg.maxUncommittedEntriesBytes
    ) {
      throw new UncommittedLimitError(
        this.uncommittedBytes,
        bytes,
        this.cfg.maxUncommittedEntriesBytes,
      )
    }
    this.uncommittedBytes += bytes
    const first = this.log.lastIndex() + 1
    const entries: Entry[] = new Array<Entry>(n)
    for (let i = 0; i < n; i++) {
      const e = m.entries[i]!
      entries[i] = { term: this.term, index: first + i, type: e.type, data: e.data }
    }
    if (confChangeAt >= 0) this.pendingConfIndex = first + confChangeAt
    this.log.append(entries)
    this.bcastEntriesPending = true
  }

  /**
   * The leader's own entries became durable up to log.stableIndex(): count them toward the
   * quorum now.
   */
  onStable(): void {
    if (this.role !== 'leader') return
    const self = this.tracker.progress.get(this.id)
    if (self === undefined) return
    if (self.maybeUpdate(Math.min(this.log.stableIndex(), this.log.lastIndex()))) {
      if (this.maybeCommit()) this.afterCommit()
    }
  }

  private maybeCommit(): boolean {
    return this.log.maybeCommit(this.tracker.committed(), this.term)
  }

  /** The commit index moved: tell the followers and release reads waiting for it. */
  private afterCommit(): void {
    if (this.pendingReadIndexMessages.length > 0 && this.committedEntryInCurrentTerm()) {
      const waiting = this.pendingReadIndexMessages
      this.pendingReadIndexMessages = []
      for (const m of waiting) this.leaderReadIndex(m)
    }
    this.bcastCommitPending = true
  }

  /** Sends the deferred broadcasts (see bcastEntriesPending). */
  flushBroadcasts(): void {
    if (!this.bcastEntriesPending && !this.bcastCommitPending) return
    // A commit-only broadcast sends an empty append where there is nothing new to send.
    const sendIfEmpty = this.bcastCommitPending
    this.bcastEntriesPending = false
    this.bcastCommitPending = false
    if (this.role !== 'leader') return
    const committed = this.log.committed
    for (const id of this.tracker.members) {
      if (id === this.id) continue
      const pr = this.tracker.progress.get(id)!
      this.sendAppend(id, sendIfEmpty && pr.canBumpCommit(committed))
    }
  }

  hasPendingBroadcasts(): boolean {
    return this.bcastEntriesPending || this.bcastCommitPending
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.log.termOrZero(this.log.committed) === this.term
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true
    if (m.reject) {
      this.logger.debug(
        `${this.id} received MsgAppResp(rejected, hint: (index ${m.rejectHint}, term ${m.logTerm})) from ${m.from} for index ${m.index}`,
      )
      // Fast backtracking: skip every entry of ours whose term is above the follower's term at
      // the hinted index; they cannot match.
      const matchHint =
        m.logTerm > 0 ? this.log.findConflictByTerm(m.rejectHint, m.logTerm) : m.rejectHint
      if (pr.maybeDecrTo(m.index, matchHint)) {
        if (pr.state === 'replicate') pr.becomeProbe()
        this.logger.debug(`${this.id} decreased progress of ${m.from} to [${pr}]`)
        this.sendAppend(m.from)
      }
      return
    }
    const wasPaused = pr.isPaused()
    if (!pr.maybeUpdate(m.index) && !(pr.match === m.index && pr.state === 'probe')) return
    switch (pr.state) {
      case 'probe':
        pr.becomeReplicate()
        break
      case 'snapshot':
        // The follower caught up past the compacted prefix (by the snapshot or otherwise).
        if (pr.match + 1 >= this.log.firstIndex()) {
          this.logger.debug(
            `${this.id} recovered from needing snapshot, resumed sending replication messages to ${m.from} [${pr}]`,
          )
          pr.becomeProbe()
          pr.becomeReplicate()
        }
        break
      case 'replicate':
        pr.inflights.freeLE(m.index)
        break
    }
    if (this.maybeCommit()) {
      this.afterCommit()
    } else if (wasPaused && pr.canBumpCommit(this.log.committed)) {
      // The follower was paused and may have missed the commit index: tell it now.
      this.sendAppend(m.from)
    }
    // The window may have opened: send what it allows (no empty messages).
    while (this.sendAppend(m.from, false)) {
      // keep sending
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.logger.info(
        `${this.id} sent MsgTimeoutNow to ${m.from} after received MsgAppResp: its log is up to date`,
      )
      this.sendTimeoutNow(m.from)
    }
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true
    pr.probeSent = false
    // Acknowledgements may have been lost: let one more append through a full window.
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne()
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from)
    const batch = this.readOnly.recvAck(m.from, m.context)
    if (batch === undefined || !this.tracker.hasQuorum(batch.acks)) return
    for (const b of this.readOnly.release(batch)) {
      for (const req of b.requests) this.respondToRead(req.from, req.requestCtx, b.index)
    }
  }

  private handleTransferLeader(m: Message): void {
    const transferee = m.from
    const pr = this.tracker.progress.get(transferee)
    if (pr === undefined || pr.isLearner) {
      this.logger.info(
        `${this.id} [term ${this.term}] ignored transferring leadership to ${transferee}: not a voter`,
      )
      return
    }
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === transferee) {
        this.logger.info(
          `${this.id} [term ${this.term}] transfer leadership to ${transferee} is in progress, ignores request to same node ${transferee}`,
        )
        return
      }
      this.logger.info(
        `${this.id} [term ${this.term}] abort previous transferring leadership to ${this.leadTransferee}`,
      )
      this.leadTransferee = NONE
    }
    if (transferee === this.id) {
      this.logger.debug(`${this.id} is already leader. Ignored transferring leadership to self`)
      return
    }
    this.logger.info(
      `${this.id} [term ${this.term}] starts to transfer leadership to ${transferee}`,
    )
    // The transfer must finish within one election timeout (tickHeartbeat aborts it).
    this.electionElapsed = 0
    this.leadTransferee = transferee
    if (pr.match === this.log.lastIndex()) {
      this.logger.info(
        `${this.id} sends MsgTimeoutNow to ${transferee} immediately as ${transferee} already has up-to-date log`,
      )
      this.sendTimeoutNow(transferee)
    } else {
      this.sendAppend(transferee)
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send(message({ type: 'MsgTimeoutNow', from: this.id, to }))
  }

  private leaderReadIndex(m: Message): void {
    if (!this.committedEntryInCurrentTerm()) {
      // Until an entry of this term is committed, our commit index may lag behind what an
      // earlier leader committed: a read served now could miss an acknowledged write.
      this.checkReadCapacity()
      this.pendingReadIndexMessages.push(m)
      return
    }
    const ctx = m.context ?? EMPTY
    if (this.tracker.isSingleton() && this.tracker.isVoter(this.id)) {
      this.respondToRead(m.from, ctx, this.log.committed)
      return
    }
    this.checkReadCapacity()
    const { batch, opened } = this.readOnly.add(
      this.log.committed,
      { from: m.from, requestCtx: ctx },
      this.id,
    )
    if (opened) this.bcastHeartbeat(batch.ctx)
  }

  private checkReadCapacity(): void {
    const pending = this.readOnly.pendingRequests + this.pendingReadIndexMessages.length
    if (pending >= this.cfg.maxPendingReadRequests) {
      throw new ReadIndexDroppedError(
        `${this.id} holds ${pending} read requests already [maxPendingReadRequests ${this.cfg.maxPendingReadRequests}]`,
      )
    }
  }

  private respondToRead(from: NodeId, requestCtx: Uint8Array, index: number): void {
    if (from === NONE || from === this.id) {
      this.readStates.push({ index, requestCtx })
      return
    }
    const resp = message({ type: 'MsgReadIndexResp', from: this.id, to: from, index })
    resp.context = requestCtx
    this.send(resp)
  }

  // ------------------------------------------------------------------------------------------
  // Sending

  private send(m: Message): void {
    if (isLocalMessage(m.type)) {
      throw new RaftInvariantError(`${this.id} tried to send local message ${m.type}`)
    }
    if (m.to === this.id || m.to === NONE) {
      throw new RaftInvariantError(`${this.id} tried to send ${m.type} to ${m.to}`)
    }
    if (
      m.type === 'MsgVote' ||
      m.type === 'MsgPreVote' ||
      m.type === 'MsgVoteResp' ||
      m.type === 'MsgPreVoteResp'
    ) {
      // Vote messages carry their own term (a pre-vote asks for a future one).
      if (m.term === 0)
        throw new RaftInvariantError(`${this.id} term should be set when sending ${m.type}`)
    } else {
      if (m.term !== 0) {
        throw new RaftInvariantError(
          `${this.id} term should not be set when sending ${m.type} (was ${m.term})`,
        )
      }
      // Proposals and read requests are forwarded without a term: they are only hints to the
      // leader and must not make it step down.
      if (m.type !== 'MsgProp' && m.type !== 'MsgReadIndex') m.term = this.term
    }
    this.msgs.push(m)
  }

  /**
   * Sends the follower what it needs next: entries from pr.next (size limited), or a snapshot
   * when they are compacted. Returns whether a message was sent. With sendIfEmpty false, an
   * append without entries is not sent.
   */
  sendAppend(to: NodeId, sendIfEmpty = true): boolean {
    const pr = this.tracker.progress.get(to)
    if (pr === undefined || pr.isPaused()) return false
    const prevIndex = pr.next - 1
    let prevTerm: number
    let entries: Entry[]
    try {
      prevTerm = this.log.term(prevIndex)
      entries = this.log.entriesFrom(pr.next, this.cfg.maxSizePerMsgBytes)
    } catch (err) {
      if (err instanceof CompactedError) return this.sendSnapshot(to, pr)
      throw err
    }
    if (entries.length === 0 && !sendIfEmpty) return false
    const committed = this.log.committed
    this.send(
      message({
        type: 'MsgApp',
        from: this.id,
        to,
        index: prevIndex,
        logTerm: prevTerm,
        entries,
        commit: committed,
      }),
    )
    const lastIndex = prevIndex + entries.length
    pr.sentEntries(entries.length, lastIndex)
    // The follower commits at most up to the last entry this message establishes.
    pr.noteSentCommit(Math.min(committed, lastIndex))
    return true
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) {
      this.logger.debug(
        `${this.id} ignore sending snapshot to ${to} since it is not recently active`,
      )
      return false
    }
    let snap: Snapshot
    try {
      snap = this.log.snapshot()
    } catch (err) {
      if (err instanceof SnapshotTemporarilyUnavailableError) {
        this.logger.debug(
          `${this.id} failed to send snapshot to ${to} because snapshot is temporarily unavailable`,
        )
        return false
      }
      throw err
    }
    if (snap.metadata.index === 0)
      throw new RaftInvariantError(`${this.id} need non-empty snapshot`)
    this.logger.info(
      `${this.id} [firstindex: ${this.log.firstIndex()}, commit: ${this.log.committed}] sent snapshot[index: ${snap.metadata.index}, term: ${snap.metadata.term}] to ${to} [${pr}]`,
    )
    pr.becomeSnapshot(snap.metadata.index)
    this.send(message({ type: 'MsgSnap', from: this.id, to, snapshot: snap }))
    return true
  }

  bcastAppend(): void {
    for (const id of this.tracker.members) if (id !== this.id) this.sendAppend(id)
  }

  private bcastHeartbeat(ctx: Uint8Array | undefined): void {
    for (const id of this.tracker.members) {
      if (id === this.id) continue
      const pr = this.tracker.progress.get(id)!
      // Never tell a follower of a commit index beyond what it is known to hold.
      const commit = Math.min(pr.match, this.log.committed)
      const m = message({ type: 'MsgHeartbeat', from: this.id, to: id, commit })
      pr.noteSentCommit(commit)
      if (ctx !== undefined) m.context = ctx
      this.send(m)
    }
  }

  // ------------------------------------------------------------------------------------------
  // Candidate

  private stepCandidate(m: Message): void {
    const myVoteResp: MessageType = this.role === 'preCandidate' ? 'MsgPreVoteResp' : 'MsgVoteResp'
    switch (m.type) {
      case 'MsgProp':
        throw new ProposalDroppedError(
          `${this.id} no leader at term ${this.term}; dropping proposal`,
        )
      case 'MsgReadIndex':
        throw new ReadIndexDroppedError(
          `${this.id} no leader at term ${this.term}; dropping read index`,
        )
      case 'MsgApp':
        this.becomeFollower(m.term, m.from)
        this.handleAppendEntries(m)
        return
      case 'MsgHeartbeat':
        this.becomeFollower(m.term, m.from)
        this.handleHeartbeat(m)
        return
      case 'MsgSnap':
        this.becomeFollower(m.term, m.from)
        this.handleSnapshot(m)
        return
      case 'MsgTimeoutNow':
        this.logger.debug(
          `${this.id} [term ${this.term} state ${this.role}] ignored MsgTimeoutNow from ${m.from}`,
        )
        return
    }
    if (m.type !== myVoteResp) return
    const tally = this.poll(m.from, m.type, !m.reject)
    this.logger.info(
      `${this.id} has received ${tally.granted} ${m.type} votes and ${tally.rejected} vote rejections`,
    )
    if (tally.result === 'won') {
      if (this.role === 'preCandidate') {
        this.campaign('election')
      } else {
        this.becomeLeader()
        this.bcastAppend()
      }
    } else if (tally.result === 'lost') {
      // A rejection with a higher term already made us a follower in stepHigherTerm.
      this.becomeFollower(this.term, NONE)
    }
  }

  // ------------------------------------------------------------------------------------------
  // Follower (and learner)

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'MsgProp':
        if (this.lead === NONE) {
          throw new ProposalDroppedError(
            `${this.id} no leader at term ${this.term}; dropping proposal`,
          )
        }
        this.send(message({ type: 'MsgProp', from: this.id, to: this.lead, entries: m.entries }))
        return
      case 'MsgApp':
        this.electionElapsed = 0
        this.lead = m.from
        this.handleAppendEntries(m)
        return
      case 'MsgHeartbeat':
        this.electionElapsed = 0
        this.lead = m.from
        this.handleHeartbeat(m)
        return
      case 'MsgSnap':
        this.electionElapsed = 0
        this.lead = m.from
        this.handleSnapshot(m)
        return
      case 'MsgTimeoutNow':
        this.logger.info(
          `${this.id} [term ${this.term}] received MsgTimeoutNow from ${m.from} and starts an election to get leadership`,
        )
        // The leader asked for it: skip pre-vote, and voters will ignore their lease.
        this.hup('transfer')
        return
      case 'MsgReadIndex':
        if (m.from !== this.id) {
          this.logger.debug(`${this.id} ignored MsgReadIndex from ${m.from}: not the leader`)
          return
        }
        if (this.lead === NONE) {
          throw new ReadIndexDroppedError(
            `${this.id} no leader at term ${this.term}; dropping read index`,
          )
        }
        {
          const fwd = message({ type: 'MsgReadIndex', from: this.id, to: this.lead })
          if (m.context !== undefined) fwd.context = m.context
          this.send(fwd)
        }
        return
      case 'MsgReadIndexResp':
        this.readStates.push({ index: m.index, requestCtx: m.context ?? EMPTY })
        return
      case 'MsgTransferLeader':
        this.logger.debug(`${this.id} ignored MsgTransferLeader from ${m.from}: not the leader`)
        return
    }
  }

  /** A follower asks its leader to transfer leadership to itself (transferLeadership(self)). */
  requestLeadershipForSelf(): void {
    this.send(message({ type: 'MsgTransferLeader', from: this.id, to: this.lead }))
  }

  private handleAppendEntries(m: Message): void {
    if (m.index < this.log.committed) {
      // Everything up to our commit index matches the leader's log already.
      this.send(
        message({ type: 'MsgAppResp', from: this.id, to: m.from, index: this.log.committed }),
      )
      return
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries)
    if (lastNew >= 0) {
      this.send(message({ type: 'MsgAppResp', from: this.id, to: m.from, index: lastNew }))
      return
    }
    // §5.3: the consistency check failed. Hint where the logs may match: the last index of ours
    // (not above the probe) whose term is not above the leader's term at the probe.
    const hintIndex = this.log.findConflictByTerm(
      Math.min(m.index, this.log.lastIndex()),
      m.logTerm,
    )
    const hintTerm = this.log.termOrZero(hintIndex)
    this.logger.debug(
      `${this.id} [logterm: ${this.log.termOrZero(m.index)}, index: ${m.index}] rejected MsgApp [logterm: ${m.logTerm}, index: ${m.index}] from ${m.from}`,
    )
    this.send(
      message({
        type: 'MsgAppResp',
        from: this.id,
        to: m.from,
        index: m.index,
        reject: true,
        rejectHint: hintIndex,
        logTerm: hintTerm,
      }),
    )
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(m.commit)
    const resp = message({ type: 'MsgHeartbeatResp', from: this.id, to: m.from })
    if (m.context !== undefined) resp.context = m.context
    this.send(resp)
  }

  private handleSnapshot(m: Message): void {
    const snap = m.snapshot
    if (snap === undefined)
      throw new RaftInvariantError(`${this.id} MsgSnap from ${m.from} without a snapshot`)
    const { index, term } = snap.metadata
    if (this.restore(snap)) {
      this.logger.info(
        `${this.id} [commit: ${this.log.committed}] restored snapshot [index: ${index}, term: ${term}]`,
      )
      this.send(
        message({ type: 'MsgAppResp', from: this.id, to: m.from, index: this.log.lastIndex() }),
      )
    } else {
      this.logger.info(
        `${this.id} [commit: ${this.log.committed}] ignored snapshot [index: ${index}, term: ${term}]`,
      )
      this.send(
        message({ type: 'MsgAppResp', from: this.id, to: m.from, index: this.log.committed }),
      )
    }
  }

  private restore(snap: Snapshot): boolean {
    const { index, term, confState } = snap.metadata
    if (index <= this.log.committed) return false
    // Committed entries handed out in a Ready that is not yet advanced are being applied right
    // now, conf changes among them; restoring would switch the configuration under them (the
    // server would then apply an older conf change on top of the snapshot's). Refuse for now:
    // the leader sends the snapshot again (found by the simulator, seeds 2162, 4011, 14577).
    if (this.log.applying > this.log.applied) {
      this.logger.info(
        `${this.id} [applied: ${this.log.applied}, applying: ${this.log.applying}] postponed snapshot [index: ${index}, term: ${term}] until the entries being applied are done`,
      )
      return false
    }
    if (this.role !== 'follower' && this.role !== 'learner') {
      throw new RaftInvariantError(`${this.id} restoring a snapshot as ${this.role}`)
    }
    if (this.log.matchTerm(index, term)) {
      // We hold the snapshot's last entry already: just move the commit index.
      this.logger.info(
        `${this.id} [commit: ${this.log.committed}, lastindex: ${this.log.lastIndex()}, lastterm: ${this.log.lastTerm()}] fast-forwarded commit to snapshot [index: ${index}, term: ${term}]`,
      )
      this.log.commitTo(index)
      return false
    }
    this.log.restore(snap)
    this.tracker.reset(confState, this.log.lastIndex() + 1)
    this.isLearner = this.tracker.isLearner(this.id)
    this.role = this.isLearner ? 'learner' : 'follower'
    this.logger.info(`${this.id} switched to configuration ${this.describeConf()}`)
    return true
  }

  // ------------------------------------------------------------------------------------------
  // Membership

  /** Applies a committed conf change (called by the server when it applies the entry). */
  applyConfChange(cc: ConfChange): ConfState {
    const problem = confChangeProblem(this.tracker.confState(), cc)
    if (problem !== undefined) {
      throw new RaftInvariantError(`${this.id} cannot apply committed conf change: ${problem}`)
    }
    const next = this.log.lastIndex() + 1
    switch (cc.type) {
      case 'addVoter':
        this.tracker.addVoter(cc.nodeId, next)
        break
      case 'addLearner':
        this.tracker.addLearner(cc.nodeId, next)
        break
      case 'promoteLearner':
        this.tracker.promote(cc.nodeId)
        break
      case 'removeNode':
        this.tracker.remove(cc.nodeId)
        break
      case 'updateNode':
        break // the quorum is unchanged; the server updates the member's record
    }
    this.isLearner = this.tracker.isLearner(this.id)
    if (this.role === 'follower' || this.role === 'learner') {
      this.role = this.isLearner ? 'learner' : 'follower'
    }
    this.logger.info(`${this.id} switched to configuration ${this.describeConf()}`)
    const cs = this.tracker.confState()
    if (this.role !== 'leader') return cs

    if (!this.tracker.isVoter(this.id)) {
      // The change that removed us is committed (we are applying it): hand over by stepping
      // down; the remaining voters elect a leader among themselves.
      this.logger.info(`${this.id} stepped down: removed from the configuration`)
      this.becomeFollower(this.term, NONE)
      return cs
    }
    if (this.leadTransferee !== NONE && !this.tracker.isVoter(this.leadTransferee)) {
      this.logger.info(
        `${this.id} aborted leadership transfer to ${this.leadTransferee}: no longer a voter`,
      )
      this.leadTransferee = NONE
    }
    // The quorum changed: the commit index may move (a slow voter left).
    if (this.maybeCommit()) {
      this.afterCommit()
    } else {
      for (const id of this.tracker.members) {
        if (id === this.id) continue
        // A new member is probed at once; the others get what the new quorum allows.
        const added = id === cc.nodeId && (cc.type === 'addVoter' || cc.type === 'addLearner')
        this.sendAppend(id, added)
      }
    }
    return cs
  }

  // ------------------------------------------------------------------------------------------
  // Ready support

  /** Committed entries were handed out to apply: they no longer count as uncommitted. */
  reduceUncommittedBytes(entries: readonly Entry[]): void {
    if (this.uncommittedBytes === 0) return
    let bytes = 0
    for (const e of entries) bytes += entrySizeBytes(e)
    this.uncommittedBytes = bytes > this.uncommittedBytes ? 0 : this.uncommittedBytes - bytes
  }

  /** For status(): the leader's view of every other member. */
  progressOf(id: NodeId): Progress | undefined {
    return this.tracker.progress.get(id)
  }
}
