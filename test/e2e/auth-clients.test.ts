// The `etcd3` npm client with auth, against a real etcd 3.4 and a 3-member raftdesk cluster: root
// sets up a user limited to a prefix, then that user writes, reads, runs txns, uses leases and
// watches inside and outside its prefix, loses its token to a password change, and root turns
// auth off. Every outcome (values, or the client's error class and message) is recorded, and the
// two transcripts must be identical.
import { Etcd3 } from 'etcd3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sleep, startTestCluster, type TestCluster } from '../helpers/cluster'
import {
  shouldRunEtcdTests,
  startReferenceEtcd,
  type ReferenceEtcd,
} from '../node-core/api/harness'

async function scenario(hosts: string[]): Promise<string[]> {
  const out: string[] = []
  const attempt = async (what: string, fn: () => { then: unknown }) => {
    try {
      const r: unknown = await (fn() as Promise<unknown>)
      // Values are compared; response objects (headers with ids) only as having succeeded.
      const plain = typeof r === 'string' || typeof r === 'boolean' || Array.isArray(r)
      const record = r !== null && typeof r === 'object' && !('header' in r) && !('client' in r)
      out.push(`${what}: ${plain || record ? JSON.stringify(r) : 'ok'}`)
    } catch (err) {
      out.push(`${what}: ${(err as Error).constructor.name} ${(err as Error).message}`)
    }
  }
  const setup = new Etcd3({ hosts })
  await setup.user('root').create('rootpw')
  await setup.user('root').addRole('root')
  await setup.role('app').create()
  await setup.role('app').grant({ permission: 'Readwrite', range: setup.range({ prefix: 'app/' }) })
  await setup.user('alice').create('alicepw')
  await setup.user('alice').addRole('app')
  await setup.auth.authEnable({})
  setup.close()

  const root = new Etcd3({ hosts, auth: { username: 'root', password: 'rootpw' } })
  const alice = new Etcd3({ hosts, auth: { username: 'alice', password: 'alicepw' } })
  const ghost = new Etcd3({ hosts, auth: { username: 'ghost', password: 'x' } })
  const anonymous = new Etcd3({ hosts })
  try {
    await attempt('anonymous get', () => anonymous.get('app/a').string())
    await attempt('ghost get', () => ghost.get('app/a').string())
    await attempt('alice put app/a', () => alice.put('app/a').value('1'))
    await attempt('alice put secret', () => alice.put('secret').value('1'))
    await attempt('root put secret', () => root.put('secret').value('s'))
    await attempt('alice get app/a', () => alice.get('app/a').string())
    await attempt('alice get secret', () => alice.get('secret').string())
    await attempt('alice prefix app/', () => alice.getAll().prefix('app/').strings())
    await attempt('alice all keys', () => alice.getAll().keys())
    await attempt('alice txn inside', async () => {
      const r = await alice
        .if('app/a', 'Value', '==', '1')
        .then(alice.put('app/b').value('2'))
        .else(alice.get('app/a'))
        .commit()
      return r.succeeded
    })
    await attempt('alice txn touching secret', async () => {
      const r = await alice
        .if('app/a', 'Value', '==', '1')
        .then(alice.put('secret').value('stolen'))
        .commit()
      return r.succeeded
    })
    await attempt('root reads secret', () => root.get('secret').string())
    const lease = alice.lease(30, { autoKeepAlive: false })
    await attempt('alice lease put', () => lease.put('app/leased').value('x'))
    await attempt(
      'alice lease keep-alive',
      async () => Number((await lease.keepaliveOnce()).TTL) > 0,
    )
    await attempt('alice lease revoke', () => lease.revoke())
    await attempt('alice leased key gone', () => alice.get('app/leased').string())
    // A watch inside the prefix sees root's writes there.
    const seen: string[] = []
    const watcher = await alice.watch().prefix('app/').create()
    watcher.on('put', (kv) => seen.push(kv.key.toString()))
    await root.put('app/w').value('1')
    for (let i = 0; i < 100 && seen.length === 0; i++) await sleep(20)
    await watcher.cancel()
    out.push(`alice watch saw: ${seen.join(',')}`)
    await attempt('alice user list', () => alice.getUsers().then((u) => u.map((x) => x.name)))
    await attempt('root user list', () => root.getUsers().then((u) => u.map((x) => x.name)))
    await attempt('alice roles', () =>
      root
        .user('alice')
        .roles()
        .then((r) => r.map((x) => x.name)),
    )
    // A new password invalidates alice's token; her client re-authenticates with the old one.
    await attempt('root sets password', () => root.user('alice').setPassword('newpw'))
    await attempt('alice after password change', () => alice.get('app/a').string())
    await attempt('root disables auth', () => root.auth.authDisable({}))
    await attempt('anonymous after disable', () => anonymous.get('secret').string())
  } finally {
    for (const c of [root, alice, ghost, anonymous]) c.close()
  }
  return out
}

describe.runIf(shouldRunEtcdTests())('etcd3 client with auth: raftdesk vs etcd 3.4', () => {
  let etcd: ReferenceEtcd
  let tc: TestCluster
  let expected: string[]

  beforeAll(async () => {
    etcd = await startReferenceEtcd()
    expected = await scenario([`http://${etcd.endpoint}`])
    tc = await startTestCluster()
    await tc.cluster.waitForLeader()
  }, 120_000)

  afterAll(async () => {
    await etcd?.stop()
    await tc?.dispose()
  })

  it('has the same outcome at every step, through every member', async () => {
    const actual = await scenario([...tc.endpoints.values()].map((e) => `http://${e}`))
    if (process.env['DUMP']) console.log(actual.join('\n'))
    expect(actual).toEqual(expected)
  }, 120_000)
})
