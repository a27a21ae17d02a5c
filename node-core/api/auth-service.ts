/**
 * etcdserverpb.Auth: enabling and disabling auth, Authenticate (the token), users, roles and
 * their key permissions.
 *
 * Each call maps the protobuf request onto an AuthRequest (backend.ts) and answers with a header
 * whose revision is the store's. The backend decides everything else: who may call what (root
 * only once auth is on, but a user may read itself and its roles), hashing passwords before they
 * are proposed, and etcd's error for each refusal. Authenticate is the one call that ignores a
 * token the client sends (context.ts), so a client with an expired token can get a new one.
 */
import type { UntypedServiceImplementation } from '@grpc/grpc-js'
import type { Permission, PermissionType } from '../mvcc/auth'
import type { AuthRequest } from '../server/port'
import { pbHeader } from './codec'
import { unary, type ApiContext, type Call } from './context'
import { EtcdServerError } from './errors'
import type { EnumValue } from './wire'

interface PbPermission {
  permType: EnumValue
  key: Buffer
  rangeEnd: Buffer
}

/** The fields of every Auth request, as proto-loader hands them over (absent ones are defaults). */
interface PbAuthRequest {
  name: string
  password: string
  user: string
  role: string
  key: Buffer
  rangeEnd: Buffer
  options: { noPassword: boolean } | null
  perm: PbPermission | null
}

const PERMISSION_TYPES: Record<string, PermissionType> = {
  READ: 'read',
  WRITE: 'write',
  READWRITE: 'readwrite',
}
const PB_PERMISSION_TYPES: Record<PermissionType, string> = {
  read: 'READ',
  write: 'WRITE',
  readwrite: 'READWRITE',
}

function permissionFromPb(pb: PbPermission | null): Permission {
  if (pb === null) {
    throw new EtcdServerError('INVALID_AUTH_MGMT', 'RoleGrantPermission without a permission')
  }
  const type = typeof pb.permType === 'string' ? PERMISSION_TYPES[pb.permType] : undefined
  if (type === undefined) {
    throw new EtcdServerError('INVALID_AUTH_MGMT', `unknown permission type ${pb.permType}`)
  }
  return { type, key: new Uint8Array(pb.key), rangeEnd: new Uint8Array(pb.rangeEnd) }
}

function pbPermission(p: Permission) {
  return { permType: PB_PERMISSION_TYPES[p.type], key: p.key, rangeEnd: p.rangeEnd }
}

/** Each method's request, from the protobuf fields it uses. */
const REQUESTS: Record<string, (pb: PbAuthRequest) => AuthRequest> = {
  AuthEnable: () => ({ type: 'authEnable' }),
  AuthDisable: () => ({ type: 'authDisable' }),
  AuthStatus: () => ({ type: 'authStatus' }),
  UserAdd: (pb) => ({
    type: 'userAdd',
    name: pb.name,
    password: pb.password,
    noPassword: pb.options?.noPassword === true,
  }),
  UserGet: (pb) => ({ type: 'userGet', name: pb.name }),
  UserList: () => ({ type: 'userList' }),
  UserDelete: (pb) => ({ type: 'userDelete', name: pb.name }),
  UserChangePassword: (pb) => ({
    type: 'userChangePassword',
    name: pb.name,
    password: pb.password,
  }),
  UserGrantRole: (pb) => ({ type: 'userGrantRole', user: pb.user, role: pb.role }),
  UserRevokeRole: (pb) => ({ type: 'userRevokeRole', name: pb.name, role: pb.role }),
  RoleAdd: (pb) => ({ type: 'roleAdd', name: pb.name }),
  RoleGet: (pb) => ({ type: 'roleGet', role: pb.role }),
  RoleList: () => ({ type: 'roleList' }),
  RoleDelete: (pb) => ({ type: 'roleDelete', role: pb.role }),
  RoleGrantPermission: (pb) => ({
    type: 'roleGrantPermission',
    name: pb.name,
    perm: permissionFromPb(pb.perm),
  }),
  RoleRevokePermission: (pb) => ({
    type: 'roleRevokePermission',
    role: pb.role,
    key: new Uint8Array(pb.key),
    rangeEnd: new Uint8Array(pb.rangeEnd),
  }),
}

export function authService(ctx: ApiContext): UntypedServiceImplementation {
  const { backend } = ctx
  const service: UntypedServiceImplementation = {
    Authenticate: unary<PbAuthRequest>(ctx, 'Authenticate', async (pb, call: Call) => {
      const r = await backend.authenticate(pb.name, pb.password, call)
      return { header: pbHeader(backend.header(), r.revision), token: r.token }
    }),
  }
  for (const [method, toRequest] of Object.entries(REQUESTS)) {
    service[method] = unary<PbAuthRequest>(ctx, method, async (pb, call) => {
      const r = await backend.auth(toRequest(pb), call)
      return {
        header: pbHeader(backend.header(), r.revision),
        ...(r.roles ? { roles: r.roles } : {}),
        ...(r.users ? { users: r.users } : {}),
        ...(r.perms ? { perm: r.perms.map(pbPermission) } : {}),
        ...(r.enabled !== undefined ? { enabled: r.enabled } : {}),
        ...(r.authRevision !== undefined ? { authRevision: String(r.authRevision) } : {}),
      }
    })
  }
  return service
}
