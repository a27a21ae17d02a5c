/**
 * The `auth/*` namespace: etcd's users, roles and permissions on one connection, and who the
 * connection is logged in as with what it may touch.
 *
 * etcd's rules hold, enforced by the cluster: managing users and roles needs root once auth is
 * on; a user may read itself and the roles it has. A permission covers one key (`rangeEnd`
 * empty), a range [key, rangeEnd), every key under a prefix (`rangeEnd` is the prefix's end),
 * or every key from `key` on (`rangeEnd` is the single byte 0).
 */
import type { Bytes } from './kv'

export type PermissionType = 'read' | 'write' | 'readwrite'

export interface Permission {
  type: PermissionType
  key: Bytes
  rangeEnd: Bytes
}

export interface AuthUser {
  name: string
  roles: string[]
}

export interface AuthRole {
  name: string
  permissions: Permission[]
}

/** Everything an administrator sees. */
export interface AuthOverview {
  /** null where the cluster cannot say (etcd 3.4 has no AuthStatus call). */
  enabled: boolean | null
  users: AuthUser[]
  roles: AuthRole[]
}

/** Who the connection acts as, and what that user may do. */
export interface WhoAmI {
  /** The connection's user; null when it connects without one. */
  user: string | null
  enabled: boolean | null
  /** Root (or auth off): every key. */
  root: boolean
  /** The user's roles and, joined, their permissions (empty for root). */
  roles: string[]
  permissions: Permission[]
}

interface On {
  conn: string
}

export interface AuthCalls {
  'auth/overview': { args: [On]; result: AuthOverview }
  'auth/whoami': { args: [On]; result: WhoAmI }
  'auth/setEnabled': { args: [On & { enabled: boolean }]; result: null }
  'auth/addUser': { args: [On & { name: string; password: string }]; result: null }
  'auth/deleteUser': { args: [On & { name: string }]; result: null }
  'auth/setPassword': { args: [On & { name: string; password: string }]; result: null }
  'auth/grantRole': { args: [On & { user: string; role: string }]; result: null }
  'auth/revokeRole': { args: [On & { user: string; role: string }]; result: null }
  'auth/addRole': { args: [On & { name: string }]; result: null }
  'auth/deleteRole': { args: [On & { name: string }]; result: null }
  'auth/grantPermission': { args: [On & { role: string; permission: Permission }]; result: null }
  'auth/revokePermission': {
    args: [On & { role: string; key: Bytes; rangeEnd: Bytes }]
    result: null
  }
}
