/**
 * Storage: raft's read-only view of the durable log, and MemoryStorage, the in-memory
 * implementation used by the simulator, the tests and (as a cache in front of the WAL) a server.
 *
 * Contract of Storage (raft only ever reads; the server writes after persisting a Ready):
 *   - The log is a snapshot (index s, term t, conf state) followed by entries s+1..lastIndex.
 *     firstIndex() = s + 1; lastIndex() >= s (lastIndex() = s when there are no entries).
 *   - term(i) is defined for s <= i <= lastIndex() (term(s) is the snapshot's term). Below s it
 *     throws CompactedError, above lastIndex() UnavailableError.
 *   - entries(lo, hi, maxBytes) returns entries [lo, hi) in index order. lo < firstIndex()
 *     throws CompactedError, hi > lastIndex() + 1 throws UnavailableError. With maxBytes the
 *     result stops before the entry that would take the total (by entrySizeBytes) above it, but
 *     it always holds at least one entry when the range is not empty.
 *   - snapshot() returns the most recent snapshot; it may throw
 *     SnapshotTemporarilyUnavailableError when one is being produced (the leader retries).
 *   - initialState() returns the persisted HardState and the membership (ConfState) as of the
 *     index the node will be restarted from (RaftConfig.applied, or the snapshot when unset).
 *
 * MemoryStorage keeps entry s (the snapshot's index and term, no data) as a dummy at position
 * 0 of its array, so that term(s) needs no special case: ents[i - s] is entry i.
 */
import {
  CompactedError,
  RaftInvariantError,
  SnapshotOutOfDateError,
  UnavailableError,
} from './errors'
import type { ConfState, Entry, HardState, Snapshot } from './types'
import { entrySizeBytes } from './types'

export interface Storage {
  initialState(): { hardState: HardState; confState: ConfState }
  /** Entries [lo, hi), at most maxBytes (but at least one entry when lo < hi). */
  entries(lo: number, hi: number, maxBytes?: number): Entry[]
  term(index: number): number
  firstIndex(): number
  lastIndex(): number
  snapshot(): Snapshot
}

const EMPTY = new Uint8Array(0)

/** Copies of a ConfState's arrays, so that later changes to the source do not leak in. */
export function cloneConfState(cs: ConfState): ConfState {
  return { voters: cs.voters.slice(), learners: cs.learners.slice() }
}

/**
 * How many of `ents` (from position `from`) fit into maxBytes, never fewer than one. Returns the
 * end position (exclusive). Infinity means no limit.
 */
export function limitBytes(ents: readonly Entry[], from: number, to: number, maxBytes: number) {
  if (maxBytes === Infinity || to - from <= 1) return to
  let total = entrySizeBytes(ents[from]!)
  let end = from + 1
  while (end < to) {
    total += entrySizeBytes(ents[end]!)
    if (total > maxBytes) break
    end++
  }
  return end
}

export class MemoryStorage implements Storage {
  private hardState: HardState = { term: 0, vote: 0, commit: 0 }
  private snap: Snapshot
  /** ents[0] is the dummy entry at the snapshot's index and term. */
  private ents: Entry[]

  /**
   * An empty log. `confState` is the bootstrap membership of a brand-new cluster (it lives in
   * an empty snapshot at index 0 until a real snapshot replaces it).
   */
  constructor(init: { confState?: ConfState } = {}) {
    this.snap = {
      metadata: {
        index: 0,
        term: 0,
        confState: cloneConfState(init.confState ?? { voters: [], learners: [] }),
      },
      data: EMPTY,
    }
    this.ents = [{ term: 0, index: 0, type: 'normal', data: EMPTY }]
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return {
      hardState: { ...this.hardState },
      confState: cloneConfState(this.snap.metadata.confState),
    }
  }

  setHardState(hs: HardState): void {
    this.hardState = { term: hs.term, vote: hs.vote, commit: hs.commit }
  }

  private get offset(): number {
    return this.ents[0]!.index
  }

  firstIndex(): number {
    return this.offset + 1
  }

  lastIndex(): number {
    return this.offset + this.ents.length - 1
  }

  term(index: number): number {
    const offset = this.offset
    if (index < offset) throw new CompactedError(index, offset + 1)
    const pos = index - offset
    if (pos >= this.ents.length) throw new UnavailableError(index, this.lastIndex())
    return this.ents[pos]!.term
  }

  entries(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    const offset = this.offset
    if (lo <= offset) throw new CompactedError(lo, offset + 1)
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex())
    if (lo > hi) throw new RaftInvariantError(`entries: invalid range [${lo}, ${hi})`)
    const from = lo - offset
    const to = limitBytes(this.ents, from, hi - offset, maxBytes)
    return this.ents.slice(from, to)
  }

  snapshot(): Snapshot {
    return this.snap
  }

  /** Replaces the whole log with `snap` (a follower received it from the leader). */
  applySnapshot(snap: Snapshot): void {
    const current = this.snap.metadata.index
    const index = snap.metadata.index
    if (index <= current) throw new SnapshotOutOfDateError(index, current)
    this.snap = {
      metadata: {
        index,
        term: snap.metadata.term,
        confState: cloneConfState(snap.metadata.confState),
      },
      data: snap.data,
    }
    this.ents = [{ term: snap.metadata.term, index, type: 'normal', data: EMPTY }]
  }

  /**
   * Records a snapshot of the state machine at `index` (<= lastIndex), taken by the server after
   * applying up to it, and returns it. Entries are kept until compact().
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    const current = this.snap.metadata.index
    if (index <= current) throw new SnapshotOutOfDateError(index, current)
    const last = this.lastIndex()
    if (index > last) {
      throw new RaftInvariantError(`snapshot ${index} is out of bound lastindex(${last})`)
    }
    this.snap = {
      metadata: { index, term: this.term(index), confState: cloneConfState(confState) },
      data,
    }
    return this.snap
  }

  /** Discards entries up to `index` (inclusive; it becomes the dummy entry). */
  compact(index: number): void {
    const offset = this.offset
    if (index <= offset) throw new CompactedError(index, offset + 1)
    const last = this.lastIndex()
    if (index > last)
      throw new RaftInvariantError(`compact ${index} is out of bound lastindex(${last})`)
    const pos = index - offset
    const ents = this.ents.slice(pos)
    ents[0] = { term: this.ents[pos]!.term, index, type: 'normal', data: EMPTY }
    this.ents = ents
  }

  /**
   * Appends entries that are contiguous with the log or overwrite a suffix of it (a follower
   * truncating a conflicting tail). Entries at or below the snapshot are ignored.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return
    const first = this.firstIndex()
    let start = 0
    const firstNew = entries[0]!.index
    const lastNew = firstNew + entries.length - 1
    if (lastNew < first) return
    for (let i = 1; i < entries.length; i++) {
      if (entries[i]!.index !== firstNew + i) {
        throw new RaftInvariantError(
          `append: entries are not contiguous (${entries[i - 1]!.index} then ${entries[i]!.index})`,
        )
      }
    }
    if (firstNew < first) start = first - firstNew
    const at = entries[start]!.index - this.offset
    if (at > this.ents.length) {
      throw new RaftInvariantError(
        `missing log entry [last: ${this.lastIndex()}, append at: ${entries[start]!.index}]`,
      )
    }
    if (at < this.ents.length) this.ents.length = at
    for (let i = start; i < entries.length; i++) this.ents.push(entries[i]!)
  }
}
