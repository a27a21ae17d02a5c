// Tokens and auth state on a cluster of real node processes started with --auth-token-ttl 1:
// a token issued by one member works on the others, dies one TTL after its last use, and bad
// tokens get etcd's answer; users, roles and the enabled flag survive a restart of the whole
// cluster; bad input (names, permissions, oversized values, unknown leases) gets etcd's error and
// changes nothing.
import { Metadata, status, type ServiceError } from '@grpc/grpc-js'
import { afterEach, describe, expect, it } from 'vitest'
import { sleep, startTestCluster, type TestCluster } from '../helpers/cluster'
import { call, callError, etcdClients, type EtcdClients } from '../node-core/api/harness'

let tc: TestCluster | null = null
const clients: EtcdClients[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  await tc?.dispose()
  tc = null
})

function on(name: string): EtcdClients {
  const c = etcdClients(tc!.endpoints.get(name)!)
  clients.push(c)
  return c
}

function withToken(token: string): Metadata {
  const md = new Metadata()
  md.set('token', token)
  return md
}

const key = (k: string) => Buffer.from(k)

async function enableAuth(c: EtcdClients): Promise<string> {
  await call(c.auth, 'UserAdd', { name: 'root', password: 'rootpw' })
  await call(c.auth, 'UserGrantRole', { user: 'root', role: 'root' })
  await call(c.auth, 'AuthEnable', {})
  const r = await call<{ token: string }>(c.auth, 'Authenticate', {
    name: 'root',
    password: 'rootpw',
  })
  return r.token
}

function refusal(err: ServiceError): [number, string] {
  return [err.code, err.details]
}

describe('auth tokens and state on a real cluster', () => {
  it('honours a token on every member, until one TTL after its last use', async () => {
    tc = await startTestCluster({ etcd: { authTokenTtlSeconds: 1 } })
    await tc.cluster.waitForLeader()
    const [n1, n2, n3] = [on('n1'), on('n2'), on('n3')]
    const token = await enableAuth(n1)
    expect(token).toMatch(/^[a-zA-Z]{16}\.\d+$/)
    for (const c of [n1, n2, n3])
      await call(c.kv, 'Put', { key: key('k'), value: key('v') }, withToken(token))

    // Used every 400 ms, it stays alive well past its TTL.
    for (let i = 0; i < 5; i++) {
      await sleep(400)
      await call(n2.kv, 'Range', { key: key('k') }, withToken(token))
    }
    // Left alone for longer than its TTL, it is gone.
    await sleep(1500)
    const expired = await callError(n2.kv, 'Range', { key: key('k') }, withToken(token))
    expect(refusal(expired)).toEqual([status.UNAUTHENTICATED, 'etcdserver: invalid auth token'])

    const garbage = await callError(n1.kv, 'Range', { key: key('k') }, withToken('garbage'))
    expect(refusal(garbage)).toEqual([status.UNAUTHENTICATED, 'etcdserver: invalid auth token'])
    // A token naming an entry far ahead waits for it, then gives up with the same answer.
    const future = await callError(n1.kv, 'Range', { key: key('k') }, withToken('abc.99999999'))
    expect(refusal(future)).toEqual([status.UNAUTHENTICATED, 'etcdserver: invalid auth token'])
    // Authenticate ignores a stale token, so a client can always get a new one.
    const fresh = await call<{ token: string }>(
      n3.auth,
      'Authenticate',
      { name: 'root', password: 'rootpw' },
      withToken(token),
    )
    expect(fresh.token).not.toBe(token)
  }, 60_000)

  it('looks a token up after the barrier of a linearizable read, as etcd does', async () => {
    tc = await startTestCluster()
    // The member cut off below must be a follower: cutting off the leader would lose the
    // password change itself to the election that follows (etcd answers it with a timeout too).
    const leaderName = await tc.cluster.waitForLeader()
    const followerName = tc.cluster.names().find((n) => n !== leaderName)!
    const [lead, cut] = [on(leaderName), on(followerName)]
    const root = withToken(await enableAuth(lead))
    await call(lead.auth, 'RoleAdd', { name: 'app' }, root)
    const perm = { permType: 'READWRITE', key: key('k'), rangeEnd: Buffer.alloc(0) }
    await call(lead.auth, 'RoleGrantPermission', { name: 'app', perm }, root)
    await call(lead.auth, 'UserAdd', { name: 'alice', password: 'old' }, root)
    await call(lead.auth, 'UserGrantRole', { user: 'alice', role: 'app' }, root)
    const alice = withToken(
      (await call<{ token: string }>(cut.auth, 'Authenticate', { name: 'alice', password: 'old' }))
        .token,
    )
    await call(cut.kv, 'Range', { key: key('k') }, alice)
    // The follower is cut off while alice's password changes: it still knows her token when her
    // read arrives, and learns of the change only once its read barrier has caught it up.
    await tc.cluster.partition([followerName])
    await call(lead.auth, 'UserChangePassword', { name: 'alice', password: 'new' }, root)
    const read = callError(cut.kv, 'Range', { key: key('k') }, alice)
    await sleep(300)
    await tc.cluster.heal()
    expect(refusal(await read)).toEqual([status.UNAUTHENTICATED, 'etcdserver: invalid auth token'])
  }, 60_000)

  it('keeps users, roles and permissions across a restart of every member', async () => {
    tc = await startTestCluster()
    await tc.cluster.waitForLeader()
    const n1 = on('n1')
    const token = await enableAuth(n1)
    await call(n1.auth, 'RoleAdd', { name: 'app' }, withToken(token))
    await call(
      n1.auth,
      'RoleGrantPermission',
      { name: 'app', perm: { permType: 'READ', key: key('app/'), rangeEnd: key('app0') } },
      withToken(token),
    )
    for (const c of clients.splice(0)) c.close()
    for (const name of tc.cluster.names()) await tc.cluster.restart(name)
    await tc.cluster.waitForLeader()
    const n2 = on('n2')
    const anonymous = await callError(n2.kv, 'Range', { key: key('k') })
    expect(refusal(anonymous)).toEqual([status.INVALID_ARGUMENT, 'etcdserver: user name is empty'])
    // Tokens live in memory only, as etcd's simple tokens do.
    const old = await callError(n2.kv, 'Range', { key: key('k') }, withToken(token))
    expect(refusal(old)).toEqual([status.UNAUTHENTICATED, 'etcdserver: invalid auth token'])
    const again = await call<{ token: string }>(n2.auth, 'Authenticate', {
      name: 'root',
      password: 'rootpw',
    })
    const role = await call<{ perm: Array<{ permType: string; key: Buffer }> }>(
      n2.auth,
      'RoleGet',
      { role: 'app' },
      withToken(again.token),
    )
    expect(role.perm.map((p) => [p.permType, p.key.toString()])).toEqual([['READ', 'app/']])
    const status1 = await call<{ enabled: boolean }>(
      n2.auth,
      'AuthStatus',
      {},
      withToken(again.token),
    )
    expect(status1.enabled).toBe(true)
  }, 90_000)

  it('answers bad input with etcd errors and changes nothing', async () => {
    tc = await startTestCluster()
    await tc.cluster.waitForLeader()
    const n1 = on('n1')
    const token = withToken(await enableAuth(n1))
    const cases: Array<[string, object, [number, string]]> = [
      [
        'UserAdd',
        { name: '', password: 'x' },
        [status.INVALID_ARGUMENT, 'etcdserver: user name is empty'],
      ],
      ['RoleAdd', { name: '' }, [status.INVALID_ARGUMENT, 'etcdserver: role name is empty']],
      [
        'UserGrantRole',
        { user: 'nobody', role: 'root' },
        [status.FAILED_PRECONDITION, 'etcdserver: user name not found'],
      ],
      [
        'UserRevokeRole',
        { name: 'root', role: 'nope' },
        [status.FAILED_PRECONDITION, 'etcdserver: role is not granted to the user'],
      ],
      [
        'RoleDelete',
        { role: 'nope' },
        [status.FAILED_PRECONDITION, 'etcdserver: role name not found'],
      ],
      [
        'RoleGrantPermission',
        { name: 'root', perm: { permType: 7, key: key('a') } },
        [status.INVALID_ARGUMENT, 'etcdserver: invalid auth management'],
      ],
      [
        'RoleGrantPermission',
        { name: 'root' },
        [status.INVALID_ARGUMENT, 'etcdserver: invalid auth management'],
      ],
    ]
    for (const [method, req, expected] of cases) {
      const err = await callError(n1.auth, method, req, token)
      expect([method, ...refusal(err)]).toEqual([method, ...expected])
    }
    const big = await callError(
      n1.kv,
      'Put',
      { key: key('big'), value: Buffer.alloc(1_600_000) },
      token,
    )
    expect(refusal(big)).toEqual([status.INVALID_ARGUMENT, 'etcdserver: request is too large'])
    const lease = await callError(
      n1.kv,
      'Put',
      { key: key('k'), value: key('v'), lease: '12345' },
      token,
    )
    expect(refusal(lease)).toEqual([status.NOT_FOUND, 'etcdserver: requested lease not found'])
    // Nothing of the above landed: the same users and roles, no keys.
    const users = await call<{ users: string[] }>(n1.auth, 'UserList', {}, token)
    const roles = await call<{ roles: string[] }>(n1.auth, 'RoleList', {}, token)
    expect([users.users, roles.roles]).toEqual([['root'], []])
    const all = await call<{ count: string }>(
      n1.kv,
      'Range',
      { key: Buffer.from([0]), rangeEnd: Buffer.from([0]) },
      token,
    )
    expect(all.count).toBe('0')
    // The member is still up and serving.
    await call(n1.kv, 'Put', { key: key('after'), value: key('ok') }, token)
  }, 60_000)
})
