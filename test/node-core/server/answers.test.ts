// The answers a write gets when it cannot end with a result (server/answers.ts): etcd 3.4's
// parseProposeCtxErr, and raft's on-the-spot refusals, which are the only errors safe to retry.
import { describe, expect, it } from 'vitest'
import { clientsRetry } from '../../../node-core/kernel/etcd-errors'
import {
  raftRefusalAnswer,
  writeDeadlineAnswer,
  type WriteDeadlineContext,
} from '../../../node-core/server/answers'
import { ProposalDroppedError } from '../../../node-core/raft'

const base: WriteDeadlineContext = {
  startMs: 10_000,
  proposed: true,
  leaderElectedAtMs: 0,
  electionTimeoutMs: 150,
  leaderReachable: () => true,
}

describe('writeDeadlineAnswer', () => {
  it('says a write that never reached raft ran out of its deadline (nothing was proposed)', () => {
    expect(writeDeadlineAnswer({ ...base, proposed: false })).toBe('DEADLINE_EXCEEDED')
  })

  it('blames the previous leader when a new one came up to two election timeouts after', () => {
    expect(writeDeadlineAnswer({ ...base, leaderElectedAtMs: 10_100 })).toBe(
      'TIMEOUT_DUE_TO_LEADER_FAIL',
    )
    expect(writeDeadlineAnswer({ ...base, leaderElectedAtMs: 10_299 })).toBe(
      'TIMEOUT_DUE_TO_LEADER_FAIL',
    )
    // Elected long after the write started, or before it: not the leader's failure.
    expect(writeDeadlineAnswer({ ...base, leaderElectedAtMs: 10_400 })).toBe('TIMEOUT')
    expect(writeDeadlineAnswer({ ...base, leaderElectedAtMs: 9_000 })).toBe('TIMEOUT')
  })

  it('blames the connection when the leader (or a quorum) cannot be reached', () => {
    expect(writeDeadlineAnswer({ ...base, leaderReachable: () => false })).toBe(
      'TIMEOUT_DUE_TO_CONNECTION_LOST',
    )
  })
})

describe('raftRefusalAnswer', () => {
  it("answers a dropped proposal with etcd's text, and only refusals", () => {
    const err = raftRefusalAnswer(new ProposalDroppedError('leader transfer in progress'))
    expect(err?.message).toBe('raft proposal dropped')
    expect(err && clientsRetry(err.code as 'PROPOSAL_DROPPED')).toBe(true)
    expect(raftRefusalAnswer(new Error('disk on fire'))).toBeNull()
  })
})
