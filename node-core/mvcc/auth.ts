/**
 * Authentication state of the store: etcd v3's users, roles and key permissions, the auth
 * revision and the enabled flag, changed only by replicated auth operations (WriteOp 'auth') and
 * read by the permission checks every member runs when it applies a write.
 *
 * Contract:
 * - Pure and deterministic: no clock, no randomness, no I/O. Passwords arrive already hashed
 *   (the member that receives the request hashes it with its own random salt before proposing,
 *   server/passwords.ts), so every member applies the same bytes and no plaintext password ever
 *   reaches the raft log. The simulator applies the same class among its client writes.
 * - prepare(op, who, index) checks an operation against the current state and throws an
 *   EtcdServerError with etcd's code when etcd refuses it; nothing has changed then. The function
 *   it returns applies the operation (it cannot fail) and gives back the result and the records
 *   to write (AuthRecordWrite), which the store puts in the same LevelDB batch as the entry.
 * - The permission checks (checkRead, checkWrite, checkAdmin) take `who`, the user and the auth
 *   revision the request carried when it arrived (etcd's AuthInfo). With auth disabled every
 *   request passes.
 *
 * etcd 3.4's rules, kept here (auth/store.go, etcdserver/apply_auth.go):
 * - The auth revision starts at 1 and goes up by one with every change of users, roles or
 *   permissions, and with AuthDisable (AuthEnable and Authenticate leave it alone; granting a role
 *   the user already has changes nothing). A request that carries an older revision than the
 *   state's is refused "revision of auth store is old": the token was checked against state that
 *   has changed since, possibly narrowing what its user may do. Revision 0 means "no user".
 * - Enabling needs a user `root` holding the role `root`. While enabled, `root` cannot be deleted,
 *   lose the `root` role, and the `root` role cannot be deleted (invalid auth management).
 * - The role `root` need not exist as a role record: granting it only names it, and a user that
 *   holds it may do everything.
 * - A permission covers [key, rangeEnd): rangeEnd empty is the key alone, rangeEnd [0x00] every
 *   key from `key` on. A request on a range needs the union of the user's permissions of that
 *   type to cover all of it; a request on one key needs one permission that contains it.
 *
 * Persisted layout (space 'a' of layout.ts; JSON values, byte fields in base64):
 *   'a' 's'          -> u8 format = 1 | u8 enabled | u64 revision (big-endian)
 *   'a' 'u' + name   -> {"roles":[names, sorted],"password":PasswordHash | null}
 *   'a' 'r' + name   -> {"permissions":[{"type","key","rangeEnd"}, sorted by key]}
 * A store that never saw an auth operation has no 'a' entries: auth disabled, revision 1.
 */
import { Buffer } from 'node:buffer'
import { EtcdServerError } from '../kernel/etcd-errors'
import { CorruptionError } from './errors'
import { keyString, type KeyString } from './keys'
import { readUint64, writeUint64 } from './revision'

export const SPACE_AUTH = 0x61 // 'a'
const TAG_STATE = 0x73 // 's'
const TAG_USER = 0x75 // 'u'
const TAG_ROLE = 0x72 // 'r'
const STATE_FORMAT = 1

export const ROOT_USER = 'root'
export const ROOT_ROLE = 'root'

export type PermissionType = 'read' | 'write' | 'readwrite'

export interface Permission {
  type: PermissionType
  key: Uint8Array
  /** Empty: the key alone; [0x00]: every key from `key` on; else [key, rangeEnd). */
  rangeEnd: Uint8Array
}

/** A password as stored: a salted scrypt hash with the costs it was made with. */
export interface PasswordHash {
  kdf: 'scrypt'
  N: number
  r: number
  p: number
  salt: Uint8Array
  hash: Uint8Array
}

export interface User {
  name: string
  /** Sorted. */
  roles: string[]
  /** null: a user created without a password, who cannot authenticate (etcd's NoPassword). */
  password: PasswordHash | null
}

export interface Role {
  name: string
  /** Sorted by key. */
  permissions: Permission[]
}

/** Who sent a request, as its token said when it arrived: etcd's AuthInfo. */
export interface AuthInfo {
  user: string
  /** The auth revision when the token was checked; 0: no user. */
  revision: number
}

/** The replicated auth operations (etcd's InternalRaftRequest auth fields). */
export type AuthOp =
  | { type: 'authEnable' }
  | { type: 'authDisable' }
  /** The password was checked by the receiving member; the entry only issues the token. */
  | { type: 'authenticate'; name: string; tokenPrefix: string }
  | { type: 'userAdd'; name: string; password: PasswordHash | null }
  | { type: 'userDelete'; name: string }
  | { type: 'userChangePassword'; name: string; password: PasswordHash }
  | { type: 'userGrantRole'; user: string; role: string }
  | { type: 'userRevokeRole'; name: string; role: string }
  | { type: 'roleAdd'; name: string }
  | { type: 'roleDelete'; role: string }
  | { type: 'roleGrantPermission'; name: string; perm: Permission }
  | { type: 'roleRevokePermission'; role: string; key: Uint8Array; rangeEnd: Uint8Array }

export interface AuthOpResult {
  /** Authenticate: the token, `<prefix>.<raft index>` (etcd's simple token). */
  token?: string
}

export type AuthRecordWrite =
  { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array }

/** What the store persists and what the token keeper needs to hear about. */
export interface AuthApplied {
  result: AuthOpResult
  writes: AuthRecordWrite[]
  /** Tokens of these users are no longer valid (deleted, password changed). */
  invalidateUsers: string[]
  /** Every token is invalid (auth disabled). */
  invalidateAll: boolean
}

/** A half-open interval of byte strings; end undefined: no upper bound. */
interface Interval {
  start: KeyString
  end: KeyString | undefined
}

/**
 * A union of key intervals, merged: sorted, disjoint and not touching, so "is [a, b) covered" is
 * one lookup.
 */
export class KeyCover {
  private readonly intervals: Interval[]

  constructor(intervals: Interval[]) {
    const sorted = intervals
      .filter((i) => i.end === undefined || i.end > i.start)
      .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))
    const merged: Interval[] = []
    for (const next of sorted) {
      const last = merged[merged.length - 1]
      if (last !== undefined && (last.end === undefined || next.start <= last.end)) {
        if (last.end !== undefined && (next.end === undefined || next.end > last.end))
          last.end = next.end
      } else {
        merged.push({ ...next })
      }
    }
    this.intervals = merged
  }

  /** The interval holding `key`, if any. */
  private holding(key: KeyString): Interval | undefined {
    let lo = 0
    let hi = this.intervals.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const it = this.intervals[mid]!
      if (key < it.start) hi = mid - 1
      else if (it.end !== undefined && key >= it.end) lo = mid + 1
      else return it
    }
    return undefined
  }

  /** Whether every key of [start, end) is covered (end undefined: no upper bound). */
  covers(start: KeyString, end: KeyString | undefined): boolean {
    const it = this.holding(start)
    if (it === undefined) return false
    if (it.end === undefined) return true
    return end !== undefined && end <= it.end
  }

  coversKey(key: KeyString): boolean {
    return this.holding(key) !== undefined
  }
}

/** The interval a permission (or a request) names, in byte-string space. */
function intervalOf(key: Uint8Array, rangeEnd: Uint8Array): Interval {
  const start = keyString(key)
  if (rangeEnd.length === 0) return { start, end: start + '\x00' }
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { start, end: undefined }
  return { start, end: keyString(rangeEnd) }
}

interface UserPermissions {
  read: KeyCover
  write: KeyCover
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

export class AuthState {
  private enabledFlag = false
  private revisionNumber = 1
  private readonly users = new Map<string, User>()
  private readonly roles = new Map<string, Role>()
  /** Merged permissions per user, rebuilt after every change (etcd's range permission cache). */
  private cache = new Map<string, UserPermissions>()

  get enabled(): boolean {
    return this.enabledFlag
  }

  get revision(): number {
    return this.revisionNumber
  }

  // ---- reads ----------------------------------------------------------------------------------

  user(name: string): User | undefined {
    return this.users.get(name)
  }

  role(name: string): Role | undefined {
    return this.roles.get(name)
  }

  userNames(): string[] {
    return [...this.users.keys()].sort(compareStrings)
  }

  roleNames(): string[] {
    return [...this.roles.keys()].sort(compareStrings)
  }

  hasRole(user: string, role: string): boolean {
    return this.users.get(user)?.roles.includes(role) ?? false
  }

  // ---- permission checks ----------------------------------------------------------------------

  /** etcd's IsAdminPermitted: with auth on, only a user holding `root` passes. */
  checkAdmin(who: AuthInfo | undefined): void {
    if (!this.enabledFlag) return
    if (who === undefined || who.user === '') throw new EtcdServerError('USER_EMPTY')
    const user = this.users.get(who.user)
    if (user === undefined) throw new EtcdServerError('USER_NOT_FOUND')
    if (!user.roles.includes(ROOT_ROLE)) {
      throw new EtcdServerError('PERMISSION_DENIED', `${who.user} does not hold the root role`)
    }
  }

  /** Read permission on the key, or on [key, rangeEnd) (etcd's IsRangePermitted). */
  checkRead(who: AuthInfo | undefined, key: Uint8Array, rangeEnd?: Uint8Array): void {
    this.checkOp(who, key, rangeEnd, 'read')
  }

  /** Write permission on the key, or on [key, rangeEnd) (IsPutPermitted, IsDeleteRangePermitted). */
  checkWrite(who: AuthInfo | undefined, key: Uint8Array, rangeEnd?: Uint8Array): void {
    this.checkOp(who, key, rangeEnd, 'write')
  }

  private checkOp(
    who: AuthInfo | undefined,
    key: Uint8Array,
    rangeEnd: Uint8Array | undefined,
    kind: 'read' | 'write',
  ): void {
    if (!this.enabledFlag) return
    if (who === undefined || who.revision === 0) throw new EtcdServerError('USER_EMPTY')
    if (who.revision < this.revisionNumber) {
      throw new EtcdServerError(
        'AUTH_OLD_REVISION',
        `request checked at auth revision ${who.revision}, now ${this.revisionNumber}`,
      )
    }
    const user = this.users.get(who.user)
    if (user === undefined) throw new EtcdServerError('PERMISSION_DENIED', `no user ${who.user}`)
    if (user.roles.includes(ROOT_ROLE)) return
    const perms = this.cache.get(who.user)
    const cover = kind === 'read' ? perms?.read : perms?.write
    const wanted = intervalOf(key, rangeEnd ?? new Uint8Array(0))
    const allowed =
      cover !== undefined &&
      (rangeEnd === undefined || rangeEnd.length === 0
        ? cover.coversKey(wanted.start)
        : cover.covers(wanted.start, wanted.end))
    if (!allowed) {
      throw new EtcdServerError('PERMISSION_DENIED', `${who.user} may not ${kind} there`)
    }
  }

  // ---- replicated changes ---------------------------------------------------------------------

  /**
   * Checks `op`, sent by `who`, against the state; returns the step that applies it. `index` is
   * the raft index of the entry (a simple token ends with it).
   */
  prepare(op: AuthOp, who: AuthInfo | undefined, index: number): () => AuthApplied {
    if (op.type !== 'authenticate') this.checkAdmin(who)
    switch (op.type) {
      case 'authEnable':
        return this.prepareEnable()
      case 'authDisable':
        return () => {
          if (!this.enabledFlag) return this.applied()
          this.enabledFlag = false
          this.revisionNumber++
          return { ...this.applied([this.stateWrite()]), invalidateAll: true }
        }
      case 'authenticate': {
        if (!this.enabledFlag) throw new EtcdServerError('AUTH_NOT_ENABLED')
        const user = this.users.get(op.name)
        if (user === undefined || user.password === null) throw new EtcdServerError('AUTH_FAILED')
        return () => ({ ...this.applied(), result: { token: `${op.tokenPrefix}.${index}` } })
      }
      case 'userAdd':
        if (op.name === '') throw new EtcdServerError('USER_EMPTY')
        if (this.users.has(op.name)) throw new EtcdServerError('USER_ALREADY_EXIST')
        return () => this.putUser({ name: op.name, roles: [], password: op.password })
      case 'userDelete':
        if (this.enabledFlag && op.name === ROOT_USER) {
          throw new EtcdServerError('INVALID_AUTH_MGMT', 'root cannot be deleted while auth is on')
        }
        if (!this.users.has(op.name)) throw new EtcdServerError('USER_NOT_FOUND')
        return () => {
          this.users.delete(op.name)
          return {
            ...this.changed([{ type: 'del', key: recordKey(TAG_USER, op.name) }]),
            invalidateUsers: [op.name],
          }
        }
      case 'userChangePassword': {
        const user = this.users.get(op.name)
        if (user === undefined) throw new EtcdServerError('USER_NOT_FOUND')
        return () => ({
          ...this.putUser({ ...user, password: op.password }),
          invalidateUsers: [op.name],
        })
      }
      case 'userGrantRole': {
        const user = this.users.get(op.user)
        if (user === undefined) throw new EtcdServerError('USER_NOT_FOUND')
        if (op.role !== ROOT_ROLE && !this.roles.has(op.role)) {
          throw new EtcdServerError('ROLE_NOT_FOUND')
        }
        if (user.roles.includes(op.role)) return () => this.applied()
        return () => this.putUser({ ...user, roles: [...user.roles, op.role].sort(compareStrings) })
      }
      case 'userRevokeRole': {
        if (this.enabledFlag && op.name === ROOT_USER && op.role === ROOT_ROLE) {
          throw new EtcdServerError('INVALID_AUTH_MGMT', 'root cannot lose the root role')
        }
        const user = this.users.get(op.name)
        if (user === undefined) throw new EtcdServerError('USER_NOT_FOUND')
        if (!user.roles.includes(op.role)) throw new EtcdServerError('ROLE_NOT_GRANTED')
        return () => this.putUser({ ...user, roles: user.roles.filter((r) => r !== op.role) })
      }
      case 'roleAdd':
        if (op.name === '') throw new EtcdServerError('ROLE_EMPTY')
        if (this.roles.has(op.name)) throw new EtcdServerError('ROLE_ALREADY_EXIST')
        return () => this.putRole({ name: op.name, permissions: [] })
      case 'roleDelete':
        if (this.enabledFlag && op.role === ROOT_ROLE) {
          throw new EtcdServerError('INVALID_AUTH_MGMT', 'the root role cannot be deleted')
        }
        if (!this.roles.has(op.role)) throw new EtcdServerError('ROLE_NOT_FOUND')
        return () => this.deleteRole(op.role)
      case 'roleGrantPermission': {
        const role = this.roles.get(op.name)
        if (role === undefined) throw new EtcdServerError('ROLE_NOT_FOUND')
        return () => {
          const same = (p: Permission) =>
            sameBytes(p.key, op.perm.key) && sameBytes(p.rangeEnd, op.perm.rangeEnd)
          const permissions = role.permissions.some(same)
            ? role.permissions.map((p) => (same(p) ? { ...p, type: op.perm.type } : p))
            : [...role.permissions, op.perm].sort((a, b) => Buffer.compare(a.key, b.key))
          return this.putRole({ ...role, permissions })
        }
      }
      case 'roleRevokePermission': {
        const role = this.roles.get(op.role)
        if (role === undefined) throw new EtcdServerError('ROLE_NOT_FOUND')
        const kept = role.permissions.filter(
          (p) => !sameBytes(p.key, op.key) || !sameBytes(p.rangeEnd, op.rangeEnd),
        )
        if (kept.length === role.permissions.length) {
          throw new EtcdServerError('PERMISSION_NOT_GRANTED')
        }
        return () => this.putRole({ ...role, permissions: kept })
      }
    }
  }

  private prepareEnable(): () => AuthApplied {
    if (this.enabledFlag) return () => this.applied()
    const root = this.users.get(ROOT_USER)
    if (root === undefined) throw new EtcdServerError('ROOT_USER_NOT_EXIST')
    if (!root.roles.includes(ROOT_ROLE)) throw new EtcdServerError('ROOT_ROLE_NOT_EXIST')
    return () => {
      this.enabledFlag = true
      return { ...this.applied([this.stateWrite()]), invalidateAll: true }
    }
  }

  private applied(writes: AuthRecordWrite[] = []): AuthApplied {
    return { result: {}, writes, invalidateUsers: [], invalidateAll: false }
  }

  /** A change of users, roles or permissions: the revision moves and the cache is rebuilt. */
  private changed(writes: AuthRecordWrite[]): AuthApplied {
    this.revisionNumber++
    this.rebuildCache()
    return this.applied([...writes, this.stateWrite()])
  }

  private putUser(user: User): AuthApplied {
    this.users.set(user.name, user)
    return this.changed([
      { type: 'put', key: recordKey(TAG_USER, user.name), value: encodeUser(user) },
    ])
  }

  private putRole(role: Role): AuthApplied {
    this.roles.set(role.name, role)
    return this.changed([
      { type: 'put', key: recordKey(TAG_ROLE, role.name), value: encodeRole(role) },
    ])
  }

  /** Deletes a role and takes it from every user that held it. */
  private deleteRole(name: string): AuthApplied {
    this.roles.delete(name)
    const writes: AuthRecordWrite[] = [{ type: 'del', key: recordKey(TAG_ROLE, name) }]
    for (const user of [...this.users.values()].sort((a, b) => compareStrings(a.name, b.name))) {
      if (!user.roles.includes(name)) continue
      const next = { ...user, roles: user.roles.filter((r) => r !== name) }
      this.users.set(user.name, next)
      writes.push({ type: 'put', key: recordKey(TAG_USER, user.name), value: encodeUser(next) })
    }
    return this.changed(writes)
  }

  private rebuildCache(): void {
    const cache = new Map<string, UserPermissions>()
    for (const user of this.users.values()) {
      const read: Interval[] = []
      const write: Interval[] = []
      for (const roleName of user.roles) {
        for (const p of this.roles.get(roleName)?.permissions ?? []) {
          const interval = intervalOf(p.key, p.rangeEnd)
          if (p.type !== 'write') read.push(interval)
          if (p.type !== 'read') write.push(interval)
        }
      }
      cache.set(user.name, { read: new KeyCover(read), write: new KeyCover(write) })
    }
    this.cache = cache
  }

  private stateWrite(): AuthRecordWrite {
    const value = new Uint8Array(10)
    value[0] = STATE_FORMAT
    value[1] = this.enabledFlag ? 1 : 0
    writeUint64(value, 2, this.revisionNumber)
    return { type: 'put', key: new Uint8Array([SPACE_AUTH, TAG_STATE]), value }
  }

  // ---- persistence ----------------------------------------------------------------------------

  /** Every record of the state, in key order (what an image or a hash carries). */
  records(): Array<{ key: Uint8Array; value: Uint8Array }> {
    const out: Array<{ key: Uint8Array; value: Uint8Array }> = []
    for (const name of this.roleNames()) {
      out.push({ key: recordKey(TAG_ROLE, name), value: encodeRole(this.roles.get(name)!) })
    }
    const state = this.stateWrite() as { key: Uint8Array; value: Uint8Array }
    out.push(state)
    for (const name of this.userNames()) {
      out.push({ key: recordKey(TAG_USER, name), value: encodeUser(this.users.get(name)!) })
    }
    return out.sort((a, b) => Buffer.compare(a.key, b.key))
  }

  /** Replaces the state with the one these records (space 'a', any order) describe. */
  load(records: Iterable<{ key: Uint8Array; value: Uint8Array }>): void {
    let enabled = false
    let revision = 1
    const users = new Map<string, User>()
    const roles = new Map<string, Role>()
    for (const { key, value } of records) {
      if (key[0] !== SPACE_AUTH || key.length < 2) {
        throw new CorruptionError(`auth: record key outside the auth space`)
      }
      const name = Buffer.from(key.subarray(2)).toString('utf8')
      if (key[1] === TAG_STATE && key.length === 2) {
        if (value.length !== 10 || value[0] !== STATE_FORMAT || value[1]! > 1) {
          throw new CorruptionError('auth: bad state record')
        }
        enabled = value[1] === 1
        revision = readUint64(value, 2)
      } else if (key[1] === TAG_USER) {
        users.set(name, decodeUser(name, value))
      } else if (key[1] === TAG_ROLE) {
        roles.set(name, decodeRole(name, value))
      } else {
        throw new CorruptionError(`auth: unknown record tag ${key[1]}`)
      }
    }
    this.enabledFlag = enabled
    this.revisionNumber = revision
    this.users.clear()
    this.roles.clear()
    for (const [k, v] of users) this.users.set(k, v)
    for (const [k, v] of roles) this.roles.set(k, v)
    this.rebuildCache()
  }
}

function recordKey(tag: number, name: string): Uint8Array {
  const bytes = Buffer.from(name, 'utf8')
  const out = new Uint8Array(2 + bytes.length)
  out[0] = SPACE_AUTH
  out[1] = tag
  out.set(bytes, 2)
  return out
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64')
const unb64 = (text: unknown, what: string): Uint8Array => {
  if (typeof text !== 'string') throw new CorruptionError(`auth: ${what} is not base64 text`)
  return new Uint8Array(Buffer.from(text, 'base64'))
}

function encodeUser(user: User): Uint8Array {
  const password =
    user.password === null
      ? null
      : {
          kdf: user.password.kdf,
          N: user.password.N,
          r: user.password.r,
          p: user.password.p,
          salt: b64(user.password.salt),
          hash: b64(user.password.hash),
        }
  return Buffer.from(JSON.stringify({ roles: user.roles, password }), 'utf8')
}

function parseJson(value: Uint8Array, what: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value).toString('utf8'))
    if (typeof parsed === 'object' && parsed !== null) return parsed as Record<string, unknown>
  } catch {
    // reported below
  }
  throw new CorruptionError(`auth: ${what} record does not decode`)
}

function decodeUser(name: string, value: Uint8Array): User {
  const raw = parseJson(value, `user ${name}`)
  const roles = raw['roles']
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) {
    throw new CorruptionError(`auth: user ${name} has bad roles`)
  }
  const p = raw['password'] as Record<string, unknown> | null | undefined
  let password: PasswordHash | null = null
  if (p !== null && p !== undefined) {
    const [N, r, pp] = [p['N'], p['r'], p['p']]
    if (
      p['kdf'] !== 'scrypt' ||
      typeof N !== 'number' ||
      typeof r !== 'number' ||
      typeof pp !== 'number'
    ) {
      throw new CorruptionError(`auth: user ${name} has a bad password record`)
    }
    password = {
      kdf: 'scrypt',
      N,
      r,
      p: pp,
      salt: unb64(p['salt'], 'salt'),
      hash: unb64(p['hash'], 'hash'),
    }
  }
  return { name, roles: roles as string[], password }
}

function encodeRole(role: Role): Uint8Array {
  const permissions = role.permissions.map((p) => ({
    type: p.type,
    key: b64(p.key),
    rangeEnd: b64(p.rangeEnd),
  }))
  return Buffer.from(JSON.stringify({ permissions }), 'utf8')
}

function decodeRole(name: string, value: Uint8Array): Role {
  const raw = parseJson(value, `role ${name}`)
  const perms = raw['permissions']
  if (!Array.isArray(perms)) throw new CorruptionError(`auth: role ${name} has bad permissions`)
  const permissions = perms.map((p: Record<string, unknown>): Permission => {
    const type = p['type']
    if (type !== 'read' && type !== 'write' && type !== 'readwrite') {
      throw new CorruptionError(`auth: role ${name} has a permission of type ${String(type)}`)
    }
    return { type, key: unb64(p['key'], 'key'), rangeEnd: unb64(p['rangeEnd'], 'rangeEnd') }
  })
  return { name, permissions }
}
