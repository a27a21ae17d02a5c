// The dashboard's summary from the supervisor's list: who leads (the running leader of the
// highest term), how many voters follow it, and how many more may fail before writes stop.
import { describe, expect, it } from 'vitest'
import type { AdminStatus } from '../../../node-core/server/admin-port'
import { clusterView, type SupervisedNode } from '../../../node-core/services/raft'

function status(id: number, over: Partial<AdminStatus>): AdminStatus {
  return {
    id,
    name: `n${id}`,
    clusterId: 9,
    role: 'follower',
    term: 3,
    vote: 0,
    lead: 1,
    commit: 10,
    applied: 10,
    lastIndex: 10,
    stableIndex: 10,
    firstIndex: 1,
    snapshotIndex: 0,
    revision: 5,
    compactRevision: 0,
    confState: { voters: [1, 2, 3], learners: [4] },
    members: [],
    progress: {},
    leadTransferee: 0,
    electionElapsedTicks: 0,
    electionTimeoutTicks: 15,
    proposals: 0,
    messagesSent: 0,
    messagesReceived: 0,
    writeLatency: { count: 0, p50Ms: 0, p99Ms: 0 },
    walBytes: 0,
    dbBytes: 0,
    atMs: 0,
    ...over,
  }
}
function node(
  id: number,
  over: Partial<AdminStatus> = {},
  state: SupervisedNode['state'] = 'running',
): SupervisedNode {
  return {
    name: `n${id}`,
    id,
    endpoint: `127.0.0.1:${2379 + id}`,
    peer: '',
    dataDir: '',
    pid: 100 + id,
    state,
    status: status(id, over),
  }
}

describe('clusterView', () => {
  it('counts the voters that follow the leader; a learner is not one', () => {
    const v = clusterView([
      node(1, { role: 'leader' }),
      node(2),
      node(3),
      node(4, { role: 'learner' }),
    ])
    expect(v).toMatchObject({ leader: 'n1', voters: 3, quorum: 2, healthyVoters: 3, canFail: 1 })
  })

  it('does not count a killed voter, and says writes stop without a leader', () => {
    const killed = clusterView([node(1, { role: 'leader' }), node(2), node(3, {}, 'crashed')])
    expect(killed).toMatchObject({ healthyVoters: 2, canFail: 0 })
    expect(killed.nodes.find((n) => n.name === 'n3')!.stale).toBe(true)
    const none = clusterView([node(1, { lead: 0 }), node(2, { lead: 0 }), node(3, {}, 'crashed')])
    expect(none).toMatchObject({ leader: '', canFail: -1 })
  })

  it('counts a follower that voted in the new term before its first append arrived', () => {
    const v = clusterView([
      node(1, { role: 'leader', term: 4, lead: 1 }),
      node(2, { term: 4, lead: 0 }),
      node(3, {}, 'crashed'),
    ])
    expect(v).toMatchObject({ leader: 'n1', healthyVoters: 2, canFail: 0 })
  })

  it('takes the leader of the highest term when an old one has not stepped down yet', () => {
    const v = clusterView([
      node(1, { role: 'leader', term: 3 }),
      node(2, { role: 'leader', term: 5, lead: 2 }),
      node(3, { term: 5, lead: 2 }),
    ])
    expect(v).toMatchObject({ leader: 'n2', term: 5, healthyVoters: 2, canFail: 0 })
  })

  it('reports a learner’s catch-up as the share of the leader’s log it holds', () => {
    const progress = (match: number, isLearner: boolean) => ({
      match,
      next: match + 1,
      state: 'replicate' as const,
      inflight: 0,
      recentActive: true,
      isLearner,
      pendingSnapshot: 0,
    })
    const v = clusterView([
      node(1, {
        role: 'leader',
        lastIndex: 200,
        progress: { 2: progress(200, false), 3: progress(190, false), 4: progress(50, true) },
      }),
      node(2),
      node(3),
      node(4, { role: 'learner' }),
    ])
    const of = (name: string) => v.nodes.find((n) => n.name === name)!.catchUp
    expect(of('n4')).toBe(0.25)
    expect(of('n2')).toBeNull()
    expect(of('n1')).toBeNull()
    // No leader, no report.
    expect(clusterView([node(1), node(4, { role: 'learner' })]).nodes[1]!.catchUp).toBeNull()
  })

  it('lists the links cut from each node', () => {
    const v = clusterView(
      [node(1, { role: 'leader' }), node(2), node(3)],
      [
        { from: 'n2', to: 'n3', cut: true, delayMs: 0, lossRate: 0 },
        { from: 'n2', to: 'n1', cut: false, delayMs: 50, lossRate: 0 },
      ],
    )
    expect(v.nodes.find((n) => n.name === 'n2')!.cutTo).toEqual(['n3'])
    expect(v.links).toHaveLength(2)
  })
})
