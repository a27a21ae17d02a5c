// RaftLog: the storage + unstable layering, the follower's append with conflict truncation, the
// conflict search used for fast backtracking, the commit/apply invariants and stabilisation.
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../../node-core/kernel/logger'
import { CompactedError, RaftInvariantError } from '../../../node-core/raft/errors'
import { RaftLog } from '../../../node-core/raft/log'
import { MemoryStorage } from '../../../node-core/raft/storage'
import type { Entry } from '../../../node-core/raft/types'

function ent(term: number, index: number): Entry {
  return { term, index, type: 'normal', data: new Uint8Array([index & 0xff]) }
}

/** Entries with the given terms at indexes from, from + 1, ... */
function ents(from: number, ...terms: number[]): Entry[] {
  return terms.map((t, i) => ent(t, from + i))
}

function newLog(stored: Entry[] = []): { log: RaftLog; storage: MemoryStorage } {
  const storage = new MemoryStorage()
  storage.append(stored)
  return { log: new RaftLog(storage, Infinity, silentLogger), storage }
}

const ids = (es: Entry[]) => es.map((e) => `${e.term}/${e.index}`)

describe('RaftLog', () => {
  it('layers unstable entries over storage', () => {
    const { log } = newLog(ents(1, 1, 1, 2))
    expect(log.firstIndex()).toBe(1)
    expect(log.lastIndex()).toBe(3)
    expect(log.stableIndex()).toBe(3)
    log.append(ents(4, 3, 3))
    expect(log.lastIndex()).toBe(5)
    expect(log.stableIndex()).toBe(3)
    expect(ids(log.slice(2, 6))).toEqual(['1/2', '2/3', '3/4', '3/5'])
    expect(log.term(5)).toBe(3)
    expect(log.lastTerm()).toBe(3)
  })

  it('truncates a conflicting suffix that reaches into storage', () => {
    const { log } = newLog(ents(1, 1, 1, 1))
    log.append(ents(4, 1))
    // Conflict at index 2: unstable now starts at 2 and hides the stored 2 and 3.
    log.append(ents(2, 2, 2))
    expect(ids(log.allEntries())).toEqual(['1/1', '2/2', '2/3'])
    expect(log.stableIndex()).toBe(1)
  })

  it('refuses to append below the commit index', () => {
    const { log } = newLog(ents(1, 1, 1, 1))
    log.commitTo(2)
    expect(() => log.append(ents(2, 2))).toThrow(/after 1 is out of range \[committed 2\]/)
  })

  it('maybeAppend checks the previous entry, appends, truncates and commits', () => {
    const { log } = newLog(ents(1, 1, 2, 3))
    // Mismatch at the previous entry.
    expect(log.maybeAppend(3, 2, 3, ents(4, 4))).toBe(-1)
    // Previous beyond the log.
    expect(log.maybeAppend(4, 3, 3, ents(5, 4))).toBe(-1)
    // Match: append, commit clamped to the last new entry.
    expect(log.maybeAppend(3, 3, 10, ents(4, 4, 4))).toBe(5)
    expect(log.committed).toBe(5)
    // Duplicate (already held) entries change nothing.
    expect(log.maybeAppend(1, 1, 5, ents(2, 2, 3))).toBe(3)
    expect(log.lastIndex()).toBe(5)
  })

  it('maybeAppend throws when a conflict touches a committed entry', () => {
    const { log } = newLog(ents(1, 1, 2, 3))
    log.commitTo(3)
    expect(() => log.maybeAppend(1, 1, 3, ents(2, 5, 5))).toThrow(
      /entry 2 conflicts with committed entry \[committed 3\]/,
    )
  })

  it('findConflict finds the first mismatching or new entry', () => {
    const { log } = newLog(ents(1, 1, 2, 3))
    expect(log.findConflict([])).toBe(0)
    expect(log.findConflict(ents(1, 1, 2, 3))).toBe(0)
    expect(log.findConflict(ents(2, 2, 3, 4))).toBe(4)
    expect(log.findConflict(ents(2, 2, 4, 4))).toBe(3)
    expect(log.findConflict(ents(1, 4, 4))).toBe(1)
  })

  it('findConflictByTerm skips every entry whose term is above the given term', () => {
    // Terms: 1:1 2:1 3:2 4:2 5:5 6:5 7:6
    const { log } = newLog(ents(1, 1, 1, 2, 2, 5, 5, 6))
    expect(log.findConflictByTerm(7, 6)).toBe(7)
    expect(log.findConflictByTerm(7, 5)).toBe(6)
    expect(log.findConflictByTerm(7, 4)).toBe(4)
    expect(log.findConflictByTerm(7, 2)).toBe(4)
    expect(log.findConflictByTerm(7, 1)).toBe(2)
    expect(log.findConflictByTerm(7, 0)).toBe(0)
    // Beyond the log: returned unchanged.
    expect(log.findConflictByTerm(9, 1)).toBe(9)
  })

  it('findConflictByTerm stops at the compacted prefix', () => {
    const { log, storage } = newLog(ents(1, 1, 2, 3, 4, 5))
    storage.createSnapshot(3, { voters: [1], learners: [] }, new Uint8Array())
    storage.compact(3)
    const fresh = new RaftLog(storage, Infinity, silentLogger)
    expect(fresh.findConflictByTerm(5, 1)).toBe(3)
    expect(log.termOrZero(10)).toBe(0)
  })

  it('isUpToDate compares last term, then last index (Raft §5.4.1)', () => {
    const { log } = newLog(ents(1, 1, 2, 3))
    expect(log.isUpToDate(3, 3)).toBe(true)
    expect(log.isUpToDate(2, 3)).toBe(false)
    expect(log.isUpToDate(4, 3)).toBe(true)
    expect(log.isUpToDate(1, 4)).toBe(true)
    expect(log.isUpToDate(9, 2)).toBe(false)
  })

  it('maybeCommit commits only an entry of the given term (Raft §5.4.2)', () => {
    const { log } = newLog(ents(1, 1, 2, 3))
    expect(log.maybeCommit(2, 3)).toBe(false)
    expect(log.committed).toBe(0)
    expect(log.maybeCommit(3, 3)).toBe(true)
    expect(log.committed).toBe(3)
    expect(log.maybeCommit(2, 2)).toBe(false)
  })

  it('asserts commit and apply ranges with the numbers', () => {
    const { log } = newLog(ents(1, 1, 1, 1))
    expect(() => log.commitTo(9)).toThrow(/commit 9 is out of range \[last 3\]/)
    log.commitTo(2)
    expect(() => log.appliedTo(3)).toThrow(
      /applied 3 is out of range \[prevApplied 0, committed 2\]/,
    )
    log.appliedTo(2)
    expect(() => log.appliedTo(1)).toThrow(RaftInvariantError)
  })

  it('hands out committed entries once, bounded by the apply size', () => {
    const storage = new MemoryStorage()
    storage.append(ents(1, 1, 1, 1, 1))
    const log = new RaftLog(storage, 1, silentLogger)
    log.commitTo(3)
    expect(ids(log.nextCommittedEntries())).toEqual(['1/1'])
    log.acceptApplying(1)
    expect(ids(log.nextCommittedEntries())).toEqual(['1/2'])
    log.acceptApplying(3)
    expect(log.hasNextCommittedEntries()).toBe(false)
    log.appliedTo(3)
    expect(log.applied).toBe(3)
  })

  it('stableTo ignores entries that were replaced before they became durable', () => {
    const { log } = newLog(ents(1, 1))
    log.append(ents(2, 1, 1))
    // The Ready held 2..3 of term 1; before advance a new leader replaced 3.
    log.append(ents(3, 2))
    log.stableTo(3, 1)
    expect(log.stableIndex()).toBe(1)
    log.stableTo(2, 1)
    expect(log.stableIndex()).toBe(2)
    expect(ids(log.unstableEntriesCopy())).toEqual(['2/3'])
    log.stableTo(3, 2)
    expect(log.hasUnstableEntries()).toBe(false)
    expect(log.stableIndex()).toBe(3)
  })

  it('restores a snapshot: the log restarts after it and nothing is handed out before it', () => {
    const { log, storage } = newLog(ents(1, 1, 1, 1))
    log.commitTo(1)
    const snap = {
      metadata: { index: 10, term: 4, confState: { voters: [1], learners: [] } },
      data: new Uint8Array(),
    }
    log.restore(snap)
    expect(log.firstIndex()).toBe(11)
    expect(log.lastIndex()).toBe(10)
    expect(log.committed).toBe(10)
    expect(log.term(10)).toBe(4)
    expect(() => log.term(9)).toThrow(CompactedError)
    expect(log.hasNextCommittedEntries()).toBe(false)
    expect(log.stableIndex()).toBe(9)
    // The server persists the snapshot, then advance() tells the log.
    storage.applySnapshot(snap)
    log.stableSnapTo(10)
    log.appliedTo(10)
    expect(log.hasPendingSnapshot()).toBe(false)
    log.append(ents(11, 4))
    expect(ids(log.allEntries())).toEqual(['4/11'])
  })

  it('slices across storage and unstable entries with one byte budget', () => {
    const { log } = newLog(ents(1, 1, 1))
    log.append(ents(3, 1, 1))
    const one = 24 + 1
    expect(ids(log.slice(1, 5, 3 * one))).toEqual(['1/1', '1/2', '1/3'])
    expect(ids(log.slice(2, 5, 0))).toEqual(['1/2'])
    expect(ids(log.slice(3, 5, one))).toEqual(['1/3'])
    expect(() => log.slice(0, 2)).toThrow(CompactedError)
    expect(() => log.slice(2, 7)).toThrow(/out of bound/)
  })
})
