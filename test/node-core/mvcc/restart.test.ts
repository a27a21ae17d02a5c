// Restart: reopening gives the same state and consistent index; re-applying entries at or below
// the consistent index is a no-op; a failed write fails the store; interrupted restores recover.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { ClassicLevel } from 'classic-level'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { decodeCheckpointMeta, encodeCheckpointMeta } from '../../../node-core/mvcc/checkpoint'
import { checkpointChunkKey, META_CHECKPOINT_KEY } from '../../../node-core/mvcc/layout'
import { openStore } from '../../../node-core/mvcc/store'
import type { WriteOp } from '../../../node-core/mvcc/types'
import { createPrng } from '../../../node-core/raft/prng'
import { b, countSpaces, kv, tempDbDir, TestStore } from './helpers'

let t: TestStore
let dir: string
let cleanup: () => void

beforeEach(async () => {
  const tmp = tempDbDir()
  dir = tmp.dir
  cleanup = tmp.cleanup
  t = await TestStore.open(dir)
})

afterEach(async () => {
  await t.store.close()
  cleanup()
})

const ALL = { key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) }

/** Everything observable: ranges at every readable revision, counters, leases. */
function fingerprint(s: TestStore) {
  const st = s.store
  const byRev: unknown[] = []
  for (let rev = Math.max(1, st.compactedRevision); rev <= st.revision; rev++) {
    byRev.push(st.range({ ...ALL, revision: rev }).kvs.map(kv))
  }
  const leases = st.lessor.list().map((id) => st.lessor.timeToLive(id, 0, true))
  return {
    revision: st.revision,
    compacted: st.compactedRevision,
    consistentIndex: st.consistentIndex,
    byRev,
    leases,
  }
}

const ops: WriteOp[] = [
  { type: 'put', put: { key: b('a'), value: b('1') } },
  { type: 'leaseGrant', leaseGrant: { id: 7n, ttlSeconds: 30 } },
  { type: 'put', put: { key: b('b'), value: b('1'), lease: 7n } },
  { type: 'put', put: { key: b('a'), value: b('2') } },
  { type: 'deleteRange', deleteRange: { key: b('a') } },
  { type: 'put', put: { key: b('c'), value: b('1') } },
  { type: 'compaction', compaction: { revision: 3 } },
  {
    type: 'txn',
    txn: {
      compare: [],
      success: [
        { requestPut: { key: b('a'), value: b('3') } },
        { requestPut: { key: b('d'), value: b('1') } },
      ],
      failure: [],
    },
  },
]

describe('restart', () => {
  it('reopening gives the same state and consistent index', async () => {
    await t.applyAll(ops.slice(0, 4))
    await t.applyAll([null, ...ops.slice(4)])
    const before = fingerprint(t)
    expect(before.consistentIndex).toBe(9)
    await t.reopen()
    expect(fingerprint(t)).toEqual(before)
    // And it carries on from there.
    expect(await t.put('e', '1')).toBe(before.revision + 1)
  })

  it('re-applying entries at or below the consistent index is a no-op', async () => {
    const items = ops.map((op, i) => ({ index: i + 1, op }))
    expect((await t.store.applyBatch(items.slice(0, 5))).every((r) => r !== null)).toBe(true)
    await t.reopen()
    // The server replays its WAL from an older point after a crash: 3..8 again.
    const replay = await t.store.applyBatch(items.slice(2))
    expect(replay.slice(0, 3)).toEqual([null, null, null])
    expect(replay.slice(3).every((r) => r !== null && !('error' in r))).toBe(true)
    // Everything at or below the consistent index: nothing written at all.
    expect(await t.store.applyBatch(items.slice(0, 4))).toEqual([null, null, null, null])

    const tmp = tempDbDir()
    const once = await TestStore.open(tmp.dir)
    await once.store.applyBatch(items)
    expect(fingerprint(t)).toEqual(fingerprint(once))
    await once.store.close()
    tmp.cleanup()
  })

  it('null ops only advance the consistent index', async () => {
    await t.put('a', '1')
    expect(await t.applyAll([null, null])).toEqual([null, null])
    expect([t.store.consistentIndex, t.store.revision]).toEqual([3, 2])
    await t.reopen()
    expect([t.store.consistentIndex, t.store.revision]).toEqual([3, 2])
  })

  it('indexes must increase: a batch out of order fails the store', async () => {
    await expect(
      t.store.applyBatch([
        { index: 2, op: { type: 'put', put: { key: b('a'), value: b('1') } } },
        { index: 2, op: { type: 'put', put: { key: b('b'), value: b('1') } } },
      ]),
    ).rejects.toMatchObject({ code: 'STORE_FAILED' })
    expect(() => t.store.range({ key: b('a') })).toThrow(
      expect.objectContaining({ code: 'STORE_FAILED' }),
    )
    // Nothing of that batch reached the disk.
    await t.store.close()
    t.store = await openStore(dir)
    expect([t.store.consistentIndex, t.store.revision]).toEqual([0, 1])
  })

  it('a failed disk write fails the store; reopening resumes from the last written batch', async () => {
    await t.put('a', '1')
    // Pull the database out from under the store.
    await (t.store as unknown as { db: ClassicLevel }).db.close()
    await expect(
      t.store.applyBatch([{ index: 2, op: { type: 'put', put: { key: b('a'), value: b('2') } } }]),
    ).rejects.toMatchObject({
      code: 'STORE_FAILED',
    })
    await expect(t.store.applyBatch([{ index: 3, op: null }])).rejects.toMatchObject({
      code: 'STORE_FAILED',
    })
    t.store = await openStore(dir)
    expect([t.store.consistentIndex, t.get('a')]).toEqual([1, '1'])
  })

  it('a clean close writes an index checkpoint; the next open uses it', async () => {
    await t.applyAll(ops)
    const before = fingerprint(t)
    await t.reopen()
    expect(t.store.loadStats).toMatchObject({ source: 'checkpoint', records: 0 })
    expect(fingerprint(t)).toEqual(before)
    await t.reopen({ checkpointOnClose: false })
    // The checkpoint from the close before still matches the state: nothing was applied since.
    expect(t.store.loadStats.source).toBe('checkpoint')
    expect(fingerprint(t)).toEqual(before)
  })

  it('the first batch after an open deletes the checkpoint; a crash then means a scan', async () => {
    await t.applyAll(ops)
    await t.reopen()
    expect(t.store.loadStats.source).toBe('checkpoint')
    await t.put('after', '1')
    const expected = fingerprint(t)
    // Crash: the database closes without the store's close().
    await (t.store as unknown as { db: ClassicLevel }).db.close()
    expect(await countSpaces(dir)).toMatchObject({ m: 2 })
    expect((await countSpaces(dir))['i']).toBeUndefined()
    t.store = await openStore(dir)
    expect(t.store.loadStats).toMatchObject({ source: 'scan', records: 8 })
    expect(fingerprint(t)).toEqual(expected)
  })

  it('a stale or damaged checkpoint is ignored: the records are the truth', async () => {
    await t.applyAll(ops)
    const expected = fingerprint(t)
    await t.store.close()
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, {
      keyEncoding: 'view',
      valueEncoding: 'view',
    })
    await db.open()
    const chunk = (await db.get(checkpointChunkKey(0)))!
    const damaged = chunk.slice()
    damaged[damaged.length - 1]! ^= 1
    await db.put(checkpointChunkKey(0), damaged)
    await db.close()
    t.store = await openStore(dir)
    expect(t.store.loadStats.source).toBe('scan')
    expect(fingerprint(t)).toEqual(expected)
    // A checkpoint from another state (as if batches were applied after it) is stale.
    await t.store.close()
    await db.open()
    const meta = decodeCheckpointMeta((await db.get(META_CHECKPOINT_KEY))!)
    await db.put(META_CHECKPOINT_KEY, encodeCheckpointMeta({ ...meta, consistentIndex: 1 }))
    await db.close()
    t.store = await openStore(dir)
    expect(t.store.loadStats.source).toBe('scan')
    expect(fingerprint(t)).toEqual(expected)
  })

  it('a database open elsewhere is refused with an error that says so, and the owner goes on', async () => {
    await t.put('k', 'v')
    await expect(openStore(dir)).rejects.toMatchObject({
      code: 'STORE_LOCKED',
      message: expect.stringContaining('in use by another process'),
    })
    await t.put('k', 'v2')
    expect(t.get('k')).toBe('v2')
  })

  it('refuses a database it does not understand', async () => {
    await t.store.close()
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, {
      keyEncoding: 'view',
      valueEncoding: 'view',
    })
    await db.open()
    await db.put(new Uint8Array([0x6d, ...b('format')]), new Uint8Array([0, 0, 0, 9]))
    await db.close()
    await expect(openStore(dir)).rejects.toMatchObject({ code: 'CORRUPT' })
    const tmp = tempDbDir()
    const foreign = new ClassicLevel<Uint8Array, Uint8Array>(tmp.dir, {
      keyEncoding: 'view',
      valueEncoding: 'view',
    })
    await foreign.open()
    await foreign.put(b('hello'), b('world'))
    await foreign.close()
    await expect(openStore(tmp.dir)).rejects.toMatchObject({ code: 'CORRUPT' })
    tmp.cleanup()
    // Something for afterEach to close, in the same temp root (removed by cleanup).
    t.store = await openStore(`${dir}-fresh`)
  })

  it('an interrupted restore: a staged copy beside a live store is discarded', async () => {
    await t.put('a', 'live')
    await t.store.close()
    mkdirSync(`${dir}.restore`)
    writeFileSync(`${dir}.restore/junk`, 'half written')
    t.store = await openStore(dir)
    expect(existsSync(`${dir}.restore`)).toBe(false)
    expect(t.get('a')).toBe('live')
  })
})

describe('approximate size', () => {
  it('grows with the data written (what Status reports as the db size)', async () => {
    // A young store, all in LevelDB's write buffer, still takes room on disk (its log).
    await t.put('first', 'x'.repeat(2000))
    const before = await t.store.sizeOnDiskBytes()
    expect(before).toBeGreaterThan(2000)
    // Incompressible values: LevelDB compresses tables, and a run of one byte would vanish.
    const prng = createPrng(5)
    const value = Uint8Array.from({ length: 1024 }, () => prng.int(0, 256))
    let index = t.store.consistentIndex
    for (let batch = 0; batch < 80; batch++) {
      const items = Array.from({ length: 100 }, (_, i) => ({
        index: ++index,
        op: { type: 'put', put: { key: b(`size/${batch}/${i}`), value } } as WriteOp,
      }))
      await t.store.applyBatch(items)
    }
    // 8 MB written: past LevelDB's write buffer, so tables exist and are counted.
    const after = await t.store.sizeOnDiskBytes()
    expect(after).toBeGreaterThan(before)
    expect(after).toBeGreaterThan(1024 * 1024)
  })
})
