import { describe, expect, it } from 'vitest'
import { sendOrder } from '../../../node-core/raft/send-order'
import type { HardState, Message, Ready } from '../../../node-core/raft/types'

const msg = (type: Message['type'], to = 2): Message => ({
  type,
  from: 1,
  to,
  term: 3,
  logTerm: 3,
  index: 10,
  entries: [],
  commit: 9,
  reject: false,
  rejectHint: 0,
})

const ready = (messages: Message[], hardState?: HardState): Ready => ({
  ...(hardState ? { hardState } : {}),
  entries: [],
  committedEntries: [],
  messages,
  readStates: [],
  mustSync: true,
})

const all = [
  msg('MsgApp'),
  msg('MsgHeartbeat'),
  msg('MsgSnap'),
  msg('MsgAppResp'),
  msg('MsgVote'),
  msg('MsgVoteResp'),
  msg('MsgHeartbeatResp'),
]
const durable: HardState = { term: 3, vote: 1, commit: 9 }
const types = (ms: Message[]) => ms.map((m) => m.type)

describe('send order (persist before you send)', () => {
  it("lets a leader's appends, heartbeats and snapshots go before its own write", () => {
    const { early, later } = sendOrder(ready(all, { ...durable, commit: 10 }), 'leader', durable)
    expect(types(early)).toEqual(['MsgApp', 'MsgHeartbeat', 'MsgSnap'])
    expect(types(later)).toEqual(['MsgAppResp', 'MsgVote', 'MsgVoteResp', 'MsgHeartbeatResp'])
  })

  it('holds everything of a leader whose term or vote is not durable yet', () => {
    for (const hs of [
      { ...durable, term: 4 },
      { ...durable, vote: 2 },
    ]) {
      const { early, later } = sendOrder(ready(all, hs), 'leader', durable)
      expect(early).toEqual([])
      expect(later).toHaveLength(all.length)
    }
  })

  it('holds everything of every other role', () => {
    for (const role of ['follower', 'candidate', 'preCandidate', 'learner'] as const) {
      expect(sendOrder(ready(all), role, durable)).toEqual({ early: [], later: all })
    }
  })
})
