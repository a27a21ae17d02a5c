// Range, option by option, against a fixed history (etcd 3.4 semantics, see read.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RangeRequest } from '../../../node-core/mvcc/types'
import { b, kv, str, tempDbDir, TestStore } from './helpers'

/**
 * History (a new store is at revision 1, as etcd's, so the first write is 2):
 *   2 put a=1   3 put b=22   4 put c=333   5 put a=4444   6 put d=5   7 delete c   8 put e=7
 *   9 put b=0   10 put dir/1=x   11 put dir/2=y   12 put dirz=z
 * At 12: a(create 2, mod 5, v2) b(3, 9, v2) d(6, 6, v1) dir/1(10) dir/2(11) dirz(12) e(8, 8, v1)
 */
let t: TestStore
let cleanup: () => void

beforeAll(async () => {
  const tmp = tempDbDir()
  cleanup = tmp.cleanup
  t = await TestStore.open(tmp.dir)
  for (const [key, value] of [
    ['a', '1'],
    ['b', '22'],
    ['c', '333'],
    ['a', '4444'],
    ['d', '5'],
  ]) {
    await t.put(key!, value!)
  }
  await t.del('c')
  for (const [key, value] of [
    ['e', '7'],
    ['b', '0'],
    ['dir/1', 'x'],
    ['dir/2', 'y'],
    ['dirz', 'z'],
  ]) {
    await t.put(key!, value!)
  }
})

afterAll(async () => {
  await t.store.close()
  cleanup()
})

const ALL = { key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) }
const from = (key: string) => ({ key: b(key), rangeEnd: new Uint8Array([0]) })
const span = (key: string, end: string) => ({ key: b(key), rangeEnd: b(end) })

interface Row {
  name: string
  req: RangeRequest
  keys: string[]
  count: number
  more?: boolean
}

const rows: Row[] = [
  { name: 'single key', req: { key: b('a') }, keys: ['a'], count: 1 },
  { name: 'single missing key', req: { key: b('c') }, keys: [], count: 0 },
  {
    name: 'empty range end is a single key',
    req: { key: b('a'), rangeEnd: new Uint8Array(0) },
    keys: ['a'],
    count: 1,
  },
  { name: '[a, d)', req: span('a', 'd'), keys: ['a', 'b'], count: 2 },
  { name: 'range end before key', req: span('d', 'a'), keys: [], count: 0 },
  {
    name: 'from key (range end 0x00)',
    req: from('d'),
    keys: ['d', 'dir/1', 'dir/2', 'dirz', 'e'],
    count: 5,
  },
  { name: 'all keys', req: ALL, keys: ['a', 'b', 'd', 'dir/1', 'dir/2', 'dirz', 'e'], count: 7 },
  { name: 'prefix dir/', req: span('dir/', 'dir0'), keys: ['dir/1', 'dir/2'], count: 2 },
  { name: 'limit cuts', req: { ...ALL, limit: 2 }, keys: ['a', 'b'], count: 7, more: true },
  {
    name: 'limit = count',
    req: { ...span('a', 'd'), limit: 2 },
    keys: ['a', 'b'],
    count: 2,
    more: false,
  },
  { name: 'limit above count', req: { ...span('a', 'd'), limit: 5 }, keys: ['a', 'b'], count: 2 },
  { name: 'at revision 4', req: { ...ALL, revision: 4 }, keys: ['a', 'b', 'c'], count: 3 },
  {
    name: 'at revision 7 (c deleted)',
    req: { ...ALL, revision: 7 },
    keys: ['a', 'b', 'd'],
    count: 3,
  },
  { name: 'at revision 2', req: { ...ALL, revision: 2 }, keys: ['a'], count: 1 },
  { name: 'at revision 1: the empty store', req: { ...ALL, revision: 1 }, keys: [], count: 0 },
  { name: 'count only', req: { ...ALL, countOnly: true }, keys: [], count: 7 },
  {
    name: 'count only with limit',
    req: { ...ALL, countOnly: true, limit: 1 },
    keys: [],
    count: 7,
    more: false,
  },
  {
    name: 'sort by mod, descending',
    req: { ...span('a', 'dir0'), sortOrder: 'descend', sortTarget: 'mod' },
    keys: ['dir/2', 'dir/1', 'b', 'd', 'a'],
    count: 5,
  },
  {
    name: 'target mod without order sorts ascending',
    req: { ...span('a', 'dir0'), sortTarget: 'mod' },
    keys: ['a', 'd', 'b', 'dir/1', 'dir/2'],
    count: 5,
  },
  {
    name: 'sort by create, ascending',
    req: { ...span('a', 'f'), sortOrder: 'ascend', sortTarget: 'create' },
    keys: ['a', 'b', 'd', 'e', 'dir/1', 'dir/2', 'dirz'],
    count: 7,
  },
  {
    name: 'sort by version, descending; ties keep key order',
    req: { ...span('a', 'f'), sortOrder: 'descend', sortTarget: 'version' },
    keys: ['a', 'b', 'd', 'dir/1', 'dir/2', 'dirz', 'e'],
    count: 7,
  },
  {
    name: 'sort by value, ascending (bytes)',
    req: { ...span('a', 'dir0'), sortOrder: 'ascend', sortTarget: 'value' },
    keys: ['b', 'a', 'd', 'dir/1', 'dir/2'],
    count: 5,
  },
  {
    name: 'sort by key, descending',
    req: { ...ALL, sortOrder: 'descend', sortTarget: 'key' },
    keys: ['e', 'dirz', 'dir/2', 'dir/1', 'd', 'b', 'a'],
    count: 7,
  },
  {
    name: 'sort then limit',
    req: { ...ALL, sortOrder: 'descend', sortTarget: 'mod', limit: 3 },
    keys: ['dirz', 'dir/2', 'dir/1'],
    count: 7,
    more: true,
  },
  {
    name: 'min mod revision',
    req: { ...ALL, minModRevision: 9 },
    keys: ['b', 'dir/1', 'dir/2', 'dirz'],
    count: 7,
  },
  { name: 'max mod revision', req: { ...ALL, maxModRevision: 6 }, keys: ['a', 'd'], count: 7 },
  {
    name: 'min create revision',
    req: { ...ALL, minCreateRevision: 8 },
    keys: ['dir/1', 'dir/2', 'dirz', 'e'],
    count: 7,
  },
  {
    name: 'max create revision',
    req: { ...ALL, maxCreateRevision: 3 },
    keys: ['a', 'b'],
    count: 7,
  },
  {
    name: 'create window [3, 8]',
    req: { ...ALL, minCreateRevision: 3, maxCreateRevision: 8 },
    keys: ['b', 'd', 'e'],
    count: 7,
  },
  {
    name: 'filter then limit: more counts the filtered kvs',
    req: { ...ALL, minModRevision: 9, limit: 4 },
    keys: ['b', 'dir/1', 'dir/2', 'dirz'],
    count: 7,
    more: false,
  },
  {
    name: 'filter then limit cuts',
    req: { ...ALL, minModRevision: 9, limit: 3 },
    keys: ['b', 'dir/1', 'dir/2'],
    count: 7,
    more: true,
  },
]

describe('range', () => {
  it.each(rows)('$name', ({ req, keys, count, more }) => {
    const r = t.store.range(req)
    expect(r.kvs.map((x) => str(x.key))).toEqual(keys)
    expect(r.count).toBe(count)
    expect(r.more).toBe(more ?? false)
    // The header revision is the current revision, also for a historical read.
    expect(r.revision).toBe(12)
  })

  it('returns full key-values: create and mod revision, version, value, lease', () => {
    expect(t.store.range({ key: b('a') }).kvs.map(kv)).toEqual([
      { key: 'a', value: '4444', create: 2, mod: 5, version: 2, lease: 0 },
    ])
    expect(t.store.range({ key: b('a'), revision: 4 }).kvs.map(kv)).toEqual([
      { key: 'a', value: '1', create: 2, mod: 2, version: 1, lease: 0 },
    ])
  })

  it('keysOnly leaves the values out, nothing else', () => {
    const r = t.store.range({ ...span('a', 'c'), keysOnly: true })
    expect(r.kvs.map(kv)).toEqual([
      { key: 'a', value: '', create: 2, mod: 5, version: 2, lease: 0 },
      { key: 'b', value: '', create: 3, mod: 9, version: 2, lease: 0 },
    ])
  })

  it.each([
    ['a future revision', { key: b('a'), revision: 13 }, 'FUTURE_REV'],
    ['an empty key', { key: new Uint8Array(0) }, 'EMPTY_KEY'],
    ['a fractional limit', { key: b('a'), limit: 1.5 }, 'INVALID_ARGUMENT'],
    ['an unknown sort target', { key: b('a'), sortTarget: 'size' as never }, 'INVALID_ARGUMENT'],
  ])('refuses %s', (_name, req, code) => {
    expect(() => t.store.range(req)).toThrow(expect.objectContaining({ code }))
  })

  it('a range larger than rangeBytesMax is refused with a typed error', async () => {
    const tmp = tempDbDir()
    const small = await TestStore.open(tmp.dir, { limits: { rangeBytesMax: 10 } })
    await small.put('k1', '12345')
    await small.put('k2', '12345')
    expect(small.store.range({ key: b('k1') }).count).toBe(1)
    expect(() => small.store.range({ key: b('k'), rangeEnd: b('l') })).toThrow(
      expect.objectContaining({ code: 'REQUEST_TOO_LARGE' }),
    )
    await small.store.close()
    tmp.cleanup()
  })
})
