// Put and DeleteRange, option by option, with etcd's errors.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { PutRequest, WriteResult } from '../../../node-core/mvcc/types'
import { b, errorCode, kv, str, tempDbDir, TestStore } from './helpers'

let t: TestStore
let cleanup: () => void

beforeEach(async () => {
  const tmp = tempDbDir()
  cleanup = tmp.cleanup
  t = await TestStore.open(tmp.dir)
})

afterEach(async () => {
  await t.store.close()
  cleanup()
})

const one = (key: string) => t.store.range({ key: b(key) }).kvs.map(kv)[0]

function putResult(r: WriteResult) {
  if (!('put' in r)) throw new Error(`not a put result: ${JSON.stringify(r)}`)
  return r.put
}

describe('put', () => {
  it('takes the next revision; create revision and version follow generations', async () => {
    expect(await t.put('a', '1')).toBe(2)
    expect(await t.put('a', '2')).toBe(3)
    expect(one('a')).toEqual({ key: 'a', value: '2', create: 2, mod: 3, version: 2, lease: 0 })
    await t.del('a')
    expect(await t.put('a', '3')).toBe(5)
    expect(one('a')).toEqual({ key: 'a', value: '3', create: 5, mod: 5, version: 1, lease: 0 })
  })

  it('prevKv: the previous key-value, none for a new key', async () => {
    expect(
      putResult(await t.apply({ type: 'put', put: { key: b('a'), value: b('1'), prevKv: true } })),
    ).toEqual({
      revision: 2,
    })
    const r = putResult(
      await t.apply({ type: 'put', put: { key: b('a'), value: b('2'), prevKv: true } }),
    )
    expect(r.revision).toBe(3)
    expect(kv(r.prevKv!)).toEqual({ key: 'a', value: '1', create: 2, mod: 2, version: 1, lease: 0 })
  })

  it('lease: attaches the key; a missing lease is refused', async () => {
    await t.apply({ type: 'leaseGrant', leaseGrant: { id: 7n, ttlSeconds: 60 } })
    await t.put('a', '1', { lease: 7n })
    expect(one('a')!.lease).toBe(7)
    expect(t.store.lessor.timeToLive(7n, 0, true).keys.map(str)).toEqual(['a'])
    const refused = await t.apply({ type: 'put', put: { key: b('b'), value: b('1'), lease: 8n } })
    expect(refused).toEqual({
      error: { code: 'LEASE_NOT_FOUND', message: 'etcdserver: requested lease not found' },
    })
    // A put without a lease detaches the key.
    await t.put('a', '2')
    expect(one('a')!.lease).toBe(0)
    expect(t.store.lessor.timeToLive(7n, 0, true).keys).toEqual([])
  })

  type Case = [name: string, req: Omit<PutRequest, 'key'>, code: string | undefined, after?: object]
  const cases: Case[] = [
    [
      'ignoreValue keeps the value',
      { value: b(''), ignoreValue: true },
      undefined,
      { value: 'old', version: 2, lease: 0 },
    ],
    [
      'ignoreValue with a new lease',
      { value: b(''), ignoreValue: true, lease: 9n },
      undefined,
      { value: 'old', lease: 9 },
    ],
    [
      'ignoreLease keeps the lease',
      { value: b('new'), ignoreLease: true },
      undefined,
      { value: 'new', lease: 5 },
    ],
    [
      'both ignores: a new revision of the same data',
      { value: b(''), ignoreValue: true, ignoreLease: true },
      undefined,
      { value: 'old', lease: 5, version: 2, mod: 3 },
    ],
    ['ignoreValue with a value', { value: b('x'), ignoreValue: true }, 'VALUE_PROVIDED'],
    ['ignoreLease with a lease', { value: b('x'), ignoreLease: true, lease: 9n }, 'LEASE_PROVIDED'],
  ]

  it.each(cases)('%s', async (_name, req, code, after) => {
    await t.apply({ type: 'leaseGrant', leaseGrant: { id: 5n, ttlSeconds: 60 } })
    await t.apply({ type: 'leaseGrant', leaseGrant: { id: 9n, ttlSeconds: 60 } })
    await t.put('k', 'old', { lease: 5n })
    const r = await t.apply({ type: 'put', put: { key: b('k'), ...req } })
    expect(errorCode(r)).toBe(code)
    if (after !== undefined) expect(one('k')).toMatchObject(after)
    else expect(one('k')).toMatchObject({ value: 'old', lease: 5, version: 1 })
  })

  it.each([
    ['ignoreValue', { value: b(''), ignoreValue: true }],
    ['ignoreLease', { value: b('v'), ignoreLease: true }],
  ])('%s on a missing key: KEY_NOT_FOUND', async (_name, req) => {
    expect(await t.apply({ type: 'put', put: { key: b('nope'), ...req } })).toEqual({
      error: { code: 'KEY_NOT_FOUND', message: 'etcdserver: key not found' },
    })
    await t.put('gone', '1')
    await t.del('gone')
    expect(errorCode(await t.apply({ type: 'put', put: { key: b('gone'), ...req } }))).toBe(
      'KEY_NOT_FOUND',
    )
  })

  it('limits: empty key, key and value size', async () => {
    const tmp = tempDbDir()
    const small = await TestStore.open(tmp.dir, { limits: { keyBytesMax: 4, valueBytesMax: 8 } })
    expect(errorCode(await small.apply({ type: 'put', put: { key: b(''), value: b('v') } }))).toBe(
      'EMPTY_KEY',
    )
    expect(
      errorCode(await small.apply({ type: 'put', put: { key: b('12345'), value: b('v') } })),
    ).toBe('REQUEST_TOO_LARGE')
    expect(
      errorCode(await small.apply({ type: 'put', put: { key: b('1234'), value: b('123456789') } })),
    ).toBe('REQUEST_TOO_LARGE')
    expect(
      errorCode(await small.apply({ type: 'put', put: { key: b('1234'), value: b('12345678') } })),
    ).toBeUndefined()
    await small.store.close()
    tmp.cleanup()
  })

  it('a refused op takes no revision but still advances the consistent index', async () => {
    await t.put('a', '1')
    await t.apply({ type: 'put', put: { key: b('a'), value: b('x'), lease: 42n } })
    expect(t.store.revision).toBe(2)
    expect(t.store.consistentIndex).toBe(2)
  })
})

describe('delete range', () => {
  beforeEach(async () => {
    for (const key of ['a', 'b', 'c', 'd']) await t.put(key, key.toUpperCase())
  })

  const del = async (req: { key: string; rangeEnd?: string | null; prevKv?: boolean }) => {
    const rangeEnd =
      req.rangeEnd === null
        ? new Uint8Array([0])
        : req.rangeEnd === undefined
          ? undefined
          : b(req.rangeEnd)
    const r = await t.apply({
      type: 'deleteRange',
      deleteRange: {
        key: b(req.key),
        ...(rangeEnd ? { rangeEnd } : {}),
        prevKv: req.prevKv ?? false,
      },
    })
    if (!('deleteRange' in r)) throw new Error(JSON.stringify(r))
    return r.deleteRange
  }

  it('one key: deleted 1, one new revision', async () => {
    expect(await del({ key: 'b' })).toEqual({ deleted: 1, prevKvs: [], revision: 6 })
    expect(one('b')).toBeUndefined()
    expect(t.get('b', 5)).toBe('B')
  })

  it('a missing key: deleted 0, no new revision', async () => {
    expect(await del({ key: 'zz' })).toEqual({ deleted: 0, prevKvs: [], revision: 5 })
    expect(t.store.revision).toBe(5)
  })

  it('a range, all in one revision, prevKvs in key order', async () => {
    const r = await del({ key: 'b', rangeEnd: 'd', prevKv: true })
    expect(r.deleted).toBe(2)
    expect(r.revision).toBe(6)
    expect(r.prevKvs.map(kv)).toEqual([
      { key: 'b', value: 'B', create: 3, mod: 3, version: 1, lease: 0 },
      { key: 'c', value: 'C', create: 4, mod: 4, version: 1, lease: 0 },
    ])
    expect(
      t.store.range({ key: b('a'), rangeEnd: new Uint8Array([0]) }).kvs.map((x) => str(x.key)),
    ).toEqual(['a', 'd'])
  })

  it('from a key (range end 0x00)', async () => {
    expect((await del({ key: 'c', rangeEnd: null })).deleted).toBe(2)
    expect(t.store.range({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) }).count).toBe(2)
  })

  it('detaches deleted keys from their lease', async () => {
    await t.apply({ type: 'leaseGrant', leaseGrant: { id: 3n, ttlSeconds: 60 } })
    await t.put('a', 'leased', { lease: 3n })
    await del({ key: 'a' })
    expect(t.store.lessor.timeToLive(3n, 0, true).keys).toEqual([])
  })
})
