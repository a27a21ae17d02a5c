// A 3-node cluster of real processes under faults: leader kills, whole-cluster crashes,
// partitions, a paused leader. Every write a client saw acknowledged must survive.
import { afterEach, describe, expect, it } from 'vitest'
import { EtcdClient } from '../../node-core/client/etcd-client'
import { percentile } from '../../node-core/sim/run'
import { sleep, startTestCluster, WriteLoad, type TestCluster } from '../helpers/cluster'

let tc: TestCluster | null = null
afterEach(async () => {
  await tc?.dispose()
  tc = null
})

function runningEndpoints(t: TestCluster): string[] {
  return t.cluster
    .list()
    .filter((n) => n.state === 'running')
    .map((n) => n.endpoint)
}

/** Reads every acknowledged key back, linearizably, through `name`. */
async function expectAllPresent(t: TestCluster, acknowledged: Map<string, string>, name: string) {
  const client = t.client(name)
  const missing: string[] = []
  // One prefix read per worker keeps this quick even for thousands of keys.
  const seen = new Map<string, string>()
  const res = await client.range('load/', { prefix: true })
  for (const kv of res.kvs) seen.set(kv.key.toString(), kv.value.toString())
  for (const [key, value] of acknowledged) {
    if (seen.get(key) !== value)
      missing.push(`${key}=${value} (found ${seen.get(key) ?? 'nothing'})`)
  }
  expect(missing, `acknowledged writes missing on ${name}`).toEqual([])
}

describe('cluster under faults', () => {
  it('survives kill -9 of the leader 20 times in a row under a steady write load', async () => {
    tc = await startTestCluster()
    const t = tc
    await t.cluster.waitForLeader()
    const load = new WriteLoad(() => runningEndpoints(t))
    load.start()
    await load.nextAckAfter(Date.now(), 10_000)
    const recoveriesMs: number[] = []
    const electionsMs: number[] = []
    for (let round = 0; round < 20; round++) {
      const leader = await t.cluster.waitForLeader(10_000)
      const killedAt = Date.now()
      await t.cluster.kill(leader)
      const newLeader = await t.cluster.waitForLeader(10_000, leader)
      const electedMs = Date.now() - killedAt
      const ackAt = await load.nextAckAfter(killedAt, 10_000)
      recoveriesMs.push(ackAt - killedAt)
      electionsMs.push(electedMs)
      expect(newLeader).not.toBe(leader)
      await t.cluster.startNode(leader)
      // Let the restarted node catch up before the next round can pick it as leader.
      await sleep(300)
    }
    await load.stop()
    const sorted = [...recoveriesMs].sort((a, b) => a - b)
    console.log(
      `kill -9 leader -> next acknowledged write: median ${percentile(sorted, 50)} ms, ` +
        `p99 ${percentile(sorted, 99)} ms, max ${sorted.at(-1)} ms over ${sorted.length} kills; ` +
        `${load.acknowledged.size} writes acknowledged, ${load.failures} failed or unknown; ` +
        `per kill (ms to next ack / ms until a new leader was seen): ` +
        recoveriesMs.map((r, i) => `${r}/${electionsMs[i]}`).join(' '),
    )
    expect(load.acknowledged.size).toBeGreaterThan(100)
    expect(sorted.at(-1)).toBeLessThan(5000)
    await t.cluster.waitForLeader()
    for (const name of t.cluster.names()) await expectAllPresent(t, load.acknowledged, name)
  }, 300_000)
})
