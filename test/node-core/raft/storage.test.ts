// MemoryStorage: the Storage contract (bounds, named errors, size limits) and its mutators
// (append overwriting a conflicting suffix, snapshots, compaction), including misuse.
import { describe, expect, it } from 'vitest'
import {
  CompactedError,
  RaftInvariantError,
  SnapshotOutOfDateError,
  UnavailableError,
} from '../../../node-core/raft/errors'
import { MemoryStorage } from '../../../node-core/raft/storage'
import type { Entry } from '../../../node-core/raft/types'
import { entrySizeBytes } from '../../../node-core/raft/types'

function ent(term: number, index: number, data = ''): Entry {
  return { term, index, type: 'normal', data: new TextEncoder().encode(data) }
}

/** A storage holding entries 3..5 (terms 3, 4, 5) after a snapshot at index 3, term 3. */
function storage345(): MemoryStorage {
  const s = new MemoryStorage({ confState: { voters: [1, 2, 3], learners: [] } })
  s.append([ent(1, 1), ent(2, 2), ent(3, 3), ent(4, 4), ent(5, 5)])
  s.createSnapshot(3, { voters: [1, 2, 3], learners: [] }, new Uint8Array([9]))
  s.compact(3)
  return s
}

describe('MemoryStorage', () => {
  it('starts empty with the bootstrap conf state and hard state zero', () => {
    const s = new MemoryStorage({ confState: { voters: [1, 2], learners: [3] } })
    expect(s.firstIndex()).toBe(1)
    expect(s.lastIndex()).toBe(0)
    expect(s.term(0)).toBe(0)
    expect(s.initialState()).toEqual({
      hardState: { term: 0, vote: 0, commit: 0 },
      confState: { voters: [1, 2], learners: [3] },
    })
  })

  it('answers term() inside [snapshot, last] and throws the named errors outside', () => {
    const s = storage345()
    expect(s.firstIndex()).toBe(4)
    expect(s.lastIndex()).toBe(5)
    expect(s.term(3)).toBe(3)
    expect(s.term(5)).toBe(5)
    expect(() => s.term(2)).toThrow(CompactedError)
    expect(() => s.term(6)).toThrow(UnavailableError)
  })

  it('returns entries [lo, hi) and refuses compacted or missing ranges', () => {
    const s = storage345()
    expect(s.entries(4, 6).map((e) => e.index)).toEqual([4, 5])
    expect(s.entries(4, 4)).toEqual([])
    expect(() => s.entries(3, 5)).toThrow(CompactedError)
    expect(() => s.entries(4, 7)).toThrow(UnavailableError)
  })

  it('limits entries by bytes but always returns at least one', () => {
    const s = new MemoryStorage()
    s.append([ent(1, 1, 'aaaa'), ent(1, 2, 'bbbb'), ent(1, 3, 'cccc')])
    const one = entrySizeBytes(ent(1, 1, 'aaaa'))
    expect(s.entries(1, 4, 0).map((e) => e.index)).toEqual([1])
    expect(s.entries(1, 4, one).map((e) => e.index)).toEqual([1])
    expect(s.entries(1, 4, 2 * one).map((e) => e.index)).toEqual([1, 2])
    expect(s.entries(1, 4, 2 * one + 1).map((e) => e.index)).toEqual([1, 2])
    expect(s.entries(1, 4).map((e) => e.index)).toEqual([1, 2, 3])
  })

  it('appends contiguously, overwrites a conflicting suffix and ignores compacted entries', () => {
    const s = storage345()
    s.append([ent(5, 6)])
    expect(s.lastIndex()).toBe(6)
    s.append([ent(6, 5)])
    expect(s.lastIndex()).toBe(5)
    expect(s.term(5)).toBe(6)
    s.append([ent(1, 2), ent(3, 3), ent(4, 4), ent(6, 5), ent(6, 6)])
    expect(s.entries(4, 7).map((e) => `${e.term}/${e.index}`)).toEqual(['4/4', '6/5', '6/6'])
    s.append([ent(1, 1), ent(2, 2)])
    expect(s.lastIndex()).toBe(6)
  })

  it('refuses an append that leaves a gap or is not contiguous', () => {
    const s = storage345()
    expect(() => s.append([ent(5, 7)])).toThrow(/missing log entry \[last: 5, append at: 7\]/)
    expect(() => s.append([ent(5, 6), ent(5, 8)])).toThrow(RaftInvariantError)
  })

  it('creates snapshots, refuses older ones and compacts behind them', () => {
    const s = storage345()
    const snap = s.createSnapshot(5, { voters: [1, 2], learners: [3] }, new Uint8Array([7]))
    expect(snap.metadata).toEqual({
      index: 5,
      term: 5,
      confState: { voters: [1, 2], learners: [3] },
    })
    expect(s.snapshot()).toBe(snap)
    expect(() => s.createSnapshot(4, { voters: [1], learners: [] }, new Uint8Array())).toThrow(
      SnapshotOutOfDateError,
    )
    expect(() => s.compact(3)).toThrow(CompactedError)
    expect(() => s.compact(9)).toThrow(/compact 9 is out of bound lastindex\(5\)/)
    s.compact(5)
    expect(s.firstIndex()).toBe(6)
    expect(s.lastIndex()).toBe(5)
    expect(s.term(5)).toBe(5)
    expect(s.initialState().confState).toEqual({ voters: [1, 2], learners: [3] })
  })

  it('replaces the whole log on applySnapshot and refuses an older snapshot', () => {
    const s = storage345()
    s.applySnapshot({
      metadata: { index: 10, term: 7, confState: { voters: [4], learners: [] } },
      data: new Uint8Array([1]),
    })
    expect(s.firstIndex()).toBe(11)
    expect(s.lastIndex()).toBe(10)
    expect(s.term(10)).toBe(7)
    expect(s.initialState().confState).toEqual({ voters: [4], learners: [] })
    expect(() =>
      s.applySnapshot({
        metadata: { index: 10, term: 7, confState: { voters: [4], learners: [] } },
        data: new Uint8Array(),
      }),
    ).toThrow(SnapshotOutOfDateError)
  })

  it('keeps its own copy of the hard state', () => {
    const s = new MemoryStorage()
    const hs = { term: 3, vote: 2, commit: 0 }
    s.setHardState(hs)
    hs.term = 9
    expect(s.initialState().hardState).toEqual({ term: 3, vote: 2, commit: 0 })
  })
})
