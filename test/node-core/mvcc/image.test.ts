// Snapshot images: a round trip gives the same observable state; the image is a consistent cut
// while applying goes on; corrupt images are refused and leave the store as it was; restore
// replaces the data and moves watchers onto the new history.
import { existsSync, renameSync } from 'node:fs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { decodeImage } from '../../../node-core/mvcc/image'
import { openStore } from '../../../node-core/mvcc/store'
import { createPrng } from '../../../node-core/raft/prng'
import { b, kv, str, tempDbDir, TestStore } from './helpers'

const ALL = { key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) }
const stores: Array<{ t: TestStore; cleanup: () => void }> = []

async function fresh(): Promise<TestStore> {
  const tmp = tempDbDir()
  const t = await TestStore.open(tmp.dir)
  stores.push({ t, cleanup: tmp.cleanup })
  return t
}

afterEach(async () => {
  for (const { t, cleanup } of stores.splice(0)) {
    await t.store.close()
    cleanup()
  }
})

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const chunk of stream) parts.push(chunk)
  return new Uint8Array(Buffer.concat(parts))
}

/** Re-chunks bytes into random pieces (1 byte to 3 KiB). */
async function* chunked(bytes: Uint8Array, seed: number): AsyncGenerator<Uint8Array> {
  const prng = createPrng(seed)
  for (let at = 0; at < bytes.length;) {
    const n = Math.min(bytes.length - at, prng.chance(0.2) ? 1 : prng.int(1, 3072))
    yield bytes.subarray(at, at + n)
    at += n
  }
}

function state(t: TestStore) {
  const st = t.store
  const byRev: unknown[] = []
  for (let rev = Math.max(1, st.compactedRevision); rev <= st.revision; rev++) {
    byRev.push(st.range({ ...ALL, revision: rev }).kvs.map(kv))
  }
  const leases = st.lessor.list().map((id) => st.lessor.timeToLive(id, 0, true))
  return { revision: st.revision, compacted: st.compactedRevision, byRev, leases }
}

let source: TestStore
let seed: number

beforeEach(async () => {
  seed = Number(process.env['SEED'] ?? Date.now() % 100_000)
  console.log(`image history: SEED=${seed}`)
  const prng = createPrng(seed)
  source = await fresh()
  await source.apply({ type: 'leaseGrant', leaseGrant: { id: 1n, ttlSeconds: 30 } })
  for (let i = 0; i < 80; i++) {
    const key = `k${prng.int(0, 12)}`
    if (prng.chance(0.2)) await source.del(key)
    else
      await source.put(
        key,
        'v'.repeat(prng.int(0, 2000)) + i,
        prng.chance(0.2) ? { lease: 1n } : {},
      )
    if (i === 50) await source.apply({ type: 'compaction', compaction: { revision: 30 } })
  }
})

describe('snapshot image', () => {
  it('round trip: the restored store is the same, at the given consistent index', async () => {
    const image = await collect(source.store.snapshotImage())
    const target = await fresh()
    await target.put('stale', 'gone after restore')
    await target.restore(chunked(image, seed), 500)
    expect(target.store.consistentIndex).toBe(500)
    expect(state(target), `seed ${seed}`).toEqual(state(source))
    expect(target.get('stale')).toBeUndefined()
    // The restored state is durable, and the store carries on.
    await target.reopen()
    expect(target.store.consistentIndex).toBe(500)
    expect(state(target)).toEqual(state(source))
    expect(
      await target.store.applyBatch([
        { index: 501, op: { type: 'put', put: { key: b('new'), value: b('1') } } },
      ]),
    ).toEqual([{ put: { revision: source.store.revision + 1 } }])
  })

  it('documents itself: header, entries in order, count and CRC', async () => {
    const image = await collect(source.store.snapshotImage())
    let entries = 0
    const result = await decodeImage(
      chunked(image, 1),
      (h) => {
        expect(h).toEqual({
          consistentIndex: source.store.consistentIndex,
          revision: source.store.revision,
          compactedRevision: 30,
        })
      },
      () => {
        entries++
      },
    )
    expect(result.entries).toBe(entries)
    expect(entries).toBeGreaterThan(1)
  })

  it('is the state when it was asked for, while applying goes on', async () => {
    const expected = state(source)
    const stream = source.store.snapshotImage()
    const more = source.applyAll(
      Array.from({ length: 20 }, (_, i) => ({
        type: 'put',
        put: { key: b(`later${i}`), value: b('x') },
      })),
    )
    const image = await collect(stream)
    await more
    const target = await fresh()
    await target.store.restoreFromImage(chunked(image, 2), 9)
    expect(state(target)).toEqual(expected)
  })

  it('a corrupt or truncated image is refused and the store keeps its data', async () => {
    const image = await collect(source.store.snapshotImage())
    const target = await fresh()
    await target.put('mine', '1')
    const flipped = image.slice()
    flipped[Math.floor(image.length / 2)]! ^= 0x40
    for (const [name, bad] of [
      ['flipped byte', flipped],
      ['truncated', image.subarray(0, image.length - 5)],
      ['bad magic', Uint8Array.from([0x58, ...image.subarray(1)])],
      ['trailing bytes', Uint8Array.from([...image, 0])],
    ] as const) {
      await expect(target.store.restoreFromImage(chunked(bad, 3), 10), name).rejects.toMatchObject({
        code: 'CORRUPT',
      })
      expect(target.get('mine'), name).toBe('1')
      expect(existsSync(`${target.dir}.restore`), name).toBe(false)
    }
  })

  it('a flipped byte anywhere in the image is refused as corruption, never another error', async () => {
    // Entries reach the store before the trailer's CRC is known, so a flipped byte inside a
    // record must surface as CORRUPT from the record decoder too (not a RangeError).
    const image = await collect(source.store.snapshotImage())
    const target = await fresh()
    await target.put('mine', '1')
    const stride = Math.max(1, Math.floor(image.length / 150))
    const positions = new Set<number>()
    for (let at = 0; at < image.length; at += stride) positions.add(at)
    // Every byte of the first entries and of the trailer, where the fixed-width fields are.
    for (let at = 40; at < Math.min(image.length, 400); at++) positions.add(at)
    for (let at = image.length - 16; at < image.length; at++) positions.add(at)
    for (const at of positions) {
      const bad = image.slice()
      bad[at]! ^= 1 << (at % 8)
      await expect(
        target.store.restoreFromImage(chunked(bad, at), 10),
        `byte ${at} of ${image.length}, seed ${seed}`,
      ).rejects.toMatchObject({ code: 'CORRUPT' })
    }
    expect(target.get('mine')).toBe('1')
  })

  it('watchers move onto the restored history', async () => {
    // A follower and a leader at the same state; the leader moves on and compacts.
    const prefix = await collect(source.store.snapshotImage())
    const leader = await fresh()
    const follower = await fresh()
    await leader.restore(chunked(prefix, 4), 1)
    await follower.restore(chunked(prefix, 5), 1)
    const r0 = follower.store.revision
    const behind = follower.store.watch({ key: b('k'), rangeEnd: b('l') }) // from r0 + 1
    const ahead = follower.store.watch({ key: b('k'), rangeEnd: b('l'), startRevision: r0 + 3 })
    for (let i = 0; i < 5; i++) await leader.put(`k${i}`, `ahead${i}`)
    await leader.apply({ type: 'compaction', compaction: { revision: r0 + 3 } })
    await follower.restore(chunked(await collect(leader.store.snapshotImage()), 6), 2)
    // `behind` needs revisions below the new compacted revision: gone.
    await expect(behind.next()).rejects.toMatchObject({
      code: 'COMPACTED',
      compactedRevision: r0 + 3,
    })
    // `ahead` catches up from the new history, then goes on live.
    const seen: string[] = []
    while (seen.length < 3) {
      const r = await ahead.next()
      if (r.done) throw new Error('ended')
      seen.push(
        ...r.value.events.map((e) => `${str(e.kv.key)}=${str(e.kv.value)}@${e.kv.modRevision}`),
      )
    }
    expect(seen).toEqual([`k2=ahead2@${r0 + 3}`, `k3=ahead3@${r0 + 4}`, `k4=ahead4@${r0 + 5}`])
    await follower.put('k9', 'live')
    const live = await ahead.next()
    expect(live.done ? [] : live.value.events.map((e) => str(e.kv.key))).toEqual(['k9'])
  })

  it('openStore finishes a restore interrupted between its two renames', async () => {
    const image = await collect(source.store.snapshotImage())
    const target = await fresh()
    await target.store.restoreFromImage(chunked(image, 7), 77)
    await target.store.close()
    // As if the process died after moving the live store aside, before moving the staged one in.
    renameSync(target.dir, `${target.dir}.restore`)
    target.store = await openStore(target.dir)
    expect(target.store.consistentIndex).toBe(77)
    expect(state(target)).toEqual(state(source))
  })
})
