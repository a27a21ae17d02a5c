// The `etcd3` npm client against a real 3-node raftdesk cluster, through all endpoints: the
// calls an application makes (KV, txn, prefix reads, watch, leases with keep-alive).
import { Etcd3 } from 'etcd3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sleep, startTestCluster, type TestCluster } from '../helpers/cluster'

let tc: TestCluster
let client: Etcd3

beforeAll(async () => {
  tc = await startTestCluster()
  await tc.cluster.waitForLeader()
  client = new Etcd3({ hosts: [...tc.endpoints.values()].map((e) => `http://${e}`) })
}, 60_000)

afterAll(async () => {
  client?.close()
  await tc?.dispose()
})

describe('etcd3 npm client', () => {
  it('puts, gets, deletes and reads prefixes', async () => {
    await client.put('app/a').value('1')
    await client.put('app/b').value('2')
    expect(await client.get('app/a').string()).toBe('1')
    expect(await client.getAll().prefix('app/').strings()).toEqual({ 'app/a': '1', 'app/b': '2' })
    expect(await client.getAll().prefix('app/').count()).toBe(2)
    await client.delete().key('app/a')
    expect(await client.get('app/a').string()).toBeNull()
  })

  it('runs if/then/else transactions', async () => {
    await client.put('cfg/version').value('1')
    const won = await client
      .if('cfg/version', 'Value', '==', '1')
      .then(client.put('cfg/version').value('2'))
      .else(client.get('cfg/version'))
      .commit()
    expect(won.succeeded).toBe(true)
    const lost = await client
      .if('cfg/version', 'Value', '==', '1')
      .then(client.put('cfg/version').value('3'))
      .commit()
    expect(lost.succeeded).toBe(false)
    expect(await client.get('cfg/version').string()).toBe('2')
  })

  it('watches a prefix and sees puts and deletes', async () => {
    const watcher = await client.watch().prefix('w/').create()
    const seen: string[] = []
    watcher.on('put', (kv) => seen.push(`put ${kv.key.toString()}=${kv.value.toString()}`))
    watcher.on('delete', (kv) => seen.push(`delete ${kv.key.toString()}`))
    await client.put('w/x').value('1')
    await client.delete().key('w/x')
    const deadline = Date.now() + 5000
    while (seen.length < 2 && Date.now() < deadline) await sleep(20)
    await watcher.cancel()
    expect(seen).toEqual(['put w/x=1', 'delete w/x'])
  })

  it('keeps a lease alive and deletes its keys when it is revoked', async () => {
    const lease = client.lease(2)
    await lease.put('lease/key').value('held')
    await sleep(3500) // longer than the TTL: only keep-alives keep the key
    expect(await client.get('lease/key').string()).toBe('held')
    await lease.revoke()
    expect(await client.get('lease/key').string()).toBeNull()
  }, 20_000)

  it('keeps a lease alive through a follower, which forwards keep-alives to the leader', async () => {
    const leader = await tc.cluster.waitForLeader()
    const follower = tc.cluster.names().find((n) => n !== leader)!
    const viaFollower = new Etcd3({ hosts: [`http://${tc.endpoints.get(follower)}`] })
    try {
      const lease = viaFollower.lease(2)
      await lease.put('lease/follower').value('held')
      await sleep(4000)
      expect(await viaFollower.get('lease/follower').string()).toBe('held')
      await lease.revoke()
      expect(await viaFollower.get('lease/follower').string()).toBeNull()
    } finally {
      viaFollower.close()
    }
  }, 20_000)

  it('expires a lease nobody keeps alive, on every member', async () => {
    const lease = await client.lease(2, { autoKeepAlive: false }).grant()
    await client.put('lease/orphan').value('x').lease(lease)
    await sleep(4500)
    for (const name of tc.cluster.names()) {
      expect(await tc.client(name).get('lease/orphan')).toBeNull()
    }
  }, 20_000)
})
