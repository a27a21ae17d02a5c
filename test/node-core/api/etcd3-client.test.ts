// The `etcd3` npm client, unchanged, against the raftdesk gRPC layer (FakeBackend behind it):
// put/get/delete, prefix and count queries, if/then/else transactions, watches, leases kept alive
// by the client's keep-alive stream, and etcd's errors arriving as the client's typed errors.
import { Etcd3, EtcdLeaseInvalidError, type Watcher } from 'etcd3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeBackend } from './fake-backend'
import { startFakeServer, waitFor, type FakeServer } from './harness'

let nowMs = 5_000_000
let fake: FakeServer
let client: Etcd3

beforeAll(async () => {
  fake = await startFakeServer({ backend: new FakeBackend({ nowMs: () => nowMs }) })
  client = new Etcd3({ hosts: `http://${fake.endpoint}` })
})

afterAll(async () => {
  client?.close()
  await fake?.close()
})

describe('etcd3 client', () => {
  it('puts, gets and deletes', async () => {
    await client.put('greeting').value('hello')
    expect(await client.get('greeting').string()).toBe('hello')
    const deleted = await client.delete().key('greeting').exec()
    expect(deleted.deleted).toBe('1')
    expect(await client.get('greeting').string()).toBeNull()
  })

  it('reads a prefix, counts, limits and sorts', async () => {
    await client.put('cfg/b').value('2')
    await client.put('cfg/a').value('1')
    await client.put('cfg/c').value('3')
    await client.put('cfh').value('outside')
    expect(await client.getAll().prefix('cfg/').strings()).toEqual({
      'cfg/a': '1',
      'cfg/b': '2',
      'cfg/c': '3',
    })
    expect(await client.getAll().prefix('cfg/').count()).toBe(3)
    expect(await client.getAll().prefix('cfg/').sort('Key', 'Descend').limit(2).keys()).toEqual([
      'cfg/c',
      'cfg/b',
    ])
  })

  it('runs if/then/else transactions', async () => {
    await client.put('lock').value('free')
    const won = await client
      .if('lock', 'Value', '==', 'free')
      .then(client.put('lock').value('taken'), client.put('owner').value('me'))
      .else(client.get('lock'))
      .commit()
    expect(won.succeeded).toBe(true)
    expect(await client.get('owner').string()).toBe('me')
    const lost = await client
      .if('lock', 'Value', '==', 'free')
      .then(client.put('owner').value('you'))
      .else(client.get('lock'))
      .commit()
    expect(lost.succeeded).toBe(false)
    expect(lost.responses[0]!.response_range!.kvs[0]!.value.toString()).toBe('taken')
    expect(await client.get('owner').string()).toBe('me')
  })

  it('watches a key and a prefix', async () => {
    const puts: string[] = []
    const deletes: string[] = []
    const watchers: Watcher[] = [
      await client.watch().key('wk').create(),
      await client.watch().prefix('wp/').withPreviousKV().create(),
    ]
    for (const w of watchers) {
      w.on('put', (kv) => puts.push(`${kv.key.toString()}=${kv.value.toString()}`))
      w.on('delete', (kv, prev) => deletes.push(`${kv.key.toString()}(was ${prev?.value})`))
    }
    await client.put('wk').value('1')
    await client.put('wp/x').value('2')
    await client.put('elsewhere').value('3')
    await client.delete().key('wp/x')
    await waitFor(() => puts.length === 2 && deletes.length === 1, 'watch events')
    expect(puts).toEqual(['wk=1', 'wp/x=2'])
    expect(deletes).toEqual(['wp/x(was 2)'])
    await Promise.all(watchers.map((w) => w.cancel()))
    await waitFor(() => fake.backend.watchers.size === 0, 'the watchers to be canceled')
  })

  it('keeps a lease alive with its keep-alive stream, and reports it lost once revoked', async () => {
    // TTL 1 s: the client renews every 333 ms; the fake grants its minimum, 2 s.
    const lease = client.lease(1)
    let renewals = 0
    lease.on('keepaliveSucceeded', () => renewals++)
    await lease.put('session').value('alive')
    const id = await lease.grant()
    // Six seconds of fake time pass, in steps shorter than the TTL, each followed by a renewal.
    for (let step = 0; step < 4; step++) {
      const before = renewals
      nowMs += 1_500
      await waitFor(() => renewals > before, 'a keep-alive renewal')
    }
    expect(await client.get('session').string()).toBe('alive')
    const lost = new Promise((resolve) => lease.on('lost', resolve))
    await fake.backend.leaseRevoke({ id: BigInt(id) })
    expect(await lost).toBeInstanceOf(EtcdLeaseInvalidError)
    expect(await client.get('session').string()).toBeNull()
  })

  it('surfaces etcd errors with their etcd text', async () => {
    await client.put('hist').value('1')
    await client.put('hist').value('2')
    await client.put('hist').value('3')
    const rev = fake.backend.revision
    await fake.backend.compact({ revision: rev })
    await expect(
      client
        .get('hist')
        .revision(rev - 2)
        .string(),
    ).rejects.toThrow('etcdserver: mvcc: required revision has been compacted')
    await expect(client.lease(1, { autoKeepAlive: false }).revoke()).resolves.toBeUndefined()
    await expect(client.put('k').value('v').lease('123456')).rejects.toBeInstanceOf(
      EtcdLeaseInvalidError,
    )
  })
})
