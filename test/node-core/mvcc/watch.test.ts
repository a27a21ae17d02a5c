// Watches: live events, catch-up from history then live, compaction, slow watchers, filters,
// prevKv, cancel, progress, limits.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  CompactedError,
  StoreClosedError,
  WatchFellBehindError,
} from '../../../node-core/mvcc/errors'
import type { StoreOptions } from '../../../node-core/mvcc/store'
import type { Event } from '../../../node-core/mvcc/types'
import type { Watcher, WatchResponse } from '../../../node-core/mvcc/watch'
import { b, str, tempDbDir, TestStore } from './helpers'

let t: TestStore
let cleanup: () => void

async function open(opts?: StoreOptions) {
  const tmp = tempDbDir()
  cleanup = tmp.cleanup
  t = await TestStore.open(tmp.dir, opts)
}

beforeEach(() => open())

afterEach(async () => {
  await t.store.close()
  cleanup()
})

/** An event in readable form: "put a=1 @3" / "delete a @4", with " (prev a=1)" when present. */
function show(ev: Event): string {
  const prev = ev.prevKv ? ` (prev ${str(ev.prevKv.key)}=${str(ev.prevKv.value)})` : ''
  const value = ev.type === 'put' ? `=${str(ev.kv.value)}` : ''
  return `${ev.type} ${str(ev.kv.key)}${value} @${ev.kv.modRevision}${prev}`
}

/** The next response, failing the test if none comes within a second. */
async function next(w: Watcher): Promise<WatchResponse> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`watcher ${w.id}: no response within 1 s`)), 1000)
  })
  try {
    const r = await Promise.race([w.next(), timeout])
    if (r.done) throw new Error(`watcher ${w.id} ended`)
    return r.value
  } finally {
    clearTimeout(timer)
  }
}

/** Collects events until `n` have arrived. */
async function events(w: Watcher, n: number): Promise<string[]> {
  const out: string[] = []
  while (out.length < n) out.push(...(await next(w)).events.map(show))
  return out
}

describe('watch: live', () => {
  it('delivers puts and deletes of the key from the next revision', async () => {
    await t.put('a', 'before')
    const w = t.store.watch({ key: b('a') })
    await t.put('b', 'other')
    await t.put('a', '1')
    await t.del('a')
    expect(await events(w, 2)).toEqual(['put a=1 @4', 'delete a @5'])
  })

  it('a range watcher sees exactly the keys of its range', async () => {
    const w = t.store.watch({ key: b('a'), rangeEnd: b('c') })
    for (const key of ['a', 'c', 'b', 'ab', 'cc']) await t.put(key, 'x')
    expect(await events(w, 3)).toEqual(['put a=x @2', 'put b=x @4', 'put ab=x @5'])
  })

  it('events of one txn come in one response, in sub-revision order', async () => {
    const w = t.store.watch({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) })
    await t.put('z', 'old')
    const put = (key: string) => ({ requestPut: { key: b(key), value: b('t') } })
    await t.apply({
      type: 'txn',
      txn: {
        compare: [],
        success: [put('y'), { requestDeleteRange: { key: b('z') } }, put('x')],
        failure: [],
      },
    })
    expect((await next(w)).events.map(show)).toEqual(['put z=old @2'])
    const r = await next(w)
    expect(r.revision).toBe(3)
    expect(r.events.map(show)).toEqual(['put y=t @3', 'delete z @3', 'put x=t @3'])
  })

  it('an event arrives only once its batch is durable and readable', async () => {
    const w = t.store.watch({ key: b('a') })
    const pending = t.put('a', '1')
    const r = await next(w)
    expect(r.events.map(show)).toEqual(['put a=1 @2'])
    expect(t.store.revision).toBe(2)
    expect(t.get('a')).toBe('1')
    await pending
  })

  it('a start revision in the future waits for it', async () => {
    const w = t.store.watch({ key: b('a'), startRevision: 4 })
    for (let i = 1; i <= 4; i++) await t.put('a', String(i))
    expect(await events(w, 2)).toEqual(['put a=3 @4', 'put a=4 @5'])
  })
})

describe('watch: history', () => {
  it('catches up from an old revision, then goes live without gap or duplicate', async () => {
    for (let i = 1; i <= 5; i++) await t.put(i % 2 ? 'a' : 'b', String(i))
    const w = t.store.watch({ key: b('a'), rangeEnd: b('c'), startRevision: 3 })
    await t.put('a', '6')
    await t.del('b')
    expect(await events(w, 6)).toEqual([
      'put b=2 @3',
      'put a=3 @4',
      'put b=4 @5',
      'put a=5 @6',
      'put a=6 @7',
      'delete b @8',
    ])
  })

  it('catches up through a long history in chunks, pausing while its buffer is full', async () => {
    await t.store.close()
    cleanup()
    await open({ watch: { bufferEventsMax: 4 } })
    for (let i = 1; i <= 40; i++) await t.put('k', String(i))
    const w = t.store.watch({ key: b('k'), startRevision: 1 })
    // Let the catch-up run ahead as far as it may before anything is consumed.
    await new Promise((r) => setTimeout(r, 50))
    expect(w.buffered.events).toBeLessThanOrEqual(4)
    const seen = await events(w, 40)
    expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => `put k=${i + 1} @${i + 2}`))
    await t.put('k', 'live')
    expect(await events(w, 1)).toEqual(['put k=live @42'])
    expect(w.reason).toBeNull()
  })

  it('a start revision below the compacted revision ends the watcher with CompactedError', async () => {
    for (let i = 1; i <= 6; i++) await t.put('a', String(i))
    await t.apply({ type: 'compaction', compaction: { revision: 6 } })
    const w = t.store.watch({ key: b('a'), startRevision: 4 })
    const err = await w.next().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CompactedError)
    expect(err).toMatchObject({ code: 'COMPACTED', compactedRevision: 6 })
    expect(await w.next()).toEqual({ done: true, value: undefined })
    // At the compacted revision itself it works (etcd refuses only start < compacted).
    const ok = t.store.watch({ key: b('a'), startRevision: 6 })
    expect(await events(ok, 2)).toEqual(['put a=5 @6', 'put a=6 @7'])
  })

  it('prevKv, live and from history', async () => {
    await t.put('a', '1')
    await t.put('a', '2')
    const old = t.store.watch({ key: b('a'), startRevision: 1, prevKv: true })
    const live = t.store.watch({ key: b('a'), prevKv: true })
    await t.del('a')
    await t.put('a', '3')
    const expected = ['put a=1 @2', 'put a=2 @3 (prev a=1)', 'delete a @4 (prev a=2)', 'put a=3 @5']
    expect(await events(old, 4)).toEqual(expected)
    expect(await events(live, 2)).toEqual(expected.slice(2))
  })

  it('filters leave out puts or deletes, live and from history', async () => {
    await t.put('a', '1')
    await t.del('a')
    const noPut = t.store.watch({ key: b('a'), startRevision: 1, noPut: true })
    const noDelete = t.store.watch({ key: b('a'), startRevision: 1, noDelete: true })
    await t.put('a', '2')
    await t.del('a')
    expect(await events(noPut, 2)).toEqual(['delete a @3', 'delete a @5'])
    expect(await events(noDelete, 2)).toEqual(['put a=1 @2', 'put a=2 @4'])
  })
})

describe('watch: slow consumers, cancel, progress, limits', () => {
  it('a live watcher whose buffer would overflow is told from where to re-watch', async () => {
    await t.store.close()
    cleanup()
    await open({ watch: { bufferEventsMax: 3 } })
    const w = t.store.watch({ key: b('k') })
    for (let i = 1; i <= 6; i++) await t.put('k', String(i))
    expect(t.store.watchers).toBe(0) // ended: no longer counted
    // What was buffered is delivered, then the reason; nothing is dropped silently.
    expect(await events(w, 3)).toEqual(['put k=1 @2', 'put k=2 @3', 'put k=3 @4'])
    const err = await w.next().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(WatchFellBehindError)
    expect(err).toMatchObject({ code: 'WATCH_FELL_BEHIND', nextRevision: 5 })
    // Re-watching from there gives the rest.
    const again = t.store.watch({ key: b('k'), startRevision: 5 })
    expect(await events(again, 3)).toEqual(['put k=4 @5', 'put k=5 @6', 'put k=6 @7'])
  })

  it("slowWatchers: 'resync' keeps the watcher's place and catches up from history", async () => {
    await t.store.close()
    cleanup()
    await open({ watch: { bufferEventsMax: 3, slowWatchers: 'resync' } })
    const w = t.store.watch({ key: b('k') })
    for (let i = 1; i <= 8; i++) await t.put('k', String(i))
    expect(t.store.watchers).toBe(1)
    const expected = Array.from({ length: 8 }, (_, i) => `put k=${i + 1} @${i + 2}`)
    expect(await events(w, 8)).toEqual(expected)
    await t.put('k', 'live')
    expect(await events(w, 1)).toEqual(['put k=live @10'])
    expect(w.reason).toBeNull()
  })

  it("slowWatchers: 'resync' fails with CompactedError if compaction overtakes it", async () => {
    await t.store.close()
    cleanup()
    await open({ watch: { bufferEventsMax: 2, slowWatchers: 'resync' } })
    const w = t.store.watch({ key: b('k') })
    for (let i = 1; i <= 6; i++) await t.put('k', String(i))
    await t.apply({ type: 'compaction', compaction: { revision: 6 } })
    // The two buffered responses, then the history it needed is gone.
    expect(await events(w, 2)).toEqual(['put k=1 @2', 'put k=2 @3'])
    await expect(w.next()).rejects.toMatchObject({ code: 'COMPACTED', compactedRevision: 6 })
  })

  it('the byte limit counts too', async () => {
    await t.store.close()
    cleanup()
    await open({ watch: { bufferBytesMax: 1000 } })
    const w = t.store.watch({ key: b('k') })
    await t.put('k', 'x'.repeat(600))
    await t.put('k', 'y'.repeat(600))
    expect((await next(w)).events).toHaveLength(1)
    await expect(w.next()).rejects.toMatchObject({ code: 'WATCH_FELL_BEHIND', nextRevision: 3 })
  })

  it('cancel ends the watcher quietly and frees its slot', async () => {
    await t.store.close()
    cleanup()
    await open({ watch: { watchersMax: 2 } })
    const w1 = t.store.watch({ key: b('a') })
    t.store.watch({ key: b('b') })
    expect(() => t.store.watch({ key: b('c') })).toThrow(
      expect.objectContaining({ code: 'WATCHERS_LIMIT' }),
    )
    const pending = w1.next()
    w1.cancel()
    expect(await pending).toEqual({ done: true, value: undefined })
    await t.put('a', '1')
    expect(await w1.next()).toEqual({ done: true, value: undefined })
    const w3 = t.store.watch({ key: b('c') })
    await t.put('c', '1')
    expect(await events(w3, 1)).toEqual(['put c=1 @3'])
  })

  it('break out of for-await cancels', async () => {
    const w = t.store.watch({ key: b('a') })
    const loop = (async () => {
      for await (const r of w) if (r.events.length > 0) break
    })()
    await t.put('a', '1')
    await loop
    expect(t.store.watchers).toBe(0)
  })

  it('progress: a synced watcher gets the current revision, a catching-up one nothing', async () => {
    await t.put('a', '1')
    await t.put('x', '1')
    const w = t.store.watch({ key: b('a') })
    expect(w.progressRevision()).toBe(3)
    expect(w.requestProgress()).toBe(true)
    expect(await next(w)).toEqual({ events: [], revision: 3 })
    const behind = t.store.watch({ key: b('a'), startRevision: 1 })
    expect(behind.requestProgress()).toBe(false)
    expect(behind.progressRevision()).toBeUndefined()
    expect(await events(behind, 1)).toEqual(['put a=1 @2'])
    t.store.notifyProgress()
    expect(await next(behind)).toEqual({ events: [], revision: 3 })
  })

  it('closing the store ends every watcher with StoreClosedError', async () => {
    const w = t.store.watch({ key: b('a') })
    const outcome = w.next().catch((e: unknown) => e)
    await t.store.close()
    expect(await outcome).toBeInstanceOf(StoreClosedError)
    expect(() => t.store.watch({ key: b('a') })).toThrow(StoreClosedError)
    await t.reopen()
  })
})
