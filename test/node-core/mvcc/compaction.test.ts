// Compaction: reads below the compacted revision fail with a typed error, reads at or above it
// are unchanged, superseded records leave the disk, and the compacted revision survives a restart.
import { setImmediate as tick } from 'node:timers/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CompactedError } from '../../../node-core/mvcc/errors'
import type { RangeResponse } from '../../../node-core/mvcc/types'
import { createPrng } from '../../../node-core/raft/prng'
import { b, countSpaces, errorCode, kv, tempDbDir, TestStore } from './helpers'

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

const ALL = { key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) }

function snapshotAt(rev: number) {
  const r = t.store.range({ ...ALL, revision: rev })
  return { kvs: r.kvs.map(kv), count: r.count }
}

describe('compaction', () => {
  it('reads below the compacted revision fail, reads at or above it are unchanged', async () => {
    const seed = Number(process.env['SEED'] ?? Date.now() % 100_000)
    console.log(`compaction reads: SEED=${seed}`)
    const prng = createPrng(seed)
    for (let i = 0; i < 60; i++) {
      const key = `k${prng.int(0, 6)}`
      if (prng.chance(0.25)) await t.del(key)
      else await t.put(key, `v${i}`)
    }
    const top = t.store.revision
    const before = new Map<number, ReturnType<typeof snapshotAt>>()
    for (let rev = 1; rev <= top; rev++) before.set(rev, snapshotAt(rev))
    const at = prng.int(2, top)
    expect(await t.apply({ type: 'compaction', compaction: { revision: at } })).toEqual({
      compaction: { revision: top },
    })
    expect(t.store.compactedRevision).toBe(at)
    for (let rev = 1; rev <= top; rev++) {
      if (rev < at) {
        expect(() => t.store.range({ ...ALL, revision: rev }), `seed ${seed} rev ${rev}`).toThrow(
          CompactedError,
        )
      } else {
        expect(snapshotAt(rev), `seed ${seed} rev ${rev} after compacting at ${at}`).toEqual(
          before.get(rev),
        )
      }
    }
    try {
      t.store.range({ ...ALL, revision: at - 1 })
    } catch (err) {
      expect(err).toMatchObject({ code: 'COMPACTED', compactedRevision: at })
    }
  })

  it.each([
    ['a future revision', 9, 'FUTURE_REV'],
    ['the compacted revision again', 3, 'COMPACTED'],
    ['an older revision', 2, 'COMPACTED'],
  ])('refuses %s', async (_name, rev, code) => {
    for (let i = 0; i < 5; i++) await t.put('a', String(i))
    await t.apply({ type: 'compaction', compaction: { revision: 3 } })
    expect(errorCode(await t.apply({ type: 'compaction', compaction: { revision: rev } }))).toBe(
      code,
    )
    expect(t.store.compactedRevision).toBe(3)
  })

  it('removes superseded records and tombstones from disk, and survives a restart', async () => {
    await t.put('a', '1')
    await t.put('a', '2')
    await t.put('a', '3')
    await t.put('b', '1')
    await t.del('b')
    await t.put('c', '1')
    await t.apply({ type: 'leaseGrant', leaseGrant: { id: 1n, ttlSeconds: 10 } })
    await t.apply({ type: 'compaction', compaction: { revision: 7 } })
    expect(t.store.indexedKeys).toBe(2) // b, deleted at 6, is gone from the index
    await t.store.close()
    // Records a@4 and c@7; the lease; state, format and checkpoint meta; one checkpoint chunk.
    expect(await countSpaces(t.dir)).toEqual({ r: 2, l: 1, m: 3, i: 1 })
    t.store = await (await import('../../../node-core/mvcc/store')).openStore(t.dir)
    expect(t.store.compactedRevision).toBe(7)
    expect(t.store.revision).toBe(7)
    expect(t.get('a')).toBe('3')
    expect(() => t.store.range({ key: b('a'), revision: 6 })).toThrow(CompactedError)
  })

  it('a deletion at exactly the compacted revision stays watchable from there', async () => {
    await t.put('a', '1') // 2
    await t.del('a') // 3
    await t.apply({ type: 'compaction', compaction: { revision: 3 } })
    expect(t.store.range({ key: b('a'), revision: 3 }).count).toBe(0)
    const deletes = async () => {
      const w = t.store.watch({ key: b('a'), startRevision: 3 })
      const r = await w.next()
      w.cancel()
      return r.done ? [] : r.value.events.map((e) => `${e.type}@${e.kv.modRevision}`)
    }
    // etcd would have dropped this tombstone: a watcher starting at 3 would never see it.
    expect(await deletes()).toEqual(['delete@3'])
    // The rebuild takes a key whose first record is that tombstone.
    await t.crashReopen()
    expect(t.store.loadStats.source).toBe('scan')
    expect([t.store.revision, t.store.compactedRevision]).toEqual([3, 3])
    expect(await deletes()).toEqual(['delete@3'])
    expect(await t.put('a', 'again')).toBe(4)
    expect(t.store.range({ key: b('a') }).kvs.map(kv)).toEqual([
      { key: 'a', value: 'again', create: 4, mod: 4, version: 1, lease: 0 },
    ])
    // The next compaction takes the tombstone away.
    await t.apply({ type: 'compaction', compaction: { revision: 4 } })
    await t.store.close()
    expect((await countSpaces(t.dir))['r']).toBe(1)
    await t.reopen()
  })

  it('works inside a batch, between other writes', async () => {
    await t.put('a', '1')
    const results = await t.applyAll([
      { type: 'put', put: { key: b('a'), value: b('2') } },
      { type: 'compaction', compaction: { revision: 3 } },
      { type: 'put', put: { key: b('a'), value: b('3') } },
      { type: 'compaction', compaction: { revision: 4 } },
    ])
    expect(results.map(errorCode)).toEqual([undefined, undefined, undefined, undefined])
    expect(t.store.compactedRevision).toBe(4)
    expect(t.get('a', 4)).toBe('3')
    await t.store.close()
    expect((await countSpaces(t.dir))['r']).toBe(1)
    await t.reopen()
    expect(t.get('a')).toBe('3')
  })

  it('reads of the published state stay whole while a compaction is being written', async () => {
    const tmp = tempDbDir()
    // No record cache: every read goes to LevelDB.
    const u = await TestStore.open(tmp.dir, { limits: { recordCacheBytesMax: 0 } })
    for (let i = 0; i < 200; i++) await u.put(`k${i % 50}`, `v${i}`)
    const published = u.store.revision
    const expected = u.store.range({ ...ALL }).kvs.map(kv)
    // Overwrite every key and compact past the old records in one batch.
    const ops = Array.from({ length: 50 }, (_, i) => ({
      type: 'put' as const,
      put: { key: b(`k${i}`), value: b('new') },
    }))
    const done = u.applyAll([
      ...ops,
      { type: 'compaction', compaction: { revision: published + 50 } },
    ])
    let settled = false
    void done.then(() => (settled = true))
    let reads = 0
    while (!settled) {
      const r: RangeResponse = u.store.range({ ...ALL })
      if (r.revision === published) {
        expect(r.kvs.map(kv)).toEqual(expected)
        reads++
      }
      await tick()
    }
    await done
    expect(reads).toBeGreaterThan(0)
    expect(
      u.store.range({ ...ALL }).kvs.every((x) => new TextDecoder().decode(x.value) === 'new'),
    ).toBe(true)
    await u.store.close()
    tmp.cleanup()
  })
})
