/**
 * The `auth/*` handlers: users, roles and permissions through the connection's etcd client, the
 * same calls etcdctl makes, so raftdesk and real etcd clusters answer alike (and refuse alike:
 * a non-root user managing users gets the cluster's own "permission denied").
 */
import { Buffer } from 'node:buffer'
import type { Etcd3, IPermission } from 'etcd3'
import type { AuthOverview, AuthRole, Permission, PermissionType, WhoAmI } from '../../contract'
import { bytesOf } from '../client/etcd-client'
import { withClientErrors, type Connections } from './connections'
import type { Handlers } from './router'

type AuthHandlers = Pick<Handlers, Extract<keyof Handlers, `auth/${string}`>>

const TYPE_TO_WIRE = { read: 'Read', write: 'Write', readwrite: 'Readwrite' } as const
const WIRE_TO_TYPE: Record<IPermission['permType'], PermissionType> = {
  Read: 'read',
  Write: 'write',
  Readwrite: 'readwrite',
}

const bytes = (b: Buffer | undefined): Uint8Array => (b ? bytesOf(b) : new Uint8Array())

function permission(p: IPermission): Permission {
  return { type: WIRE_TO_TYPE[p.permType], key: bytes(p.key), rangeEnd: bytes(p.range_end) }
}

/** Whether auth is on; null from a cluster without AuthStatus (etcd before 3.5). */
async function enabledOf(client: Etcd3): Promise<boolean | null> {
  try {
    return (await client.auth.authStatus()).enabled
  } catch (err) {
    if (/unimplemented|unknown method/i.test(String((err as Error).message))) return null
    throw err
  }
}

async function role(client: Etcd3, name: string): Promise<AuthRole> {
  const res = await client.auth.roleGet({ role: name })
  return { name, permissions: (res.perm ?? []).map(permission) }
}

async function overview(client: Etcd3): Promise<AuthOverview> {
  const [enabled, users, roles] = await Promise.all([
    enabledOf(client),
    client.auth.userList(),
    client.auth.roleList(),
  ])
  return {
    enabled,
    users: await Promise.all(
      users.users.map(async (name) => ({
        name,
        roles: (await client.auth.userGet({ name })).roles,
      })),
    ),
    roles: await Promise.all(roles.roles.map((name) => role(client, name))),
  }
}

async function whoami(client: Etcd3, user: string | undefined): Promise<WhoAmI> {
  const enabled = await enabledOf(client)
  if (!user) return { user: null, enabled, root: enabled !== true, roles: [], permissions: [] }
  const roles = (await client.auth.userGet({ name: user })).roles
  const root = user === 'root' || roles.includes('root') || enabled === false
  const permissions = root
    ? []
    : (await Promise.all(roles.map((r) => role(client, r)))).flatMap((r) => r.permissions)
  return { user, enabled, root, roles, permissions }
}

export function createAuthHandlers(conns: Connections): AuthHandlers {
  const read = async (conn: string) => (await conns.use(conn)).client
  const write = async (conn: string) => (await conns.useWritable(conn)).client
  const done = () => null
  return {
    'auth/overview': withClientErrors(async ({ conn }) => overview(await read(conn))),
    'auth/whoami': withClientErrors(async ({ conn }) => {
      const c = await conns.use(conn)
      return whoami(c.client, c.spec.username)
    }),
    'auth/setEnabled': withClientErrors(async ({ conn, enabled }) => {
      const client = await write(conn)
      await (enabled ? client.auth.authEnable() : client.auth.authDisable())
      return null
    }),
    'auth/addUser': withClientErrors(async ({ conn, name, password }) =>
      (await write(conn)).auth.userAdd({ name, password }).then(done),
    ),
    'auth/deleteUser': withClientErrors(async ({ conn, name }) =>
      (await write(conn)).auth.userDelete({ name }).then(done),
    ),
    'auth/setPassword': withClientErrors(async ({ conn, name, password }) =>
      (await write(conn)).auth.userChangePassword({ name, password }).then(done),
    ),
    'auth/grantRole': withClientErrors(async ({ conn, user, role }) =>
      (await write(conn)).auth.userGrantRole({ user, role }).then(done),
    ),
    'auth/revokeRole': withClientErrors(async ({ conn, user, role }) =>
      (await write(conn)).auth.userRevokeRole({ name: user, role }).then(done),
    ),
    'auth/addRole': withClientErrors(async ({ conn, name }) =>
      (await write(conn)).auth.roleAdd({ name }).then(done),
    ),
    'auth/deleteRole': withClientErrors(async ({ conn, name }) =>
      (await write(conn)).auth.roleDelete({ role: name }).then(done),
    ),
    'auth/grantPermission': withClientErrors(async ({ conn, role, permission: p }) =>
      (await write(conn)).auth
        .roleGrantPermission({
          name: role,
          perm: {
            permType: TYPE_TO_WIRE[p.type],
            key: Buffer.from(p.key),
            range_end: Buffer.from(p.rangeEnd),
          },
        })
        .then(done),
    ),
    'auth/revokePermission': withClientErrors(async ({ conn, role, key, rangeEnd }) =>
      (await write(conn)).auth
        .roleRevokePermission({ role, key: Buffer.from(key), range_end: Buffer.from(rangeEnd) })
        .then(done),
    ),
  }
}
