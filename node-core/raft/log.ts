/**
 * RaftLog: the log as the state machine sees it, layered as
 *
 *   storage (durable: snapshot s, entries s+1 .. storage.lastIndex())
 *   unstable (not yet durable: an optional snapshot, then entries from `unstableOffset` on)
 *
 * Unstable entries win over stored ones from unstableOffset on: a follower that truncates a
 * conflicting tail moves unstableOffset below storage.lastIndex(), and the stale stored entries
 * are overwritten when the server persists the next Ready.
 *
 * Indexes, with their invariants:
 *   firstIndex() - 1 <= applied <= applying <= committed <= lastIndex()
 *   applied:  the state machine has applied up to here (advance() acknowledged it)
 *   applying: committed entries up to here have been handed out in a Ready (not yet advanced)
 *   stableIndex(): entries up to here are durable; (stableIndex, lastIndex] are unstable.
 */
import { CompactedError, RaftInvariantError, UnavailableError } from './errors'
import type { Logger } from '../kernel/logger'
import type { Storage } from './storage'
import { limitBytes } from './storage'
import type { Entry, Snapshot } from './types'
import { entrySizeBytes } from './types'

export class RaftLog {
  readonly storage: Storage
  /** Highest index known to be committed. Invariant: applying <= committed <= lastIndex(). */
  committed: number
  /** Highest index handed out to the state machine. Invariant: applied <= applying. */
  applying: number
  /** Highest index applied by the state machine (acknowledged by advance()). */
  applied: number

  /** A snapshot received from the leader and not yet persisted. */
  private unstableSnapshot: Snapshot | undefined = undefined
  /** Entries not yet persisted; unstableEntries[i] has index unstableOffset + i. */
  private unstableEntries: Entry[] = []
  private unstableOffset: number
  private readonly maxApplyBytes: number
  private readonly logger: Logger
  /** Prefix of log lines: the node's id. */
  private readonly name: string

  constructor(storage: Storage, maxApplyBytes: number, logger: Logger, name = '') {
    this.storage = storage
    this.name = name === '' ? '' : `${name} `
    this.maxApplyBytes = maxApplyBytes
    this.logger = logger
    const first = storage.firstIndex()
    const last = storage.lastIndex()
    this.unstableOffset = last + 1
    this.committed = first - 1
    this.applying = first - 1
    this.applied = first - 1
  }

  firstIndex(): number {
    const snap = this.unstableSnapshot
    return snap !== undefined ? snap.metadata.index + 1 : this.storage.firstIndex()
  }

  lastIndex(): number {
    const n = this.unstableEntries.length
    if (n > 0) return this.unstableOffset + n - 1
    const snap = this.unstableSnapshot
    return snap !== undefined ? snap.metadata.index : this.storage.lastIndex()
  }

  /** Highest index known durable; above it entries (or a received snapshot) are unstable. */
  stableIndex(): number {
    const snap = this.unstableSnapshot
    return (snap !== undefined ? snap.metadata.index : this.unstableOffset) - 1
  }

  /**
   * The term of entry `index`. Throws CompactedError below firstIndex() - 1 and
   * UnavailableError above lastIndex().
   */
  term(index: number): number {
    const snap = this.unstableSnapshot
    if (snap !== undefined && index === snap.metadata.index) return snap.metadata.term
    if (index >= this.unstableOffset) {
      const pos = index - this.unstableOffset
      if (pos < this.unstableEntries.length) return this.unstableEntries[pos]!.term
      throw new UnavailableError(index, this.lastIndex())
    }
    if (snap !== undefined) throw new CompactedError(index, snap.metadata.index + 1)
    return this.storage.term(index)
  }

  /** term(index), or 0 when the entry is compacted or beyond the log. */
  termOrZero(index: number): number {
    if (index > this.lastIndex()) return 0
    try {
      return this.term(index)
    } catch (err) {
      if (err instanceof CompactedError || err instanceof UnavailableError) return 0
      throw err
    }
  }

  lastTerm(): number {
    return this.term(this.lastIndex())
  }

  matchTerm(index: number, term: number): boolean {
    if (index > this.lastIndex()) return false
    try {
      return this.term(index) === term
    } catch (err) {
      if (err instanceof CompactedError) return false
      throw err
    }
  }

  /** Raft §5.4.1: a log ending at (term, index) is at least as up to date as ours. */
  isUpToDate(index: number, term: number): boolean {
    const lastTerm = this.lastTerm()
    return term > lastTerm || (term === lastTerm && index >= this.lastIndex())
  }

  /**
   * Entries [lo, hi), at most maxBytes of them (by entrySizeBytes; at least one when lo < hi).
   * Throws CompactedError when lo is below firstIndex().
   */
  slice(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    const first = this.firstIndex()
    if (lo < first) throw new CompactedError(lo, first)
    const last = this.lastIndex()
    if (hi > last + 1 || lo > hi) {
      throw new RaftInvariantError(`slice [${lo}, ${hi}) is out of bound [${first}, ${last}]`)
    }
    if (lo === hi) return []
    const offset = this.unstableOffset
    if (hi <= offset) return this.storage.entries(lo, hi, maxBytes)
    if (lo >= offset) {
      const end = limitBytes(this.unstableEntries, lo - offset, hi - offset, maxBytes)
      return this.unstableEntries.slice(lo - offset, end)
    }
    // The range spans storage and unstable entries.
    const stored = this.storage.entries(lo, offset, maxBytes)
    if (stored.length < offset - lo) return stored
    let total = 0
    if (maxBytes !== Infinity) for (const e of stored) total += entrySizeBytes(e)
    for (let i = 0; i < hi - offset; i++) {
      const e = this.unstableEntries[i]!
      if (maxBytes !== Infinity) {
        total += entrySizeBytes(e)
        if (total > maxBytes) break
      }
      stored.push(e)
    }
    return stored
  }

  /** Entries from `lo` to the end of the log, at most maxBytes. */
  entriesFrom(lo: number, maxBytes = Infinity): Entry[] {
    const last = this.lastIndex()
    if (lo > last) return []
    return this.slice(lo, last + 1, maxBytes)
  }

  /** Every entry from firstIndex() on (tests and the harness). */
  allEntries(): Entry[] {
    return this.entriesFrom(this.firstIndex())
  }

  /**
   * Appends entries that follow the log or overwrite part of its uncommitted tail. Returns the
   * new last index.
   */
  append(entries: readonly Entry[]): number {
    if (entries.length === 0) return this.lastIndex()
    const after = entries[0]!.index - 1
    if (after < this.committed) {
      throw new RaftInvariantError(`after ${after} is out of range [committed ${this.committed}]`)
    }
    const last = this.lastIndex()
    if (after > last) {
      throw new RaftInvariantError(`append at ${after + 1} leaves a gap after last index ${last}`)
    }
    this.truncateAndAppend(entries)
    return this.lastIndex()
  }

  private truncateAndAppend(entries: readonly Entry[]): void {
    const from = entries[0]!.index
    const offset = this.unstableOffset
    const ents = this.unstableEntries
    if (from === offset + ents.length) {
      for (const e of entries) ents.push(e)
    } else if (from <= offset) {
      // Replaces the whole unstable tail (and hides the stored entries from `from` on).
      if (from < offset)
        this.logger.debug(`${this.name}replace the unstable entries from index ${from}`)
      this.unstableOffset = from
      this.unstableEntries = entries.slice()
    } else {
      this.logger.debug(`${this.name}truncate the unstable entries before index ${from}`)
      ents.length = from - offset
      for (const e of entries) ents.push(e)
    }
  }

  /**
   * The index of the first entry of `entries` that conflicts with the log (same index, other
   * term) or is new; 0 when the log already holds all of them.
   */
  findConflict(entries: readonly Entry[]): number {
    const last = this.lastIndex()
    for (const e of entries) {
      if (!this.matchTerm(e.index, e.term)) {
        if (e.index <= last) {
          this.logger.info(
            `${this.name}found conflict at index ${e.index} [existing term: ${this.termOrZero(e.index)}, conflicting term: ${e.term}]`,
          )
        }
        return e.index
      }
    }
    return 0
  }

  /**
   * Fast backtracking (the optimisation at the end of Raft §5.3): the largest index <= `index`
   * whose term is <= `term`. Every entry above it up to `index` has a term above `term`, so a
   * log whose entry at `index` has term `term` cannot match any of them. Returns `index` itself
   * when it is beyond the log, and the first compacted position when the walk reaches it.
   */
  findConflictByTerm(index: number, term: number): number {
    if (index > this.lastIndex()) return index
    const dummy = this.firstIndex() - 1
    for (; index > dummy; index--) {
      if (this.term(index) <= term) return index
    }
    return index
  }

  /**
   * The follower's side of AppendEntries: when the entry at prevIndex has prevTerm, appends
   * `entries` (truncating a conflicting suffix) and moves the commit index to
   * min(leaderCommit, last new index). Returns the last new index, or -1 when the consistency
   * check fails.
   */
  maybeAppend(prevIndex: number, prevTerm: number, leaderCommit: number, entries: Entry[]): number {
    if (!this.matchTerm(prevIndex, prevTerm)) return -1
    const lastNew = prevIndex + entries.length
    const conflict = this.findConflict(entries)
    if (conflict !== 0) {
      if (conflict <= this.committed) {
        throw new RaftInvariantError(
          `entry ${conflict} conflicts with committed entry [committed ${this.committed}]`,
        )
      }
      const start = conflict - (prevIndex + 1)
      this.append(start === 0 ? entries : entries.slice(start))
    }
    this.commitTo(Math.min(leaderCommit, lastNew))
    return lastNew
  }

  commitTo(index: number): void {
    if (index <= this.committed) return
    const last = this.lastIndex()
    if (index > last) {
      throw new RaftInvariantError(
        `commit ${index} is out of range [last ${last}]. Was the raft log corrupted, truncated, or lost?`,
      )
    }
    this.committed = index
  }

  /** Commits up to maxIndex when that entry is of `term` (Raft §5.4.2). */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.termOrZero(maxIndex) === term) {
      this.commitTo(maxIndex)
      return true
    }
    return false
  }

  appliedTo(index: number): void {
    if (index === 0) return
    if (index < this.applied || index > this.committed) {
      throw new RaftInvariantError(
        `applied ${index} is out of range [prevApplied ${this.applied}, committed ${this.committed}]`,
      )
    }
    this.applied = index
    if (this.applying < index) this.applying = index
  }

  hasPendingSnapshot(): boolean {
    return this.unstableSnapshot !== undefined
  }

  pendingSnapshot(): Snapshot | undefined {
    return this.unstableSnapshot
  }

  hasNextCommittedEntries(): boolean {
    return this.applying < this.committed && this.unstableSnapshot === undefined
  }

  /** The next committed entries to apply (bounded by maxApplyBytes), not yet handed out. */
  nextCommittedEntries(): Entry[] {
    if (!this.hasNextCommittedEntries()) return []
    return this.slice(this.applying + 1, this.committed + 1, this.maxApplyBytes)
  }

  /** Records that entries up to `index` were handed out for applying. */
  acceptApplying(index: number): void {
    if (index < this.applying || index > this.committed) {
      throw new RaftInvariantError(
        `applying ${index} is out of range [applying ${this.applying}, committed ${this.committed}]`,
      )
    }
    this.applying = index
  }

  hasUnstableEntries(): boolean {
    return this.unstableEntries.length > 0
  }

  /** A copy of the unstable entries (the Ready's `entries`). */
  unstableEntriesCopy(): Entry[] {
    return this.unstableEntries.slice()
  }

  /**
   * Entries up to (index, term) are durable. Ignored when the entry has since been replaced
   * (the term differs) or is already stable: the next Ready persists the replacement.
   */
  stableTo(index: number, term: number): void {
    const offset = this.unstableOffset
    const pos = index - offset
    if (pos < 0 || pos >= this.unstableEntries.length) return
    if (this.unstableEntries[pos]!.term !== term) return
    const ents = this.unstableEntries
    if (pos === ents.length - 1) {
      this.unstableEntries = []
    } else {
      this.unstableEntries = ents.slice(pos + 1)
    }
    this.unstableOffset = index + 1
  }

  stableSnapTo(index: number): void {
    if (this.unstableSnapshot !== undefined && this.unstableSnapshot.metadata.index === index) {
      this.unstableSnapshot = undefined
    }
  }

  /** Replaces the log with `snap` (received from the leader; persisted by the next Ready). */
  restore(snap: Snapshot): void {
    this.logger.info(
      `${this.name}log [committed=${this.committed}, applied=${this.applied}, lastindex=${this.lastIndex()}] starts to restore snapshot [index: ${snap.metadata.index}, term: ${snap.metadata.term}]`,
    )
    this.committed = snap.metadata.index
    this.unstableSnapshot = snap
    this.unstableOffset = snap.metadata.index + 1
    this.unstableEntries = []
  }

  /** The snapshot to send to a follower: a received one not yet persisted, else storage's. */
  snapshot(): Snapshot {
    return this.unstableSnapshot ?? this.storage.snapshot()
  }

  toString(): string {
    return `committed=${this.committed}, applied=${this.applied}, applying=${this.applying}, unstable.offset=${this.unstableOffset}, unstable.entries=${this.unstableEntries.length}`
  }
}
