// The `raft/*` services over a real 3-node local cluster: the dashboard's view, the decoded
// log on every node, the event ring (elections with their votes), and the levers (campaign,
// leadership transfer, partition and heal, kill and restart).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RaftClusterView, RaftEvent, RaftLive } from '../../contract'
import { AdminClient } from '../../node-core/client/admin-client'
import { createRaftHandlers, createRaftTopics } from '../../node-core/services/raft'
import type { TopicSink } from '../../node-core/services/topics'
import { sleep, startTestCluster, type TestCluster } from '../helpers/cluster'

let tc: TestCluster
let raft: ReturnType<typeof createRaftHandlers>

beforeAll(async () => {
  tc = await startTestCluster()
  await tc.cluster.waitForLeader()
  raft = createRaftHandlers(Promise.resolve(tc.cluster))
}, 60_000)
afterAll(async () => {
  await tc?.dispose()
})

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000) {
  const deadline = Date.now() + ms
  let last: T = await read()
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`${what}: gave up; last ${JSON.stringify(last)}`)
    await sleep(50)
    last = await read()
  }
  return last
}

const view = () => raft['raft/cluster']() as Promise<RaftClusterView>
const leaderOf = (v: RaftClusterView) => v.nodes.find((n) => n.name === v.leader)!

describe('raft services', () => {
  it('shows who leads, the quorum, and the leader’s view of each follower', async () => {
    const v = await until(
      'a settled cluster',
      view,
      (v) => v.leader !== '' && v.healthyVoters === 3,
    )
    expect(v.voters).toBe(3)
    expect(v.quorum).toBe(2)
    expect(v.canFail).toBe(1)
    const leader = leaderOf(v)
    expect(leader.raft!.role).toBe('leader')
    expect(leader.raft!.followers.map((f) => f.name).sort()).toEqual(
      v.nodes.filter((n) => n.name !== v.leader).map((n) => n.name),
    )
    for (const f of leader.raft!.followers) expect(f.state).toMatch(/probe|replicate/)
    for (const n of v.nodes) {
      expect(n.process).toBe('running')
      expect(n.raft!.term).toBe(v.term)
      expect(n.raft!.leader).toBe(leader.id)
    }
    await until('disk sizes sampled', view, (v) => v.nodes.every((n) => n.raft!.walBytes > 0))
  })

  it('decodes a put in every node’s log and sees it applied everywhere', async () => {
    const put = await tc.client('n1').put('raft/view', 'seen')
    expect(put).toBeTruthy()
    const slices = await until(
      'the put applied on every node',
      async () => raft['raft/log']({ to: 0, limit: 20 }),
      (ls) =>
        ls.every((l) =>
          l.entries.some((e) => e.op === 'put "raft/view" = "seen"' && e.state === 'applied'),
        ),
    )
    // Aligned: every node shows the put at the same index and term.
    const at = slices.map((l) => l.entries.find((e) => e.op.startsWith('put "raft/view"'))!)
    expect(new Set(at.map((e) => `${e.term}/${e.index}`)).size).toBe(1)
    // The bootstrap's conf changes carry the members' names.
    const first = await raft['raft/log']({ to: 3, limit: 3 })
    expect(first[0]!.entries.map((e) => e.op)).toEqual([
      'addVoter n1',
      'addVoter n2',
      'addVoter n3',
    ])
  })

  it('makes a named follower campaign, and records the election with its votes', async () => {
    const before = await until('a leader', view, (v) => v.leader !== '')
    const target = before.nodes.find((n) => n.name !== before.leader)!.name
    const afterSeq = Math.max(0, ...(await raft['raft/events']({ afterSeq: 0 })).map((e) => e.seq))
    await raft['raft/act']({ type: 'campaign', node: target })
    const after = await until('the target leads', view, (v) => v.leader === target, 15_000)
    expect(after.term).toBeGreaterThan(before.term)
    const events = await until(
      'its election recorded',
      async () => raft['raft/events']({ afterSeq }) as RaftEvent[],
      (es) =>
        es.some((e) => e.node === target && e.kind === 'role' && e.detail === 'leader') &&
        // The voters report on their own schedule (every status interval).
        es.some((e) => e.node !== target && e.kind === 'voted' && e.detail === target),
    )
    const mine = events.filter((e) => e.node === target)
    expect(mine.some((e) => e.kind === 'role' && e.detail === 'candidate')).toBe(true)
    expect(mine.some((e) => e.kind === 'vote' && e.granted === true)).toBe(true)
    // The voters recorded giving their votes to it.
    expect(events.some((e) => e.node !== target && e.kind === 'voted' && e.detail === target)).toBe(
      true,
    )
  })

  it('hands leadership to a named node', async () => {
    const before = await until('a leader', view, (v) => v.leader !== '')
    const target = before.nodes.find((n) => n.name !== before.leader)!.name
    await raft['raft/act']({ type: 'transfer', node: target })
    await until('the target leads', view, (v) => v.leader === target)
  })

  it('partitions a follower away: its commit stalls while the others go on, then converges', async () => {
    const v = await until('a leader', view, (v) => v.leader !== '')
    const lone = v.nodes.find((n) => n.name !== v.leader)!.name
    const rest = v.nodes.filter((n) => n.name !== lone).map((n) => n.name)
    await raft['raft/act']({ type: 'partition', groups: [[lone], rest] })
    await until(
      'the leader sees it inactive',
      view,
      (v) => leaderOf(v)?.raft!.followers.some((f) => f.name === lone && !f.recentActive) ?? false,
    )
    expect((await view()).nodes.find((n) => n.name === lone)!.cutTo).toEqual(rest.slice().sort())
    const stalled = (await view()).nodes.find((n) => n.name === lone)!.raft!.commit
    const writer = tc.client(v.leader)
    for (let i = 0; i < 5; i++) await writer.put(`raft/part/${i}`, `${i}`)
    const during = await until('the majority committed the writes', view, (v) =>
      v.nodes.filter((n) => n.name !== lone).every((n) => n.raft!.commit >= stalled + 5),
    )
    expect(during.nodes.find((n) => n.name === lone)!.raft!.commit).toBe(stalled)
    const behind = leaderOf(during).raft!.followers.find((f) => f.name === lone)!
    expect(behind.behind).toBeGreaterThanOrEqual(5)
    await raft['raft/act']({ type: 'heal' })
    await until('every node converged', view, (v) => {
      const commits = v.nodes.map((n) => n.raft!.applied)
      return v.leader !== '' && new Set(commits).size === 1 && commits[0]! >= stalled + 5
    })
    const events = await raft['raft/events']({ afterSeq: 0 })
    expect(events.some((e) => e.kind === 'fault' && e.text.startsWith('partitioned'))).toBe(true)
  })

  it('kills the leader: a new one with a higher term; the killed node restarts and catches up', async () => {
    const before = await until('a settled cluster', view, (v) => v.leader !== '' && v.canFail === 1)
    await raft['raft/act']({ type: 'kill', node: before.leader })
    const after = await until(
      'a new leader',
      view,
      (v) => v.leader !== '' && v.leader !== before.leader,
      15_000,
    )
    expect(after.term).toBeGreaterThan(before.term)
    const killed = after.nodes.find((n) => n.name === before.leader)!
    expect(killed.process).toBe('crashed')
    expect(killed.stale).toBe(true)
    await until('the survivors follow the new leader', view, (v) => v.canFail === 0)
    await raft['raft/act']({ type: 'restart', node: before.leader })
    await until('all three healthy again', view, (v) => v.healthyVoters === 3, 20_000)
  })

  it('refuses unknown nodes and bad links in one sentence', async () => {
    await expect(raft['raft/act']({ type: 'kill', node: 'n9' })).rejects.toThrow(
      /no node named "n9" \(have n1, n2, n3\)/,
    )
    await expect(raft['raft/act']({ type: 'cutLink', from: 'n1', to: 'n1' })).rejects.toThrow(
      /two different nodes/,
    )
    await expect(
      raft['raft/act']({ type: 'partition', groups: [['n1'], ['n1', 'n2']] }),
    ).rejects.toThrow(/n1 is in more than one group/)
  })

  it('streams the cluster live, with the recorded history first and events as they come', async () => {
    const got: RaftLive[] = []
    const sink: TopicSink<RaftLive> = {
      emit: (e) => void got.push(e),
      fail: (err) => {
        throw err
      },
      drained: () => Promise.resolve(),
    }
    const stop = await createRaftTopics(Promise.resolve(tc.cluster))['raft/live']([] as never, sink)
    try {
      expect(got[0]!.events.some((e) => e.kind === 'started')).toBe(true)
      const v = await until('a leader', view, (v) => v.leader !== '')
      const target = v.nodes.find((n) => n.name !== v.leader)!.name
      await raft['raft/act']({ type: 'transfer', node: target })
      await until(
        'the transfer streamed',
        async () => got.at(-1)!.cluster.leader,
        (l) => l === target,
      )
      const later = got.slice(1).flatMap((m) => m.events)
      expect(
        later.some((e) => e.node === target && e.kind === 'role' && e.detail === 'leader'),
      ).toBe(true)
      // Coalesced: never more than about ten messages a second.
      const spanMs = got.at(-1)!.cluster.atMs - got[1]!.cluster.atMs
      expect(got.length - 1).toBeLessThanOrEqual(Math.ceil(spanMs / 100) + 2)
    } finally {
      stop()
    }
  })

  it('serves the node admin port over the Admin service, checked by the cluster token', async () => {
    const endpoint = tc.cluster.info('n2').endpoint
    const admin = new AdminClient(endpoint, tc.cluster.clusterToken)
    const stranger = new AdminClient(endpoint, 'not-the-token')
    try {
      const status = await admin.call('status', {})
      expect(status.name).toBe('n2')
      expect(status.confState.voters).toHaveLength(3)
      const log = await admin.call('log', { to: 3, limit: 3 })
      expect(log.entries.map((e) => e.op)).toEqual(['addVoter n1', 'addVoter n2', 'addVoter n3'])
      const events = await admin.call('events', { afterSeq: 0 })
      expect(events[0]).toMatchObject({ node: 'n2', kind: 'started' })
      await expect(stranger.call('status', {})).rejects.toMatchObject({
        code: 'WRONG_CLUSTER_TOKEN',
      })
      await expect(admin.call('nope' as 'status', {})).rejects.toMatchObject({
        code: 'UNKNOWN_ADMIN_CALL',
      })
      await expect(admin.call('log', { to: -1, limit: 3 })).rejects.toMatchObject({
        code: 'BAD_ADMIN_ARGS',
      })
    } finally {
      admin.close()
      stranger.close()
    }
  })

  it('answers that there is no local cluster when the host runs none', async () => {
    const none = createRaftHandlers(undefined)
    expect(await none['raft/available']()).toBe(false)
    await expect(none['raft/cluster']()).rejects.toThrow(/not attached to a local cluster/)
  })
})
