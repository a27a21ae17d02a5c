// Membership and timing of the local cluster from the window's services: a node added as a
// learner catches up and is promoted, a voter is removed (its data kept aside), the timeouts
// change by restarting nodes one at a time, and a restart on the same directory comes back
// with the members and timeouts as they were left.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RaftAction, RaftClusterView } from '../../contract'
import { LocalCluster } from '../../node-core/cluster/supervisor'
import { createRaftHandlers } from '../../node-core/services/raft'
import { parseArgs } from '../../node-core/services/router'
import { sleep, startTestCluster, type TestCluster } from '../helpers/cluster'
import { freePortBlock } from '../helpers/ports'

let tc: TestCluster
let raft: ReturnType<typeof createRaftHandlers>
let clientPort: number

beforeAll(async () => {
  clientPort = await freePortBlock(5)
  tc = await startTestCluster({ clientPort, snapshotCount: 50, snapshotCatchUpEntries: 5 })
  await tc.cluster.waitForLeader()
  raft = createRaftHandlers(Promise.resolve(tc.cluster))
}, 60_000)
afterAll(async () => {
  await tc?.dispose()
})

const view = () => raft['raft/cluster']() as Promise<RaftClusterView>
/** An action checked as a window's call is (the channel's argument schema), then run. */
const act = (a: RaftAction) => raft['raft/act'](...parseArgs('raft/act', [a]))
async function until(what: string, ok: (v: RaftClusterView) => boolean, ms = 15_000) {
  const deadline = Date.now() + ms
  let v = await view()
  while (!ok(v)) {
    if (Date.now() > deadline) throw new Error(`${what}: gave up; last ${JSON.stringify(v)}`)
    await sleep(50)
    v = await view()
  }
  return v
}
const nodeOf = (v: RaftClusterView, name: string) => v.nodes.find((n) => n.name === name)

describe('membership from the window', () => {
  it('adds a learner that catches up over a snapshot and is promoted to a voter', async () => {
    const leader = await tc.cluster.waitForLeader()
    for (let i = 0; i < 120; i++) await tc.client(leader).put(`m/${i}`, `v${i}`)

    await act({ type: 'addNode' })
    const added = await until('n4 learner caught up', (v) => {
      const n4 = nodeOf(v, 'n4')
      return n4?.process === 'running' && n4.raft?.isLearner === true && n4.catchUp === 1
    })
    expect(added.voters).toBe(3)
    const n4 = nodeOf(added, 'n4')!
    expect(n4.endpoint).toBe(`127.0.0.1:${clientPort + 300}`)
    // The log was compacted past its start: the learner was sent a snapshot.
    expect(n4.raft!.snapshotIndex).toBeGreaterThan(0)

    await act({ type: 'promote', node: 'n4' })
    const promoted = await until(
      'n4 votes, and knows it',
      // The leader's configuration first, n4's own report a status interval later.
      (v) => v.voters === 4 && v.healthyVoters === 4 && nodeOf(v, 'n4')?.raft?.isLearner === false,
    )
    expect(nodeOf(promoted, 'n4')!.raft!.isLearner).toBe(false)
    expect(nodeOf(promoted, 'n4')!.catchUp).toBeNull()
    // It serves what was written before it joined.
    expect(await tc.client('n4').get('m/7')).toBe('v7')

    const file = JSON.parse(readFileSync(join(tc.dataDir, 'cluster.json'), 'utf8'))
    expect(file.nodes).toBe(3)
    expect(file.members.map((m: { name: string }) => m.name)).toEqual(['n1', 'n2', 'n3', 'n4'])
  }, 60_000)

  it('refuses to promote a voter and to remove an unknown node, changing nothing', async () => {
    await expect(act({ type: 'promote', node: 'n2' })).rejects.toThrow(
      /can only promote a learner member/,
    )
    await expect(act({ type: 'remove', node: 'n9' })).rejects.toThrow(/no node named "n9"/)
    expect((await view()).voters).toBe(4)
  })

  it('removes a voter, the leader itself: its process stops, its data is kept aside, the quorum shrinks', async () => {
    // The hardest case: the member removed leads (it hands over first, then the new leader
    // removes it and answers).
    await tc.cluster.transferLeadership('n2')
    for (let i = 0; i < 200 && (await tc.cluster.leader()) !== 'n2'; i++) {
      await new Promise((r) => setTimeout(r, 25))
    }
    expect(await tc.cluster.leader()).toBe('n2')
    await act({ type: 'remove', node: 'n2' })
    const v = await until('n2 gone', (c) => !nodeOf(c, 'n2') && c.voters === 3 && !!c.leader)
    expect(v.nodes.map((n) => n.name)).toEqual(['n1', 'n3', 'n4'])
    expect(existsSync(join(tc.dataDir, 'n2'))).toBe(false)
    expect(readdirSync(join(tc.dataDir, 'removed'))[0]).toMatch(/^n2-/)
    const leader = await tc.cluster.waitForLeader()
    await tc.client(leader).put('after-remove', 'yes')
  }, 30_000)

  it('changes the timeouts by restarting nodes one at a time, data and leader kept', async () => {
    await expect(
      act({
        type: 'timeouts',
        electionMsMin: 300,
        electionMsMax: 200,
        heartbeatMs: 50,
      }),
    ).rejects.toThrow(/--election-ms must be MIN-MAX/)
    // Refused in the units the nodes use: a range or a gap narrower than a 10 ms tick.
    const before = (await view()).nodes.map((n) => n.pid)
    await expect(
      act({ type: 'timeouts', electionMsMin: 150, electionMsMax: 154, heartbeatMs: 50 }),
    ).rejects.toThrow(/narrower than a tick of 10 ms/)
    await expect(
      act({ type: 'timeouts', electionMsMin: 150, electionMsMax: 300, heartbeatMs: 145 }),
    ).rejects.toThrow(/at least a tick \(10 ms\) below the election timeout 150/)
    expect((await view()).timeouts.electionMsMin).toBe(150)
    expect((await view()).nodes.map((n) => n.pid)).toEqual(before)
    expect(JSON.parse(readFileSync(join(tc.dataDir, 'cluster.json'), 'utf8')).timeouts).toBe(
      undefined,
    )

    const pids = (await view()).nodes.map((n) => n.pid)
    await act({
      type: 'timeouts',
      electionMsMin: 200,
      electionMsMax: 400,
      heartbeatMs: 40,
    })
    const v = await until('restarted with a leader', (c) => !!c.leader)
    expect(v.timeouts).toEqual({ electionMsMin: 200, electionMsMax: 400, heartbeatMs: 40 })
    // Every node restarted: new processes.
    for (const [i, n] of v.nodes.entries()) expect(n.pid).not.toBe(pids[i])
    // Election timeout 200-400 ms at 10 ms ticks: 20 to 40 ticks.
    for (const n of v.nodes) {
      if (n.raft && n.raft.role !== 'leader') {
        expect(n.raft.electionTimeoutTicks).toBeGreaterThanOrEqual(20)
        expect(n.raft.electionTimeoutTicks).toBeLessThanOrEqual(40)
      }
    }
    const leader = await tc.cluster.waitForLeader()
    expect(await tc.client(leader).get('after-remove')).toBe('yes')
  }, 60_000)

  it('comes back on the same directory with its members and timeouts as left', async () => {
    await tc.cluster.stop()
    const again = await LocalCluster.start({ dataDir: tc.dataDir, clientPort, nodes: 3 })
    try {
      expect(again.names()).toEqual(['n1', 'n3', 'n4'])
      expect(again.timeouts()).toEqual({ electionMsMin: 200, electionMsMax: 400, heartbeatMs: 40 })
      const leader = await again.waitForLeader()
      const s = await again.status(leader)
      expect(s.confState.voters).toHaveLength(3)
      expect(s.confState.learners).toHaveLength(0)
    } finally {
      await again.stop()
    }
    // A file from before members could be added (no "nodes") still starts, and gains it.
    const path = join(tc.dataDir, 'cluster.json')
    const old = JSON.parse(readFileSync(path, 'utf8'))
    delete old.nodes
    writeFileSync(path, JSON.stringify(old))
    // Flags given on the command line win over the saved timeouts, and replace them.
    const flagged = await LocalCluster.start({
      dataDir: tc.dataDir,
      clientPort,
      nodes: 3,
      electionMsMin: 150,
      electionMsMax: 300,
    })
    try {
      expect(flagged.timeouts()).toEqual({
        electionMsMin: 150,
        electionMsMax: 300,
        heartbeatMs: 40,
      })
      await flagged.waitForLeader()
    } finally {
      await flagged.stop()
    }
    const file = JSON.parse(readFileSync(join(tc.dataDir, 'cluster.json'), 'utf8'))
    expect(file.timeouts).toEqual({ electionMsMin: 150, electionMsMax: 300, heartbeatMs: 40 })
    expect(file.nodes).toBe(3)
    expect((statSync(path).mode & 0o777).toString(8)).toBe('600')
  }, 90_000)
})
