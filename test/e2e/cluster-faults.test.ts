// A 3-node cluster of real processes under faults: leader kills, whole-cluster crashes,
// partitions, a paused leader. Every write a client saw acknowledged must survive.
import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { EtcdClient } from '../../node-core/client/etcd-client'
import { encodeHello } from '../../node-core/transport/protocol'
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
    // Liveness only (nextAckAfter's bound): these workers write one at a time, and a write that
    // was forwarded to the killed leader waits for its deadline (1.5 s here) as with etcd, so the
    // time to the next acknowledgement says more about the workers than the cluster. The time a
    // client needs after a leader kill is asserted in client-failover.test.ts and measured
    // beside etcd by `npm run bench -- failover`.
    await t.cluster.waitForLeader()
    for (const name of t.cluster.names()) await expectAllPresent(t, load.acknowledged, name)
  }, 300_000)

  it('keeps every acknowledged write when all nodes are killed mid-load and restarted', async () => {
    tc = await startTestCluster()
    const t = tc
    await t.cluster.waitForLeader()
    const load = new WriteLoad(() => runningEndpoints(t), 6)
    load.start()
    await sleep(1500)
    await Promise.all(t.cluster.names().map((n) => t.cluster.kill(n)))
    await load.stop()
    expect(load.acknowledged.size).toBeGreaterThan(50)
    await Promise.all(t.cluster.names().map((n) => t.cluster.startNode(n)))
    await t.cluster.waitForLeader()
    for (const name of t.cluster.names()) await expectAllPresent(t, load.acknowledged, name)
  }, 120_000)

  it('stops a partitioned minority from committing while the majority goes on, then heals', async () => {
    tc = await startTestCluster()
    const t = tc
    const oldLeader = await t.cluster.waitForLeader()
    await t.client(oldLeader).put('p/before', '1')
    await t.cluster.partition([oldLeader])
    const majority = t.cluster.names().filter((n) => n !== oldLeader)
    const newLeader = await t.cluster.waitForLeader(10_000, oldLeader)
    expect(majority).toContain(newLeader)
    // The isolated old leader cannot commit: its write never succeeds.
    const isolated = new EtcdClient(t.endpoints.get(oldLeader)!, { timeoutMs: 2000 })
    await expect(isolated.put('p/minority', 'lost')).rejects.toThrow()
    // The majority goes on.
    for (let i = 0; i < 20; i++) await t.client(majority[i % 2]!).put(`p/majority/${i}`, String(i))
    await t.cluster.heal()
    // Healing converges: the old leader follows, has the majority's writes, not its own.
    const deadline = Date.now() + 10_000
    let seen = null as string | null
    while (Date.now() < deadline) {
      seen = await isolated.get('p/majority/19', { serializable: true }).catch(() => null)
      if (seen === '19') break
      await sleep(50)
    }
    expect(seen).toBe('19')
    expect(await isolated.get('p/minority')).toBeNull()
    expect((await t.cluster.status(oldLeader)).role).toBe('follower')
    isolated.close()
  }, 120_000)

  it('makes a paused leader step down on resume, loses no write and serves no stale read', async () => {
    tc = await startTestCluster()
    const t = tc
    const leader = await t.cluster.waitForLeader()
    const others = t.cluster.names().filter((n) => n !== leader)
    await t.client(leader).put('s/key', 'old')
    t.cluster.pause(leader)
    // Past the election timeout (150-300 ms) the others elect a new leader and move on.
    const deadline = Date.now() + 10_000
    let newLeader: string | null = null
    while (Date.now() < deadline && !newLeader) {
      const statuses = await Promise.all(others.map((n) => t.cluster.status(n)))
      newLeader = statuses.find((s) => s.role === 'leader')?.name ?? null
      if (!newLeader) await sleep(50)
    }
    expect(newLeader).not.toBeNull()
    await t.client(newLeader!).put('s/key', 'new')
    t.cluster.resume(leader)
    // Straight after resuming, the old leader still thinks it leads; a linearizable read there
    // must not answer with the old value (it answers the new one, or fails).
    const resumed = new EtcdClient(t.endpoints.get(leader)!, { timeoutMs: 3000 })
    const read = await resumed.get('s/key').catch((e: Error) => `error: ${e.message}`)
    expect(read).not.toBe('old')
    const until = Date.now() + 10_000
    let role = ''
    while (Date.now() < until) {
      role = (await t.cluster.status(leader)).role
      if (role === 'follower') break
      await sleep(50)
    }
    expect(role).toBe('follower')
    expect(await resumed.get('s/key')).toBe('new')
    resumed.close()
  }, 120_000)

  it('refuses bad input on the peer and client ports and stays up', async () => {
    const lines: string[] = []
    tc = await startTestCluster({})
    const t = tc
    t.cluster.on('exit', (name) => lines.push(`exit ${name}`))
    const leader = await t.cluster.waitForLeader()
    const target = t.cluster.info(leader)
    const [host, port] = [target.peer.split(':')[0]!, Number(target.peer.split(':')[1])]
    const status = await t.cluster.status(leader)
    const send = (bytes: Buffer) =>
      new Promise<string>((resolve) => {
        const socket = connect(port, host)
        const chunks: Buffer[] = []
        socket.on('data', (c) => chunks.push(c))
        socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
        socket.on('error', () => resolve(Buffer.concat(chunks).toString('latin1')))
        socket.write(bytes)
        setTimeout(() => socket.destroy(), 2000)
      })
    const peerId = status.confState.voters.find((v) => v !== status.id)!
    const hello = (clusterId: string, token: string) =>
      encodeHello({ purpose: 'messages', from: peerId, to: status.id, clusterId, token })
    await send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
    const oversized = Buffer.alloc(16)
    oversized.writeUInt32LE(0x7fffffff, 0)
    await send(oversized)
    const wrongCluster = await send(hello('not-this-cluster', t.cluster.clusterToken))
    const wrongToken = await send(hello(String(status.clusterId), 'wrong-token'))
    expect(wrongCluster).toMatch(/cluster/i)
    expect(wrongToken).toMatch(/token/i)
    // Malformed requests on the client port: bytes that are not the request's protobuf.
    const grpc = await import('@grpc/grpc-js')
    const raw = new grpc.Client(target.endpoint, grpc.credentials.createInsecure())
    const rawCall = (bytes: Buffer) =>
      new Promise<string>((resolve) =>
        raw.makeUnaryRequest(
          '/etcdserverpb.KV/Put',
          (b: Buffer) => b,
          (b: Buffer) => b,
          bytes,
          (err) => resolve(err ? `${err.code} ${err.details}` : 'ok'),
        ),
      )
    expect(await rawCall(Buffer.from([0xff, 0xff, 0xff, 0x01]))).toMatch(/^3 /) // INVALID_ARGUMENT
    raw.close()
    const refusals = t.logs.filter((l) => l.includes(`${leader} WARN transport: peer connection`))
    expect(refusals.join('\n')).toMatch(/TRANSPORT_FRAME_TOO_LARGE.*during":"handshake/)
    expect(refusals.join('\n')).toMatch(/handshake refused \(cluster-id\)/)
    expect(refusals.join('\n')).toMatch(/handshake refused \(token\)/)
    // Still up, still the same nodes, still serving.
    await t.client(leader).put('after/bad-input', 'fine')
    for (const name of t.cluster.names()) {
      expect(await t.client(name).get('after/bad-input')).toBe('fine')
    }
    expect(lines).toEqual([])
  }, 120_000)

  it('cuts a link one way and slows another through the supervisor, and heals', async () => {
    tc = await startTestCluster()
    const t = tc
    const leader = await t.cluster.waitForLeader()
    const [f1, f2] = t.cluster.names().filter((n) => n !== leader) as [string, string]
    // Delay and loss on the leader's link to one follower: writes still commit (how fast is the
    // benchmarks' business), and the slow follower gets them too.
    await t.cluster.setLinkFault(leader, f1, { delayMs: 200, lossRate: 0.2 })
    await t.client(leader).put('f/slow', '1')
    for (let i = 0; (await t.client(f1).get('f/slow', { serializable: true })) !== '1'; i++) {
      if (i > 200) throw new Error('the slow follower never got the write')
      await sleep(50)
    }
    // Leader -> followers cut one way: they stop hearing heartbeats and elect a new leader,
    // although the old leader still hears them.
    await t.cluster.cutLink(leader, f1, true)
    await t.cluster.cutLink(leader, f2, true)
    const next = await t.cluster.waitForLeader(10_000, leader)
    expect([f1, f2]).toContain(next)
    await t.client(next).put('f/after-cut', '2')
    await t.cluster.heal()
    const deadline = Date.now() + 10_000
    let value: string | null = null
    while (Date.now() < deadline && value !== '2') {
      value = await t
        .client(leader)
        .get('f/after-cut', { serializable: true })
        .catch(() => null)
      if (value !== '2') await sleep(50)
    }
    expect(value).toBe('2')
  }, 120_000)
})
