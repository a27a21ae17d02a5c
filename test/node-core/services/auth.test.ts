// The auth/* services against a real raftdesk node, through the same etcd client the window's
// connections use: roles with prefix permissions, users granted them, auth enabled; then alice
// sees who she is and what she may read, is refused what she may not (in the cluster's words),
// and root undoes it all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { prefixEnd } from '../../../node-core/client/etcd-client'
import { createAuthHandlers } from '../../../node-core/services/auth'
import { Connections } from '../../../node-core/services/connections'
import { createKvHandlers } from '../../../node-core/services/kv'
import { startTestCluster, type TestCluster } from '../../helpers/cluster'

const enc = (s: string) => new TextEncoder().encode(s)
const dec = (b: Uint8Array) => new TextDecoder().decode(b)

describe('auth services', () => {
  let tc: TestCluster
  const conns = new Connections()
  const auth = createAuthHandlers(conns)
  const kv = createKvHandlers(conns)

  beforeAll(async () => {
    tc = await startTestCluster({ nodes: 1 })
    await tc.cluster.waitForLeader()
    const endpoints = [...tc.endpoints.values()]
    conns.add({ id: 'local', name: 'local', endpoints })
    conns.add({ id: 'root', name: 'as root', endpoints, username: 'root', password: 'rootpw' })
    conns.add({ id: 'alice', name: 'as alice', endpoints, username: 'alice', password: 'alicepw' })
    conns.add({ id: 'ro', name: 'read only', endpoints, readOnly: true })
    await conns.get('local').client.put('team/a').value('1')
    await conns.get('local').client.put('secret/x').value('2')
  }, 60_000)

  afterAll(async () => {
    conns.closeAll()
    await tc?.dispose()
  })

  it('manages roles, permissions and users while auth is off', async () => {
    expect(await auth['auth/whoami']({ conn: 'local' })).toMatchObject({
      user: null,
      enabled: false,
      root: true,
    })
    await auth['auth/addRole']({ conn: 'local', name: 'root' })
    await auth['auth/addUser']({ conn: 'local', name: 'root', password: 'rootpw' })
    await auth['auth/grantRole']({ conn: 'local', user: 'root', role: 'root' })
    await auth['auth/addRole']({ conn: 'local', name: 'team-reader' })
    await auth['auth/grantPermission']({
      conn: 'local',
      role: 'team-reader',
      permission: {
        type: 'read',
        key: enc('team/'),
        rangeEnd: new Uint8Array(prefixEnd(enc('team/'))),
      },
    })
    await auth['auth/addUser']({ conn: 'local', name: 'alice', password: 'alicepw' })
    await auth['auth/grantRole']({ conn: 'local', user: 'alice', role: 'team-reader' })
    await expect(
      auth['auth/addUser']({ conn: 'ro', name: 'bob', password: 'x' }),
    ).rejects.toMatchObject({ code: 'READ_ONLY' })

    const all = await auth['auth/overview']({ conn: 'local' })
    expect(all.enabled).toBe(false)
    expect(all.users).toEqual(
      expect.arrayContaining([
        { name: 'alice', roles: ['team-reader'] },
        { name: 'root', roles: ['root'] },
      ]),
    )
    const reader = all.roles.find((r) => r.name === 'team-reader')!
    expect(reader.permissions.map((p) => [p.type, dec(p.key), dec(p.rangeEnd)])).toEqual([
      ['read', 'team/', 'team0'],
    ])
  })

  it('tells alice what she may read once auth is on, and refuses the rest plainly', async () => {
    await auth['auth/setEnabled']({ conn: 'local', enabled: true })
    const me = await auth['auth/whoami']({ conn: 'alice' })
    expect(me).toMatchObject({ user: 'alice', enabled: true, root: false, roles: ['team-reader'] })
    expect(me.permissions.map((p) => dec(p.key))).toEqual(['team/'])

    await expect(auth['auth/overview']({ conn: 'alice' })).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      message: expect.stringMatching(/permission denied/),
    })
    const page = await kv['kv/list']({
      conn: 'alice',
      prefix: enc('team/'),
      separator: '/',
      limit: 10,
    })
    expect(page.rows.map((r) => (r.kind === 'key' ? dec(r.key) : ''))).toEqual(['team/a'])
    await expect(
      kv['kv/list']({ conn: 'alice', prefix: enc(''), separator: '/', limit: 10 }),
    ).rejects.toMatchObject({ code: 'PERMISSION_DENIED' })
    // Without a user, an auth-enabled cluster says so.
    await expect(kv['kv/get']({ conn: 'local', key: enc('team/a') })).rejects.toThrow(/user name/)
    expect(await auth['auth/whoami']({ conn: 'root' })).toMatchObject({ user: 'root', root: true })
  })

  it('lets root revoke, delete and turn auth off again', async () => {
    await auth['auth/revokePermission']({
      conn: 'root',
      role: 'team-reader',
      key: enc('team/'),
      rangeEnd: new Uint8Array(prefixEnd(enc('team/'))),
    })
    expect((await auth['auth/whoami']({ conn: 'alice' })).permissions).toEqual([])
    await auth['auth/revokeRole']({ conn: 'root', user: 'alice', role: 'team-reader' })
    await auth['auth/deleteRole']({ conn: 'root', name: 'team-reader' })
    await auth['auth/setPassword']({ conn: 'root', name: 'alice', password: 'new' })
    await auth['auth/deleteUser']({ conn: 'root', name: 'alice' })
    await auth['auth/setEnabled']({ conn: 'root', enabled: false })
    const all = await auth['auth/overview']({ conn: 'local' })
    expect(all).toMatchObject({ enabled: false, users: [{ name: 'root', roles: ['root'] }] })
    expect(all.roles.map((r) => r.name)).toEqual(['root'])
  })
})
