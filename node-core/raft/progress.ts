/**
 * The leader's view of one follower: Raft's matchIndex and nextIndex (§5.3) plus flow control.
 *
 * A follower's progress is in one of three states:
 *   probe      the leader does not know where the follower's log matches; it sends one append
 *              at a time (then pauses until a response or a heartbeat response) and walks
 *              `next` back on rejections.
 *   replicate  the logs match up to `match`; the leader streams appends optimistically
 *              (advancing `next` as it sends), at most maxInflightMsgs unacknowledged ones.
 *   snapshot   the follower needs a snapshot; nothing is sent until the transport reports the
 *              snapshot done (or failed) or an append response shows the follower caught up.
 *
 * Invariant: match < next.
 */
import { RaftInvariantError } from './errors'
import type { ProgressState, ProgressStatus } from './types'

/**
 * A bounded FIFO of the last index carried by each append message in flight, as a ring buffer
 * that grows on demand up to `capacity` (so that idle followers cost little).
 */
export class Inflights {
  readonly capacity: number
  /** Indexes are below 2^53, so a Float64Array holds them exactly. */
  private buffer = new Float64Array(0)
  private start = 0
  private count = 0

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity <= 0) {
      throw new RaftInvariantError(`inflights capacity must be positive, got ${capacity}`)
    }
    this.capacity = capacity
  }

  get length(): number {
    return this.count
  }

  full(): boolean {
    return this.count === this.capacity
  }

  /** Records an append message whose last entry is `index`; indexes must increase. */
  add(index: number): void {
    if (this.count === this.capacity) {
      throw new RaftInvariantError(`cannot add index ${index} to full inflights (${this.capacity})`)
    }
    if (this.count > 0) {
      const last = this.at(this.count - 1)
      if (index <= last) {
        throw new RaftInvariantError(`inflights must increase: ${index} after ${last}`)
      }
    }
    if (this.count === this.buffer.length) this.grow()
    let pos = this.start + this.count
    if (pos >= this.buffer.length) pos -= this.buffer.length
    this.buffer[pos] = index
    this.count++
  }

  /** Frees every message whose last index is <= `index` (they were acknowledged). */
  freeLE(index: number): void {
    let freed = 0
    while (freed < this.count && this.at(freed) <= index) freed++
    this.drop(freed)
  }

  freeFirstOne(): void {
    if (this.count > 0) this.drop(1)
  }

  reset(): void {
    this.start = 0
    this.count = 0
  }

  private at(i: number): number {
    let pos = this.start + i
    if (pos >= this.buffer.length) pos -= this.buffer.length
    return this.buffer[pos]!
  }

  private drop(n: number): void {
    this.count -= n
    if (this.count === 0) {
      this.start = 0
      return
    }
    this.start += n
    if (this.start >= this.buffer.length) this.start -= this.buffer.length
  }

  /** Doubles the buffer (up to capacity), moving the live window to its front. */
  private grow(): void {
    const size = Math.min(this.capacity, Math.max(4, this.buffer.length * 2))
    const next = new Float64Array(size)
    for (let i = 0; i < this.count; i++) next[i] = this.at(i)
    this.buffer = next
    this.start = 0
  }
}

export class Progress {
  match = 0
  next: number
  state: ProgressState = 'probe'
  /** In probe: an append was sent and no response has come back yet. */
  probeSent = false
  /** In snapshot: the index of the snapshot being sent. */
  pendingSnapshot = 0
  /**
   * The highest commit index sent to this follower that it can act on (a MsgApp's commit as far
   * as the message's last entry, a heartbeat's commit). An empty append only to tell the
   * commit index is sent when it would say more than this.
   */
  sentCommit = 0
  /** Heard from since the last check-quorum round (the leader itself is always active). */
  recentActive = false
  isLearner: boolean
  readonly inflights: Inflights

  constructor(next: number, maxInflightMsgs: number, isLearner: boolean) {
    this.next = next
    this.isLearner = isLearner
    this.inflights = new Inflights(maxInflightMsgs)
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false
    this.pendingSnapshot = 0
    this.state = state
    this.inflights.reset()
  }

  /** Forget everything (a new term): probe from `next`. */
  reset(next: number): void {
    this.resetState('probe')
    this.match = 0
    this.next = next
    this.sentCommit = 0
    this.recentActive = false
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      // The follower is at least at the snapshot (when it applied it); probe from there.
      const pendingSnapshot = this.pendingSnapshot
      this.resetState('probe')
      this.next = Math.max(this.match + 1, pendingSnapshot + 1)
    } else {
      this.resetState('probe')
      this.next = this.match + 1
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate')
    this.next = this.match + 1
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot')
    this.pendingSnapshot = snapshotIndex
  }

  /**
   * An append response acknowledged `index`. Returns false when it says nothing new (a stale or
   * duplicate response).
   */
  maybeUpdate(index: number): boolean {
    if (index <= this.match) return false
    this.match = index
    if (this.next < index + 1) this.next = index + 1
    this.probeSent = false
    return true
  }

  /**
   * The follower rejected an append whose previous index was `rejected`; `matchHint` is the
   * highest index that may still match (from its hint, see RaftLog.findConflictByTerm). Returns
   * false when the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      // Only a rejection above match can be current: below it the logs are known to agree.
      if (rejected <= this.match) return false
      this.next = this.match + 1
      return true
    }
    // In probe (and snapshot), only the response to the last probe counts.
    if (this.next - 1 !== rejected) return false
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1)
    this.probeSent = false
    return true
  }

  /** Whether an append carrying `commit` would let the follower commit more than it knows. */
  canBumpCommit(commit: number): boolean {
    return commit > this.sentCommit && this.sentCommit < this.next - 1
  }

  noteSentCommit(commit: number): void {
    if (commit > this.sentCommit) this.sentCommit = commit
  }

  /** Whether sending an append to this follower must wait (flow control). */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent
      case 'replicate':
        return this.inflights.full()
      case 'snapshot':
        return true
    }
  }

  /** Book-keeping after sending an append whose entries end at `lastIndex` (count entries). */
  sentEntries(count: number, lastIndex: number): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.next = lastIndex + 1
        this.inflights.add(lastIndex)
      }
    } else if (this.state === 'probe') {
      this.probeSent = true
    } else {
      throw new RaftInvariantError(`sending append in unhandled progress state ${this.state}`)
    }
  }

  status(): ProgressStatus {
    return {
      match: this.match,
      next: this.next,
      state: this.state,
      inflight: this.inflights.length,
      recentActive: this.recentActive,
      isLearner: this.isLearner,
      pendingSnapshot: this.pendingSnapshot,
    }
  }

  toString(): string {
    let s = `${this.state} match=${this.match} next=${this.next}`
    if (this.isLearner) s += ' learner'
    if (this.probeSent) s += ' paused'
    if (this.pendingSnapshot > 0) s += ` pendingSnap=${this.pendingSnapshot}`
    if (!this.recentActive) s += ' inactive'
    if (this.inflights.length > 0) {
      s += ` inflight=${this.inflights.length}`
      if (this.inflights.full()) s += '[full]'
    }
    return s
  }
}
