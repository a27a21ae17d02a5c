// The key index: generations, reads at a revision, compaction, rebuild from records. The first
// tests replay the worked example of key-index.ts's comment literally.
import { describe, expect, it } from 'vitest'
import { checkHistory, KeyIndex, type History } from '../../../node-core/mvcc/key-index'
import { keyRange, keyString } from '../../../node-core/mvcc/keys'
import { createPrng } from '../../../node-core/raft/prng'

const k = (s: string) => keyString(new TextEncoder().encode(s))

function example(): KeyIndex {
  const index = new KeyIndex()
  index.put(k('a'), 2, 0)
  index.put(k('a'), 3, 0)
  index.tombstone(k('a'), 4, 0)
  index.put(k('a'), 5, 1)
  return index
}

describe('key index: the worked example', () => {
  it('lays out generations as documented', () => {
    expect(example().history(k('a'))).toEqual([10, 2, 2, 3, 2, 0, 3, 0, 4, 0, 5, 1, 1, 5, 1])
  })

  it.each([
    [1, undefined],
    [2, { main: 2, sub: 0 }],
    [3, { main: 3, sub: 0 }],
    [4, undefined],
    [5, { main: 5, sub: 1 }],
    [9, { main: 5, sub: 1 }],
  ])('reads a at revision %i', (rev, expected) => {
    expect(example().get(k('a'), rev)).toEqual(expected)
  })

  it('reports create revision and version of each put', () => {
    const index = new KeyIndex()
    expect(index.put(k('a'), 2, 0)).toEqual({ createRevision: 2, version: 1 })
    expect(index.put(k('a'), 3, 0)).toEqual({ createRevision: 2, version: 2 })
    index.tombstone(k('a'), 4, 0)
    expect(index.live(k('a'))).toBeUndefined()
    expect(index.put(k('a'), 5, 1)).toEqual({ createRevision: 5, version: 1 })
    expect(index.live(k('a'))).toEqual({ createRevision: 5, version: 1 })
  })

  it('compacts at 3: drops 2/0, keeps the rest', () => {
    const index = example()
    const dropped: string[] = []
    expect(index.compact(3, (_, m, s, t) => dropped.push(`${m}/${s}${t ? 't' : ''}`))).toBe(1)
    expect(dropped).toEqual(['2/0'])
    const h = index.history(k('a'))!
    expect(h).toEqual([8, 2, 2, 2, 3, 0, 4, 0, 5, 1, 1, 5, 1])
    checkHistory(h, k('a'))
    expect(index.get(k('a'), 3)).toEqual({ main: 3, sub: 0 })
    expect(index.get(k('a'), 4)).toBeUndefined()
  })

  it('compacts at 4: keeps only the tombstone of the generation that ended at 4', () => {
    const index = example()
    const dropped: string[] = []
    index.compact(4, (_, m, s, t) => dropped.push(`${m}/${s}${t ? 't' : ''}`))
    expect(dropped).toEqual(['2/0', '3/0'])
    const h = index.history(k('a'))!
    expect(h).toEqual([6, 0, 0, 1, 4, 0, 5, 1, 1, 5, 1])
    checkHistory(h, k('a'))
    expect(index.get(k('a'), 4)).toBeUndefined()
    expect(index.get(k('a'), 5)).toEqual({ main: 5, sub: 1 })
  })

  it('compacts at 5: drops the whole first generation with its tombstone', () => {
    const index = example()
    const dropped: string[] = []
    index.compact(5, (_, m, s, t) => dropped.push(`${m}/${s}${t ? 't' : ''}`))
    expect(dropped).toEqual(['2/0', '3/0', '4/0t'])
    expect(index.history(k('a'))).toEqual([1, 5, 1, 1, 5, 1])
  })

  it('forgets a key deleted before the compaction revision; keeps a deletion at it', () => {
    const index = new KeyIndex()
    index.put(k('a'), 1, 0)
    index.tombstone(k('a'), 2, 0)
    index.put(k('b'), 3, 0)
    expect(index.compact(2)).toBe(1)
    expect(index.history(k('a'))).toEqual([6, 0, 0, 1, 2, 0, 0, 0, 0])
    expect(index.compact(3)).toBe(1)
    expect(index.history(k('a'))).toBeUndefined()
    expect(index.size).toBe(1)
  })

  it('a rebuild accepts a key whose first record is a kept tombstone', () => {
    const histories = new Map<string, History>()
    KeyIndex.restore(histories, k('a'), 4, 0, true, 0, 0)
    KeyIndex.restore(histories, k('a'), 5, 1, false, 5, 1)
    const h = histories.get(k('a'))!
    checkHistory(h, k('a'))
    expect(h).toEqual([6, 0, 0, 1, 4, 0, 5, 1, 1, 5, 1])
    const index = KeyIndex.fromHistories(histories)
    expect(index.get(k('a'), 4)).toBeUndefined()
    expect(index.get(k('a'), 5)).toEqual({ main: 5, sub: 1 })
  })

  it('keeps the latest revision at or below the compaction revision of a live key', () => {
    const index = new KeyIndex()
    for (let rev = 1; rev <= 5; rev++) index.put(k('a'), rev, 0)
    expect(index.compact(3)).toBe(2)
    expect(index.history(k('a'))).toEqual([1, 1, 5, 3, 3, 0, 4, 0, 5, 0])
    expect(index.get(k('a'), 3)).toEqual({ main: 3, sub: 0 })
  })

  it('a dry run only reports', () => {
    const index = example()
    const before = JSON.stringify(index.history(k('a')))
    expect(index.compact(5, undefined, true)).toBe(3)
    expect(JSON.stringify(index.history(k('a')))).toBe(before)
  })
})

describe('key index: invariants', () => {
  it('refuses a write at or below the key last revision, and a tombstone of a deleted key', () => {
    const index = new KeyIndex()
    index.put(k('a'), 5, 0)
    expect(() => index.put(k('a'), 5, 1)).toThrow(/put "a" at 5 after 5/)
    expect(() => index.tombstone(k('b'), 6, 0)).toThrow(/not in the index/)
    index.tombstone(k('a'), 6, 0)
    expect(() => index.tombstone(k('a'), 7, 0)).toThrow(/already deleted/)
  })

  it('checkHistory catches broken histories', () => {
    expect(() => checkHistory([1, 2, 1, 1, 2, 0, 1, 0], 'x')).toThrow(/past the end|main revision/)
    expect(() => checkHistory([4, 2, 1, 1, 2, 0], 'x')).toThrow(/points at 4/)
    expect(() => checkHistory([1, 3, 1, 2, 3, 0, 2, 0], 'x')).toThrow(/main revision 2 after 3/)
  })
})

describe('key index: ranges', () => {
  const index = new KeyIndex()
  index.put(k('a'), 1, 0)
  index.put(k('b'), 2, 0)
  index.put(k('c'), 3, 0)
  index.tombstone(k('b'), 4, 0)
  index.put(k('d'), 5, 0)

  const keys = (start: string, end: string | undefined | null, rev: number) => {
    const out: string[] = []
    const rangeEnd =
      end === null
        ? new Uint8Array([0])
        : end === undefined
          ? undefined
          : new TextEncoder().encode(end)
    index.visit(keyRange(new TextEncoder().encode(start), rangeEnd), rev, (key) => {
      out.push(key)
    })
    return out
  }

  it.each([
    ['a', 'c', 5, ['a']],
    ['a', 'c', 3, ['a', 'b']],
    ['a', null, 5, ['a', 'c', 'd']],
    ['b', undefined, 3, ['b']],
    ['b', undefined, 4, []],
    ['c', 'a', 5, []],
    ['\u0000', null, 2, ['a', 'b']],
  ] as const)('visits [%s, %s) at %i', (start, end, rev, expected) => {
    expect(keys(start, end, rev)).toEqual(expected)
  })

  it('counts like it visits, and stops when asked', () => {
    expect(index.count(keyRange(new TextEncoder().encode('a'), new Uint8Array([0])), 5)).toBe(3)
    const seen: string[] = []
    index.visit(keyRange(new TextEncoder().encode('a'), new Uint8Array([0])), 5, (key) => {
      seen.push(key)
      return seen.length < 2
    })
    expect(seen).toEqual(['a', 'c'])
  })
})

describe('key index: rebuild', () => {
  it('restoring the records of a random history (after compaction) gives the same index', () => {
    const seed = Number(process.env['SEED'] ?? Date.now() % 100_000)
    console.log(`key index rebuild: SEED=${seed}`)
    const prng = createPrng(seed)
    const live = new KeyIndex()
    const records: Array<{
      key: string
      main: number
      sub: number
      tomb: boolean
      create: number
      version: number
    }> = []
    const names = ['a', 'b', 'c', 'd', 'e', 'f']
    let rev = 0
    for (let step = 0; step < 400; step++) {
      rev++
      let sub = 0
      for (const name of names) {
        if (!prng.chance(0.3)) continue
        const key = k(name)
        if (live.live(key) !== undefined && prng.chance(0.3)) {
          live.tombstone(key, rev, sub)
          records.push({ key, main: rev, sub: sub++, tomb: true, create: 0, version: 0 })
        } else {
          const { createRevision, version } = live.put(key, rev, sub)
          records.push({ key, main: rev, sub: sub++, tomb: false, create: createRevision, version })
        }
      }
      if (step % 97 === 96) {
        const kept = new Set(records.map((r) => `${r.main}/${r.sub}`))
        live.compact(rev - prng.int(0, 20), (_key, main, sub) => kept.delete(`${main}/${sub}`))
        records.splice(0, records.length, ...records.filter((r) => kept.has(`${r.main}/${r.sub}`)))
      }
    }
    const histories = new Map<string, History>()
    for (const r of records)
      KeyIndex.restore(histories, r.key, r.main, r.sub, r.tomb, r.create, r.version)
    const rebuilt = KeyIndex.fromHistories(histories)
    expect([...rebuilt.entries()], `seed ${seed}`).toEqual([...live.entries()])
    for (const [key, h] of rebuilt.entries()) checkHistory(h, key)
  })
})
