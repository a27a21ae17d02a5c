// HashKV and Hash: equal on stores that applied the same entries (however they were batched,
// and across a restart), different as soon as one byte of history differs, blind to writes above
// the asked revision, and refused below the compaction or above the present, as etcd does.
import { afterEach, describe, expect, it } from 'vitest'
import { b, tempDbDir, TestStore } from './helpers'
import type { WriteOp } from '../../../node-core/mvcc/types'

const cleanups: Array<() => void> = []
const stores: TestStore[] = []
afterEach(async () => {
  for (const t of stores.splice(0)) await t.store.close().catch(() => undefined)
  for (const c of cleanups.splice(0)) c()
})

async function fresh(): Promise<TestStore> {
  const { dir, cleanup } = tempDbDir()
  cleanups.push(cleanup)
  const t = await TestStore.open(dir)
  stores.push(t)
  return t
}

const put = (k: string, v: string): WriteOp => ({ type: 'put', put: { key: b(k), value: b(v) } })
const history: WriteOp[] = [
  put('a', '1'),
  put('b', '1'),
  put('a', '2'),
  { type: 'deleteRange', deleteRange: { key: b('b') } },
  { type: 'leaseGrant', leaseGrant: { id: 5n, ttlSeconds: 60 } },
  { type: 'put', put: { key: b('c'), value: b('leased'), lease: 5n } },
  put('d', '1'),
]

describe('HashKV', () => {
  it('is equal for the same entries applied one by one or as one batch, and after a restart', async () => {
    const one = await fresh()
    for (const op of history) await one.apply(op)
    const batch = await fresh()
    await batch.applyAll(history)
    const h = await one.store.hashKV(0)
    expect(await batch.store.hashKV(0)).toEqual(h)
    expect(h.revision).toBe(7)
    await one.reopen()
    expect(await one.store.hashKV(0)).toEqual(h)
    expect(await one.store.hash()).toEqual(await batch.store.hash())
  })

  it('differs when one value differs, and ignores what came after the asked revision', async () => {
    const x = await fresh()
    const y = await fresh()
    await x.applyAll(history)
    await y.applyAll([...history.slice(0, 2), put('a', '3'), ...history.slice(3)])
    expect((await x.store.hashKV(0)).hash).not.toBe((await y.store.hashKV(0)).hash)
    expect((await x.store.hashKV(2)).hash).toBe((await y.store.hashKV(2)).hash)
    const before = await x.store.hashKV(5)
    await x.apply(put('later', 'x'))
    expect((await x.store.hashKV(5)).hash).toBe(before.hash)
    expect((await x.store.hashKV(0)).hash).not.toBe(before.hash)
  })

  it('refuses a compacted or a future revision with etcd errors', async () => {
    const t = await fresh()
    await t.applyAll(history)
    await t.apply({ type: 'compaction', compaction: { revision: 4 } })
    await expect(t.store.hashKV(3)).rejects.toThrow('required revision has been compacted')
    await expect(t.store.hashKV(4)).rejects.toThrow('required revision has been compacted')
    await expect(t.store.hashKV(99)).rejects.toThrow('required revision is a future revision')
    expect((await t.store.hashKV(5)).compactRevision).toBe(4)
  })
})
