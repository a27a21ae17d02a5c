// Flow control and quorum arithmetic: the inflights ring buffer, the progress state machine
// (probe / replicate / snapshot), the tracker's commit index, vote tally and check-quorum, and
// the conf change codec and membership rules.
import { describe, expect, it } from 'vitest'
import {
  applyToConfState,
  confChangeProblem,
  decodeConfChange,
  encodeConfChange,
} from '../../../node-core/raft/confchange'
import { ConfChangeInvalidError, RaftInvariantError } from '../../../node-core/raft/errors'
import { Inflights, Progress } from '../../../node-core/raft/progress'
import { ProgressTracker } from '../../../node-core/raft/tracker'

describe('Inflights', () => {
  it('fills to capacity, frees in order and wraps around', () => {
    const inf = new Inflights(10)
    for (let i = 1; i <= 5; i++) inf.add(i)
    expect(inf.length).toBe(5)
    inf.freeLE(3)
    expect(inf.length).toBe(2)
    for (let i = 6; i <= 13; i++) inf.add(i)
    expect(inf.full()).toBe(true)
    expect(() => inf.add(14)).toThrow(/cannot add index 14 to full inflights \(10\)/)
    inf.freeLE(7)
    expect(inf.length).toBe(6)
    inf.freeFirstOne()
    expect(inf.length).toBe(5)
    inf.freeLE(100)
    expect(inf.length).toBe(0)
    inf.add(20)
    expect(inf.length).toBe(1)
  })

  it('grows while the window is wrapped and keeps the order', () => {
    const inf = new Inflights(64)
    for (let i = 1; i <= 4; i++) inf.add(i)
    inf.freeLE(2)
    for (let i = 5; i <= 40; i++) inf.add(i)
    expect(inf.length).toBe(38)
    inf.freeLE(20)
    expect(inf.length).toBe(20)
    inf.freeLE(39)
    expect(inf.length).toBe(1)
  })

  it('refuses a non-increasing index', () => {
    const inf = new Inflights(4)
    inf.add(5)
    expect(() => inf.add(5)).toThrow(RaftInvariantError)
  })
})

describe('Progress', () => {
  it('probe sends one append at a time until a response', () => {
    const pr = new Progress(5, 4, false)
    expect(pr.isPaused()).toBe(false)
    pr.sentEntries(2, 6)
    expect(pr.isPaused()).toBe(true)
    expect(pr.next).toBe(5)
    expect(pr.maybeUpdate(6)).toBe(true)
    expect(pr.isPaused()).toBe(false)
    expect(pr.next).toBe(7)
  })

  it('replicate streams optimistically up to the inflight bound', () => {
    const pr = new Progress(1, 2, false)
    pr.becomeReplicate()
    pr.sentEntries(3, 3)
    pr.sentEntries(1, 4)
    expect(pr.next).toBe(5)
    expect(pr.isPaused()).toBe(true)
    pr.maybeUpdate(3)
    pr.inflights.freeLE(3)
    expect(pr.isPaused()).toBe(false)
    // An empty append (commit only) takes no inflight slot.
    pr.sentEntries(0, 0)
    expect(pr.inflights.length).toBe(1)
  })

  it('maybeDecrTo ignores stale rejections and uses the hint', () => {
    const pr = new Progress(10, 4, false)
    // Probe at 9 rejected with a hint that the follower's log may match up to 4.
    expect(pr.maybeDecrTo(8, 4)).toBe(false)
    expect(pr.maybeDecrTo(9, 4)).toBe(true)
    expect(pr.next).toBe(5)
    // Replicate: a rejection at or below match is stale; otherwise back to match + 1.
    pr.maybeUpdate(4)
    pr.becomeReplicate()
    pr.sentEntries(3, 8)
    expect(pr.maybeDecrTo(4, 0)).toBe(false)
    expect(pr.maybeDecrTo(7, 0)).toBe(true)
    expect(pr.next).toBe(5)
  })

  it('snapshot pauses everything; probing resumes after the snapshot', () => {
    const pr = new Progress(3, 4, false)
    pr.becomeSnapshot(20)
    expect(pr.isPaused()).toBe(true)
    pr.becomeProbe()
    expect(pr.next).toBe(21)
    expect(pr.state).toBe('probe')
    pr.becomeSnapshot(30)
    pr.pendingSnapshot = 0
    pr.becomeProbe()
    expect(pr.next).toBe(1)
  })
})

describe('ProgressTracker', () => {
  function tracker(voters: number[], learners: number[] = []) {
    const t = new ProgressTracker(8)
    t.reset({ voters, learners }, 1)
    return t
  }

  it('computes the commit index from a majority of voters only', () => {
    const t = tracker([1, 2, 3], [4])
    const set = (id: number, match: number) => (t.progress.get(id)!.match = match)
    set(1, 5)
    set(2, 3)
    set(3, 1)
    set(4, 100)
    expect(t.committed()).toBe(3)
    set(3, 4)
    expect(t.committed()).toBe(4)
    t.addVoter(5, 1)
    // Voters 1..3,5 (n=4, quorum 3): matches 5,3,4,0 -> 3.
    expect(t.committed()).toBe(3)
    t.promote(4)
    // n=5, quorum 3: 100,5,4,3,0 -> 4.
    expect(t.committed()).toBe(4)
    t.remove(4)
    expect(t.committed()).toBe(3)
    expect(t.confState()).toEqual({ voters: [1, 2, 3, 5], learners: [] })
  })

  it('tallies votes: won, lost or pending, counting voters only', () => {
    const t = tracker([1, 2, 3, 4, 5], [6])
    t.recordVote(1, true)
    t.recordVote(6, true)
    t.recordVote(2, true)
    expect(t.tallyVotes()).toEqual({ granted: 2, rejected: 0, result: 'pending' })
    t.recordVote(3, false)
    t.recordVote(4, false)
    expect(t.tallyVotes().result).toBe('pending')
    t.recordVote(5, false)
    expect(t.tallyVotes()).toEqual({ granted: 2, rejected: 3, result: 'lost' })
    t.resetVotes()
    for (const id of [1, 2, 3]) t.recordVote(id, true)
    // A second answer from the same node does not change its vote.
    t.recordVote(3, false)
    expect(t.tallyVotes()).toEqual({ granted: 3, rejected: 0, result: 'won' })
  })

  it('check-quorum counts recently active voters and the leader itself', () => {
    const t = tracker([1, 2, 3], [4])
    for (const pr of t.progress.values()) pr.recentActive = false
    t.progress.get(4)!.recentActive = true
    expect(t.quorumActive(1)).toBe(false)
    t.progress.get(3)!.recentActive = true
    expect(t.quorumActive(1)).toBe(true)
    expect(t.hasQuorum(new Set([1, 4]))).toBe(false)
    expect(t.hasQuorum(new Set([1, 2]))).toBe(true)
  })

  it('refuses a conf state with a node that is both voter and learner', () => {
    expect(() => tracker([1, 2], [2])).toThrow(/node 2 is both a voter and a learner/)
  })
})

describe('conf changes', () => {
  it('round-trips through the binary encoding', () => {
    const cc = { type: 'addLearner' as const, nodeId: 2 ** 40 + 7, context: new Uint8Array([1, 2]) }
    const data = encodeConfChange(cc)
    expect(data.byteLength).toBe(16)
    expect(decodeConfChange(data)).toEqual(cc)
  })

  it('refuses malformed encodings', () => {
    const good = encodeConfChange({ type: 'removeNode', nodeId: 3, context: new Uint8Array() })
    expect(() => decodeConfChange(good.subarray(0, 10))).toThrow(ConfChangeInvalidError)
    const badVersion = good.slice()
    badVersion[0] = 2
    expect(() => decodeConfChange(badVersion)).toThrow(/format version 2/)
    const badType = good.slice()
    badType[1] = 9
    expect(() => decodeConfChange(badType)).toThrow(/type code 9/)
    const trailing = new Uint8Array(good.byteLength + 1)
    trailing.set(good)
    expect(() => decodeConfChange(trailing)).toThrow(/does not match/)
    const zeroId = good.slice()
    zeroId.fill(0, 2, 10)
    expect(() => decodeConfChange(zeroId)).toThrow(/positive integer/)
  })

  it('applies the single-server membership rules', () => {
    const cs = { voters: [1, 2], learners: [3] }
    const cc = (
      type: 'addVoter' | 'addLearner' | 'promoteLearner' | 'removeNode',
      nodeId: number,
    ) => ({
      type,
      nodeId,
      context: new Uint8Array(),
    })
    expect(applyToConfState(cs, cc('addVoter', 4))).toEqual({ voters: [1, 2, 4], learners: [3] })
    expect(applyToConfState(cs, cc('promoteLearner', 3))).toEqual({
      voters: [1, 2, 3],
      learners: [],
    })
    expect(applyToConfState(cs, cc('removeNode', 1))).toEqual({ voters: [2], learners: [3] })
    expect(applyToConfState(cs, cc('removeNode', 3))).toEqual({ voters: [1, 2], learners: [] })
    expect(confChangeProblem(cs, cc('addVoter', 3))).toMatch(/is a learner: promote it instead/)
    expect(confChangeProblem(cs, cc('addLearner', 2))).toMatch(/already a member/)
    expect(confChangeProblem(cs, cc('promoteLearner', 2))).toMatch(/not a learner/)
    expect(confChangeProblem(cs, cc('removeNode', 9))).toMatch(/not a member/)
    expect(confChangeProblem({ voters: [1], learners: [] }, cc('removeNode', 1))).toMatch(
      /last voter/,
    )
  })
})
