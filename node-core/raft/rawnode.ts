/**
 * RawNode: the public face of the raft core, what a server or the simulator drives.
 *
 * Inputs: tick(), step(message from a peer), propose(), proposeConfChange(), campaign(),
 * transferLeadership(), readIndex(), reportUnreachable(), reportSnapshot(). None of them does
 * I/O; they change the state machine and queue output.
 *
 * Output: while hasReady(), take ready(), handle it in the order documented on Ready in
 * types.ts (persist snapshot + entries + hardState, send messages, apply the snapshot and
 * committed entries, call applyConfChange() for each committed confChange entry as it is
 * applied), then advance(ready). One Ready is outstanding at a time: ready() throws until the
 * previous one was advanced, and hasReady() is false meanwhile. Steps taken between ready() and
 * advance() are fine; what they produce comes out in the next Ready.
 *
 * Errors: propose() and step() of a MsgProp throw a ProposalError subclass when the proposal is
 * refused (ProposalDroppedError, ProposalTooLargeError, UncommittedLimitError,
 * ConfChangeInvalidError); readIndex() throws ReadIndexDroppedError; transferLeadership()
 * throws TransferRefusedError. A server stepping a MsgProp forwarded by a follower logs the
 * error and drops the message (the follower's client times out, as with etcd). A broken
 * invariant throws RaftInvariantError with the numbers; it is a bug, never to be swallowed.
 *
 * step() does not keep or modify the message objects it is given (the simulator may deliver
 * the same object twice).
 */
import { ValidationError } from '../errors'
import type { RaftConfig, ResolvedRaftConfig } from './config'
import { resolveConfig } from './config'
import { decodeConfChange, encodeConfChange, isConfChangeType } from './confchange'
import {
  ConfChangeInvalidError,
  ProposalTooLargeError,
  RaftInvariantError,
  TransferRefusedError,
} from './errors'
import { Raft } from './raft'
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  ProgressStatus,
  Ready,
  SoftState,
  Status,
} from './types'
import { CAMPAIGN_TRANSFER, NONE, isLocalMessage, isResponseMessage, message } from './types'

export { decodeConfChange, encodeConfChange }

export type SnapshotStatus = 'finish' | 'failure'

export class RawNode {
  private readonly raft: Raft
  private readonly cfg: ResolvedRaftConfig
  private prevSoft: SoftState
  private prevHard: HardState
  private outstanding: Ready | undefined = undefined

  constructor(config: RaftConfig) {
    this.cfg = resolveConfig(config)
    this.raft = new Raft(this.cfg)
    this.prevSoft = { lead: this.raft.lead, role: this.raft.role }
    const { hardState } = this.cfg.storage.initialState()
    this.prevHard = { term: hardState.term, vote: hardState.vote, commit: hardState.commit }
  }

  get id(): NodeId {
    return this.raft.id
  }

  tick(): void {
    this.raft.tick()
  }

  /** Steps a message received from a peer. */
  step(msg: Message): void {
    if (isLocalMessage(msg.type)) {
      throw new RaftInvariantError(`${this.raft.id} cannot step raft local message ${msg.type}`)
    }
    if (msg.to !== this.raft.id) {
      throw new RaftInvariantError(
        `${this.raft.id} was handed a ${msg.type} addressed to ${msg.to}`,
      )
    }
    // Only forwarded proposals and read requests travel without a term; anything else with
    // term 0 would be taken for a local event.
    if (msg.term === 0 && msg.type !== 'MsgProp' && msg.type !== 'MsgReadIndex') {
      throw new RaftInvariantError(
        `${this.raft.id} received ${msg.type} from ${msg.from} without a term`,
      )
    }
    // Responses from nodes outside the configuration (removed ones) are ignored, so that they
    // cannot raise our term.
    if (
      isResponseMessage(msg.type) &&
      msg.type !== 'MsgReadIndexResp' &&
      !this.raft.tracker.progress.has(msg.from)
    ) {
      return
    }
    this.raft.step(msg)
  }

  /** Proposes one normal entry. On a follower it is forwarded to the leader. */
  propose(data: Uint8Array): void {
    this.proposeBatch([data])
  }

  /**
   * Proposes several normal entries at once: they travel in one MsgProp and, on the leader,
   * are appended together and replicated in the same messages. All or none are accepted.
   */
  proposeBatch(datas: readonly Uint8Array[]): void {
    if (datas.length === 0)
      throw new ValidationError('RAFT_PROPOSAL_INVALID', 'empty proposal batch')
    const entries: Entry[] = new Array<Entry>(datas.length)
    for (let i = 0; i < datas.length; i++) {
      const data = datas[i]!
      if (!(data instanceof Uint8Array)) {
        throw new ValidationError('RAFT_PROPOSAL_INVALID', 'proposal data must be a Uint8Array')
      }
      if (data.byteLength > this.cfg.maxProposalBytes) {
        throw new ProposalTooLargeError(data.byteLength, this.cfg.maxProposalBytes)
      }
      entries[i] = { term: 0, index: 0, type: 'normal', data }
    }
    this.raft.step(message({ type: 'MsgProp', from: this.raft.id, to: this.raft.id, entries }))
  }

  /** Proposes a membership change (one at a time; see raft.ts). */
  proposeConfChange(cc: ConfChange): void {
    if (!isConfChangeType(cc.type)) {
      throw new ConfChangeInvalidError(`unknown conf change type ${String(cc.type)}`)
    }
    const data = encodeConfChange(cc)
    if (data.byteLength > this.cfg.maxProposalBytes) {
      throw new ProposalTooLargeError(data.byteLength, this.cfg.maxProposalBytes)
    }
    const entries: Entry[] = [{ term: 0, index: 0, type: 'confChange', data }]
    this.raft.step(message({ type: 'MsgProp', from: this.raft.id, to: this.raft.id, entries }))
  }

  /**
   * Applies a committed conf change to the membership; the server calls it when it applies the
   * entry. Returns the new membership (to store with the next snapshot).
   */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc)
  }

  /**
   * Starts an election here now (with a pre-vote round first when preVote is on). Voters that
   * hear from a live leader refuse it (the leader lease) unless `force`: then it campaigns as a
   * leadership transfer does, without pre-vote, and the voters set the lease aside.
   */
  campaign(opts: { force?: boolean } = {}): void {
    this.raft.step(
      message({
        type: 'MsgHup',
        from: this.raft.id,
        to: this.raft.id,
        ...(opts.force ? { context: CAMPAIGN_TRANSFER } : {}),
      }),
    )
  }

  /**
   * Hands leadership to `to`. On the leader: stop accepting proposals, bring `to` up to date,
   * then tell it to campaign at once (aborted after an election timeout). On a follower, only
   * `to` = this node is possible: the request is forwarded to the leader.
   */
  transferLeadership(to: NodeId): void {
    const r = this.raft
    if (r.role === 'leader') {
      if (to !== r.id && !r.tracker.isVoter(to)) {
        throw new TransferRefusedError(`${r.id} cannot transfer leadership to ${to}: not a voter`)
      }
      r.step(message({ type: 'MsgTransferLeader', from: to, to: r.id }))
      return
    }
    if (r.lead === NONE) {
      throw new TransferRefusedError(
        `${r.id} no leader at term ${r.term}; cannot transfer leadership`,
      )
    }
    if (to !== r.id) {
      throw new TransferRefusedError(
        `${r.id} cannot transfer leadership to ${to}: ask the leader ${r.lead}, or ${to} itself`,
      )
    }
    if (!r.tracker.isVoter(r.id)) {
      throw new TransferRefusedError(`${r.id} cannot take leadership: not a voter`)
    }
    r.requestLeadershipForSelf()
  }

  /**
   * Requests a linearizable read. The answer is a ReadState with the same requestCtx in a later
   * Ready: the read may be served once the local state machine has applied up to its index.
   */
  readIndex(requestCtx: Uint8Array): void {
    const m = message({ type: 'MsgReadIndex', from: this.raft.id, to: this.raft.id })
    m.context = requestCtx
    this.raft.step(m)
  }

  /** The transport could not reach `id`: the leader stops streaming to it and probes instead. */
  reportUnreachable(id: NodeId): void {
    this.raft.step(message({ type: 'MsgUnreachable', from: id, to: this.raft.id }))
  }

  /** The transport finished (or failed) sending a snapshot to `id`. */
  reportSnapshot(id: NodeId, status: SnapshotStatus): void {
    this.raft.step(
      message({ type: 'MsgSnapStatus', from: id, to: this.raft.id, reject: status === 'failure' }),
    )
  }

  hasReady(): boolean {
    if (this.outstanding !== undefined) return false
    const r = this.raft
    if (r.lead !== this.prevSoft.lead || r.role !== this.prevSoft.role) return true
    if (this.hardStateChanged()) return true
    if (r.log.hasPendingSnapshot() || r.log.hasUnstableEntries()) return true
    if (r.msgs.length > 0 || r.readStates.length > 0 || r.hasPendingBroadcasts()) return true
    return r.log.hasNextCommittedEntries()
  }

  private hardStateChanged(): boolean {
    const r = this.raft
    const p = this.prevHard
    return r.term !== p.term || r.vote !== p.vote || r.log.committed !== p.commit
  }

  ready(): Ready {
    if (this.outstanding !== undefined) {
      throw new RaftInvariantError(`${this.raft.id} ready() called again before advance()`)
    }
    const r = this.raft
    const log = r.log
    r.flushBroadcasts()
    const rd: Ready = {
      entries: log.hasUnstableEntries() ? log.unstableEntriesCopy() : [],
      committedEntries: log.nextCommittedEntries(),
      messages: r.msgs,
      readStates: r.readStates,
      mustSync: false,
    }
    if (r.lead !== this.prevSoft.lead || r.role !== this.prevSoft.role) {
      rd.softState = { lead: r.lead, role: r.role }
      this.prevSoft = rd.softState
    }
    if (this.hardStateChanged()) {
      rd.hardState = { term: r.term, vote: r.vote, commit: log.committed }
      rd.mustSync = r.term !== this.prevHard.term || r.vote !== this.prevHard.vote
      this.prevHard = rd.hardState
    }
    const snap = log.pendingSnapshot()
    if (snap !== undefined) rd.snapshot = snap
    if (rd.entries.length > 0 || snap !== undefined) rd.mustSync = true

    r.msgs = []
    r.readStates = []
    // The heartbeats of the newest read batch leave now: later reads need a new round.
    r.readOnly.closeOpenBatch()
    if (rd.committedEntries.length > 0) {
      log.acceptApplying(rd.committedEntries[rd.committedEntries.length - 1]!.index)
      r.reduceUncommittedBytes(rd.committedEntries)
    }
    this.outstanding = rd
    return rd
  }

  /** The server has handled `rd` (persisted, sent, applied). */
  advance(rd: Ready): void {
    if (rd !== this.outstanding) {
      throw new RaftInvariantError(
        `${this.raft.id} advance() of a Ready that is not the outstanding one`,
      )
    }
    const log = this.raft.log
    const storage = this.cfg.storage
    // The driver must have persisted what the Ready asked for into the storage raft reads;
    // check before changing anything.
    const snapIndex = rd.snapshot?.metadata.index ?? 0
    if (rd.snapshot !== undefined && storage.firstIndex() <= snapIndex) {
      throw new RaftInvariantError(
        `${this.raft.id} advance(): storage first index ${storage.firstIndex()} is not past the Ready's snapshot ${snapIndex}`,
      )
    }
    const last = rd.entries.length > 0 ? rd.entries[rd.entries.length - 1]! : undefined
    if (last !== undefined && storage.lastIndex() < last.index) {
      throw new RaftInvariantError(
        `${this.raft.id} advance(): storage last index ${storage.lastIndex()} does not hold the Ready's entry ${last.index}`,
      )
    }
    if (rd.snapshot !== undefined) {
      log.stableSnapTo(snapIndex)
      log.appliedTo(snapIndex)
    }
    if (last !== undefined) log.stableTo(last.index, last.term)
    if (rd.committedEntries.length > 0) {
      log.appliedTo(rd.committedEntries[rd.committedEntries.length - 1]!.index)
    }
    this.outstanding = undefined
    if (rd.entries.length > 0) this.raft.onStable()
  }

  /**
   * Entries [lo, hi) of the log, unstable ones included, clipped to what the log holds now (for
   * the admin port's log view: entries below the first index were compacted away).
   */
  entriesBetween(lo: number, hi: number): Entry[] {
    const log = this.raft.log
    const from = Math.max(lo, log.firstIndex())
    const to = Math.min(hi, log.lastIndex() + 1)
    return from < to ? log.slice(from, to) : []
  }

  /** The commit index raft knows now (cheaper than status(), for checks on every proposal). */
  get committedIndex(): number {
    return this.raft.log.committed
  }

  status(): Status {
    const r = this.raft
    const progress: Record<NodeId, ProgressStatus> = {}
    if (r.role === 'leader') {
      for (const id of r.tracker.members) {
        if (id === r.id) continue
        progress[id] = r.tracker.progress.get(id)!.status()
      }
    }
    return {
      id: r.id,
      role: r.role,
      term: r.term,
      vote: r.vote,
      lead: r.lead,
      commit: r.log.committed,
      applied: r.log.applied,
      lastIndex: r.log.lastIndex(),
      stableIndex: Math.min(r.log.stableIndex(), r.log.lastIndex()),
      firstIndex: r.log.firstIndex(),
      confState: r.tracker.confState(),
      progress,
      leadTransferee: r.leadTransferee,
      electionElapsedTicks: r.electionElapsed,
      electionTimeoutTicks:
        r.role === 'leader' ? this.cfg.electionTicksMin : r.randomizedElectionTimeout,
    }
  }

  /** Every entry from firstIndex() to lastIndex(), stable or not (tests, inspection). */
  logEntries(): Entry[] {
    return this.raft.log.allEntries()
  }

  /** Internals for the tests of this folder. Not part of the API. */
  get internalRaftForTest(): Raft {
    return this.raft
  }
}
