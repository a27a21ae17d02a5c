// The store's auth state (node-core/mvcc/auth.ts): etcd 3.4's rules for users, roles and
// permissions, the auth revision, and the checks every member runs at apply. Each permission
// rule has a test that fails if the check is removed; the store tests run the checks through
// applyBatch, restart and snapshot images.
import { afterEach, describe, expect, it } from 'vitest'
import {
  AuthState,
  KeyCover,
  type AuthInfo,
  type AuthOp,
  type PasswordHash,
  type Permission,
} from '../../../node-core/mvcc/auth'
import { EtcdServerError } from '../../../node-core/kernel/etcd-errors'
import type { WriteOp, WriteResult } from '../../../node-core/mvcc/types'
import { b, tempDbDir, TestStore } from './helpers'

const HASH: PasswordHash = {
  kdf: 'scrypt',
  N: 16,
  r: 1,
  p: 1,
  salt: new Uint8Array([1, 2, 3]),
  hash: new Uint8Array([4, 5, 6]),
}
const none = new Uint8Array(0)
const ROOT_WHO: AuthInfo = { user: 'root', revision: Number.MAX_SAFE_INTEGER }

function codeOf(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    if (err instanceof EtcdServerError) return err.code
    throw err
  }
  return 'OK'
}

/** Applies auth ops on a bare AuthState as `who` (root by default). */
function run(state: AuthState, ops: AuthOp[], who: AuthInfo | undefined = ROOT_WHO): void {
  ops.forEach((op, i) => state.prepare(op, who, i + 1)())
}

function perm(type: Permission['type'], key: string, rangeEnd = ''): Permission {
  return { type, key: b(key), rangeEnd: rangeEnd === '\0' ? new Uint8Array([0]) : b(rangeEnd) }
}

/** root (root role) and alice with role `r` holding `perms`; auth on. */
function withAlice(perms: Permission[]): AuthState {
  const state = new AuthState()
  run(state, [
    { type: 'userAdd', name: 'root', password: HASH },
    { type: 'userGrantRole', user: 'root', role: 'root' },
    { type: 'roleAdd', name: 'r' },
    ...perms.map((p): AuthOp => ({ type: 'roleGrantPermission', name: 'r', perm: p })),
    { type: 'userAdd', name: 'alice', password: HASH },
    { type: 'userGrantRole', user: 'alice', role: 'r' },
    { type: 'authEnable' },
  ])
  return state
}

const alice = (state: AuthState): AuthInfo => ({ user: 'alice', revision: state.revision })

describe('KeyCover', () => {
  it('merges touching and overlapping intervals and answers coverage', () => {
    const cover = new KeyCover([
      { start: 'a', end: 'c' },
      { start: 'c', end: 'e' },
      { start: 'd', end: 'f' },
      { start: 'x', end: undefined },
      { start: 'm', end: 'k' }, // empty: ignored
    ])
    expect(cover.covers('a', 'f')).toBe(true)
    expect(cover.covers('b', 'f\0')).toBe(false)
    expect(cover.covers('x', undefined)).toBe(true)
    expect(cover.covers('w', undefined)).toBe(false)
    expect(cover.coversKey('e')).toBe(true)
    expect(cover.coversKey('f')).toBe(false)
    expect(cover.coversKey('l')).toBe(false)
    expect(cover.coversKey('zzz')).toBe(true)
  })
})

describe('AuthState: enabling, and the management rules', () => {
  it('needs a root user holding the root role to enable', () => {
    const state = new AuthState()
    expect(codeOf(() => state.prepare({ type: 'authEnable' }, undefined, 1))).toBe(
      'ROOT_USER_NOT_EXIST',
    )
    run(state, [{ type: 'userAdd', name: 'root', password: HASH }])
    expect(codeOf(() => state.prepare({ type: 'authEnable' }, undefined, 2))).toBe(
      'ROOT_ROLE_NOT_EXIST',
    )
    run(state, [{ type: 'userGrantRole', user: 'root', role: 'root' }, { type: 'authEnable' }])
    expect(state.enabled).toBe(true)
  })

  it('protects root while enabled, and names errors as etcd does', () => {
    const state = withAlice([])
    expect(codeOf(() => state.prepare({ type: 'userDelete', name: 'root' }, ROOT_WHO, 9))).toBe(
      'INVALID_AUTH_MGMT',
    )
    const revokeRoot: AuthOp = { type: 'userRevokeRole', name: 'root', role: 'root' }
    expect(codeOf(() => state.prepare(revokeRoot, ROOT_WHO, 9))).toBe('INVALID_AUTH_MGMT')
    expect(codeOf(() => state.prepare({ type: 'roleDelete', role: 'root' }, ROOT_WHO, 9))).toBe(
      'INVALID_AUTH_MGMT',
    )
    const cases: Array<[AuthOp, string]> = [
      [{ type: 'userAdd', name: '', password: HASH }, 'USER_EMPTY'],
      [{ type: 'userAdd', name: 'alice', password: HASH }, 'USER_ALREADY_EXIST'],
      [{ type: 'userDelete', name: 'bob' }, 'USER_NOT_FOUND'],
      [{ type: 'userChangePassword', name: 'bob', password: HASH }, 'USER_NOT_FOUND'],
      [{ type: 'userGrantRole', user: 'bob', role: 'r' }, 'USER_NOT_FOUND'],
      [{ type: 'userGrantRole', user: 'alice', role: 'nope' }, 'ROLE_NOT_FOUND'],
      [{ type: 'userRevokeRole', name: 'alice', role: 'nope' }, 'ROLE_NOT_GRANTED'],
      [{ type: 'roleAdd', name: '' }, 'ROLE_EMPTY'],
      [{ type: 'roleAdd', name: 'r' }, 'ROLE_ALREADY_EXIST'],
      [{ type: 'roleDelete', role: 'nope' }, 'ROLE_NOT_FOUND'],
      [{ type: 'roleGrantPermission', name: 'nope', perm: perm('read', 'k') }, 'ROLE_NOT_FOUND'],
      [
        { type: 'roleRevokePermission', role: 'r', key: b('k'), rangeEnd: none },
        'PERMISSION_NOT_GRANTED',
      ],
    ]
    for (const [op, code] of cases)
      expect([op.type, codeOf(() => state.prepare(op, ROOT_WHO, 9))]).toEqual([op.type, code])
  })

  it('lets only root manage users and roles once enabled', () => {
    const state = withAlice([perm('readwrite', 'a')])
    const op: AuthOp = { type: 'roleAdd', name: 'x' }
    expect(codeOf(() => state.prepare(op, alice(state), 9))).toBe('PERMISSION_DENIED')
    expect(codeOf(() => state.prepare(op, undefined, 9))).toBe('USER_EMPTY')
    expect(codeOf(() => state.prepare(op, { user: 'ghost', revision: 99 }, 9))).toBe(
      'USER_NOT_FOUND',
    )
    expect(codeOf(() => state.prepare(op, ROOT_WHO, 9))).toBe('OK')
  })

  it('moves the revision with every change of users, roles, permissions and disable only', () => {
    const state = new AuthState()
    expect(state.revision).toBe(1)
    run(state, [{ type: 'userAdd', name: 'root', password: HASH }])
    expect(state.revision).toBe(2)
    run(state, [{ type: 'userGrantRole', user: 'root', role: 'root' }])
    expect(state.revision).toBe(3)
    run(state, [{ type: 'userGrantRole', user: 'root', role: 'root' }]) // already held
    expect(state.revision).toBe(3)
    run(state, [{ type: 'authEnable' }])
    expect(state.revision).toBe(3)
    run(state, [{ type: 'authenticate', name: 'root', tokenPrefix: 'p' }])
    expect(state.revision).toBe(3)
    run(state, [{ type: 'authDisable' }])
    expect([state.enabled, state.revision]).toEqual([false, 4])
  })

  it('issues a token ending with the entry index, refused when disabled or without password', () => {
    const state = withAlice([])
    const applied = state.prepare(
      { type: 'authenticate', name: 'alice', tokenPrefix: 'abc' },
      undefined,
      42,
    )()
    expect(applied.result.token).toBe('abc.42')
    run(state, [{ type: 'userAdd', name: 'nopw', password: null }])
    const nopw: AuthOp = { type: 'authenticate', name: 'nopw', tokenPrefix: 'x' }
    expect(codeOf(() => state.prepare(nopw, undefined, 50))).toBe('AUTH_FAILED')
    const ghost: AuthOp = { type: 'authenticate', name: 'ghost', tokenPrefix: 'x' }
    expect(codeOf(() => state.prepare(ghost, undefined, 50))).toBe('AUTH_FAILED')
    run(state, [{ type: 'authDisable' }])
    expect(codeOf(() => state.prepare(nopw, undefined, 50))).toBe('AUTH_NOT_ENABLED')
  })

  it('takes a deleted role from every user', () => {
    const state = withAlice([perm('read', 'k')])
    run(state, [{ type: 'roleDelete', role: 'r' }])
    expect(state.user('alice')!.roles).toEqual([])
    expect(codeOf(() => state.checkRead(alice(state), b('k')))).toBe('PERMISSION_DENIED')
  })
})

describe('AuthState: permission checks', () => {
  it('checks a key against point, range and from-key permissions', () => {
    const state = withAlice([
      perm('read', 'one'),
      perm('write', 'w/', 'w0'),
      perm('readwrite', 'zz/', '\0'),
    ])
    const who = alice(state)
    expect(codeOf(() => state.checkRead(who, b('one')))).toBe('OK')
    expect(codeOf(() => state.checkRead(who, b('one2')))).toBe('PERMISSION_DENIED')
    expect(codeOf(() => state.checkWrite(who, b('one')))).toBe('PERMISSION_DENIED')
    expect(codeOf(() => state.checkWrite(who, b('w/x')))).toBe('OK')
    expect(codeOf(() => state.checkRead(who, b('w/x')))).toBe('PERMISSION_DENIED')
    expect(codeOf(() => state.checkWrite(who, b('zzz')))).toBe('OK')
    expect(codeOf(() => state.checkRead(who, b('zz/'), new Uint8Array([0])))).toBe('OK')
    expect(codeOf(() => state.checkRead(who, b('one'), new Uint8Array([0])))).toBe(
      'PERMISSION_DENIED',
    )
  })

  it('needs the whole range covered, possibly by several permissions together', () => {
    const state = withAlice([perm('read', 'a', 'c'), perm('read', 'c', 'e')])
    const who = alice(state)
    expect(codeOf(() => state.checkRead(who, b('a'), b('e')))).toBe('OK')
    expect(codeOf(() => state.checkRead(who, b('b'), b('d')))).toBe('OK')
    expect(codeOf(() => state.checkRead(who, b('a'), b('f')))).toBe('PERMISSION_DENIED')
    expect(codeOf(() => state.checkRead(who, b('0'), b('b')))).toBe('PERMISSION_DENIED')
  })

  it('refuses no user, an old revision, and a deleted user; root may do anything', () => {
    const state = withAlice([perm('readwrite', 'k')])
    const before = alice(state)
    expect(codeOf(() => state.checkRead(undefined, b('k')))).toBe('USER_EMPTY')
    expect(codeOf(() => state.checkRead({ user: 'alice', revision: 0 }, b('k')))).toBe('USER_EMPTY')
    run(state, [{ type: 'roleAdd', name: 'other' }])
    expect(codeOf(() => state.checkRead(before, b('k')))).toBe('AUTH_OLD_REVISION')
    expect(codeOf(() => state.checkRead(alice(state), b('k')))).toBe('OK')
    expect(
      codeOf(() => state.checkWrite({ user: 'root', revision: state.revision }, b('any'))),
    ).toBe('OK')
    run(state, [{ type: 'userDelete', name: 'alice' }])
    expect(codeOf(() => state.checkRead(alice(state), b('k')))).toBe('PERMISSION_DENIED')
  })

  it('lets everything through while auth is off', () => {
    const state = new AuthState()
    expect(codeOf(() => state.checkWrite(undefined, b('k')))).toBe('OK')
    expect(codeOf(() => state.checkAdmin(undefined))).toBe('OK')
  })

  it('updates the type of a permission granted again, and revokes by exact range', () => {
    const state = withAlice([perm('read', 'k')])
    run(state, [{ type: 'roleGrantPermission', name: 'r', perm: perm('readwrite', 'k') }])
    expect(state.role('r')!.permissions.map((p) => p.type)).toEqual(['readwrite'])
    expect(codeOf(() => state.checkWrite(alice(state), b('k')))).toBe('OK')
    run(state, [{ type: 'roleRevokePermission', role: 'r', key: b('k'), rangeEnd: none }])
    expect(codeOf(() => state.checkWrite(alice(state), b('k')))).toBe('PERMISSION_DENIED')
  })
})

describe('AuthState: records', () => {
  it('loads back exactly what it wrote', () => {
    const state = withAlice([perm('read', 'a', 'c'), perm('write', 'x', '\0')])
    run(state, [{ type: 'userAdd', name: 'nopw', password: null }])
    const copy = new AuthState()
    copy.load(state.records())
    expect(copy.enabled).toBe(true)
    expect(copy.revision).toBe(state.revision)
    expect(copy.userNames()).toEqual(['alice', 'nopw', 'root'])
    expect(copy.user('root')!.password).toEqual(HASH)
    expect(copy.user('nopw')!.password).toBeNull()
    expect(copy.role('r')).toEqual(state.role('r'))
    expect(codeOf(() => copy.checkRead(alice(copy), b('b')))).toBe('OK')
    expect(copy.records()).toEqual(state.records())
  })
})

describe('the store applies auth', () => {
  let cleanup = () => {}
  afterEach(() => cleanup())

  async function openWithAuth(): Promise<TestStore> {
    const tmp = tempDbDir()
    cleanup = tmp.cleanup
    const t = await TestStore.open(tmp.dir)
    const ops: AuthOp[] = [
      { type: 'userAdd', name: 'root', password: HASH },
      { type: 'userGrantRole', user: 'root', role: 'root' },
      { type: 'roleAdd', name: 'app' },
      { type: 'roleGrantPermission', name: 'app', perm: perm('readwrite', 'app/', 'app0') },
      { type: 'userAdd', name: 'alice', password: HASH },
      { type: 'userGrantRole', user: 'alice', role: 'app' },
      { type: 'authEnable' },
    ]
    for (const op of ops) expect(await t.apply({ type: 'auth', auth: op })).toEqual({ auth: {} })
    return t
  }

  async function applyAs(t: TestStore, op: WriteOp, who?: AuthInfo): Promise<WriteResult> {
    const [r] = await t.store.applyBatch([{ index: t.nextIndex++, op, ...(who ? { who } : {}) }])
    return r!
  }

  const put = (key: string, extra: object = {}): WriteOp & { type: 'put' } => ({
    type: 'put',
    put: { key: b(key), value: b('v'), ...extra },
  })
  const errorCode = (r: WriteResult) => ('error' in r ? r.error.code : 'OK')

  it('checks puts, deletes and txns against the sender at apply', async () => {
    const t = await openWithAuth()
    const who = { user: 'alice', revision: t.store.auth.revision }
    expect(errorCode(await applyAs(t, put('app/1'), who))).toBe('OK')
    expect(errorCode(await applyAs(t, put('other'), who))).toBe('PERMISSION_DENIED')
    expect(errorCode(await applyAs(t, put('app/1')))).toBe('USER_EMPTY')
    const del: WriteOp = {
      type: 'deleteRange',
      deleteRange: { key: b('app/'), rangeEnd: b('app1') },
    }
    expect(errorCode(await applyAs(t, del, who))).toBe('PERMISSION_DENIED')
    const txn = (inner: WriteOp & { type: 'put' }): WriteOp => ({
      type: 'txn',
      txn: {
        compare: [],
        success: [
          {
            requestTxn: {
              compare: [],
              success: [{ requestPut: inner.put }],
              failure: [],
            },
          },
        ],
        failure: [],
      },
    })
    expect(errorCode(await applyAs(t, txn(put('app/2')), who))).toBe('OK')
    // A write hidden in a nested txn is checked too (etcd 3.4 does not look inside).
    expect(errorCode(await applyAs(t, txn(put('secret')), who))).toBe('PERMISSION_DENIED')
    const compare: WriteOp = {
      type: 'txn',
      txn: {
        compare: [{ key: b('secret'), target: 'version', result: 'equal', version: 0 }],
        success: [],
        failure: [],
      },
    }
    expect(errorCode(await applyAs(t, compare, who))).toBe('PERMISSION_DENIED')
    // Nothing refused was applied.
    expect(t.store.range({ key: b('secret') }).kvs).toEqual([])
    expect(t.store.range({ key: b('app/2') }).kvs.length).toBe(1)
  })

  it('refuses a request checked before an auth change (old revision)', async () => {
    const t = await openWithAuth()
    const stale = { user: 'alice', revision: t.store.auth.revision }
    await applyAs(t, { type: 'auth', auth: { type: 'roleAdd', name: 'later' } }, ROOT_WHO)
    expect(errorCode(await applyAs(t, put('app/1'), stale))).toBe('AUTH_OLD_REVISION')
  })

  it("keeps a lease's keys writable only by those who may write them", async () => {
    const t = await openWithAuth()
    const rootWho = { user: 'root', revision: t.store.auth.revision }
    await applyAs(t, { type: 'leaseGrant', leaseGrant: { id: 7n, ttlSeconds: 60 } }, rootWho)
    expect(errorCode(await applyAs(t, put('secret', { lease: 7n }), rootWho))).toBe('OK')
    const who = { user: 'alice', revision: t.store.auth.revision }
    expect(errorCode(await applyAs(t, put('app/x', { lease: 7n }), who))).toBe('PERMISSION_DENIED')
    const revoke: WriteOp = { type: 'leaseRevoke', leaseRevoke: { id: 7n } }
    expect(errorCode(await applyAs(t, revoke, who))).toBe('PERMISSION_DENIED')
    expect(errorCode(await applyAs(t, revoke, rootWho))).toBe('OK')
  })

  it('keeps users, roles and the revision across a restart and a snapshot image', async () => {
    const t = await openWithAuth()
    const revision = t.store.auth.revision
    await t.reopen()
    expect([t.store.auth.enabled, t.store.auth.revision]).toEqual([true, revision])
    expect(t.store.auth.userNames()).toEqual(['alice', 'root'])
    const who = { user: 'alice', revision }
    expect(errorCode(await applyAs(t, put('other'), who))).toBe('PERMISSION_DENIED')

    const chunks: Uint8Array[] = []
    for await (const c of t.store.snapshotImage()) chunks.push(c)
    const other = tempDbDir()
    const target = await TestStore.open(other.dir)
    try {
      async function* replay() {
        yield* chunks
      }
      await target.restore(replay(), 100)
      expect(target.store.auth.enabled).toBe(true)
      expect(target.store.auth.role('app')).toEqual(t.store.auth.role('app'))
      expect((await target.store.hash()).hash).toBe((await t.store.hash()).hash)
    } finally {
      await target.store.close()
      other.cleanup()
    }
    await t.store.close()
  })
})
