/**
 * The in-memory key index: for every key, the revisions at which it was written, grouped into
 * generations; all keys in a B+tree (sorted-btree) ordered by key bytes. It answers "which
 * revision holds key k as of revision R?" and "which keys of [a, b) exist at R?" without touching
 * the disk; the records themselves (values, versions, leases) live in classic-level under their
 * revision (layout.ts).
 *
 * Generations (etcd's keyIndex). A key's life is a sequence of generations. A generation starts
 * with the put that creates the key and holds every later put; a delete appends its tombstone
 * revision and ends the generation; the next put starts a new one. The last generation is the
 * live one, or empty when the key's latest write was a delete.
 *
 * Worked example, key "a":
 *
 *   put a      @2/0   generations: {created 2: 2/0}
 *   put a      @3/0                {created 2: 2/0 3/0}
 *   delete a   @4/0                {created 2: 2/0 3/0 4/0t} {}
 *   txn put a  @5/1                {created 2: 2/0 3/0 4/0t} {created 5: 5/1}
 *
 * Reading "a" at revision R: find the generation whose first revision is <= R and whose
 * tombstone (if it has one) is > R, and take its latest revision <= R.
 *   R = 1: no generation has started: a does not exist.
 *   R = 3: first generation (2 <= 3 < 4): 3/0, the record of the second put.
 *   R = 4: the first generation ended at 4 and the second starts at 5: a does not exist.
 *   R = 9: second generation: 5/1.
 *
 * Compacting at revision C keeps exactly what a read at any R >= C, or a watcher starting at C,
 * can still need:
 *   - every generation whose tombstone is below C goes, tombstone included (the key was deleted
 *     before C, nobody at R >= C can see those revisions);
 *   - a generation whose tombstone is exactly C keeps only its tombstone: reads at C do not see
 *     it, but a watcher may start at C (etcd refuses only start < C) and must get that delete.
 *     etcd drops it, so etcd's watchers starting at C miss deletions at C; ours do not. Every
 *     read answers the same either way, and the next compaction removes it;
 *   - in the first remaining generation, every revision before its latest revision <= C goes
 *     (that latest one is the value a read at C sees; the older ones are superseded);
 *   - a key left with nothing but an empty generation leaves the index.
 *   With the example: compact at 3 drops 2/0 and keeps {created 2: 3/0 4/0t} {created 5: 5/1};
 *   compact at 4 drops 2/0 and 3/0 and keeps {created 0: 4/0t} {created 5: 5/1} (a generation
 *   reduced to its tombstone keeps no created revision or version); compact at 5 drops the
 *   whole first generation (2/0, 3/0, 4/0t) and keeps {created 5: 5/1}.
 *   The revisions dropped here are exactly the records compaction deletes from classic-level.
 *
 * Representation, chosen for memory (one array per key, small integers inline): a key's history
 * is a flat number array
 *
 *   [lastGenerationOffset, g0.created, g0.version, g0.count, main, sub, main, sub, ..., g1...]
 *
 * where each generation is a 3-number header (created main revision, version of its latest put,
 * number of revisions) followed by its revisions as (main, sub) pairs, ascending. The first
 * number points at the last generation's header so that writes never walk the history. The
 * example after the txn put is
 *
 *   [10,  2, 2, 3,  2, 0,  3, 0,  4, 0,   5, 1, 1,  5, 1]
 *
 * Invariants (asserted on every write): revisions of a key strictly increase by main revision
 * (a key is written at most once per revision: etcd refuses a txn writing a key twice), every
 * generation but the last is non-empty and ends with its tombstone (after a compaction the first
 * one may be that tombstone alone), and the last generation has no tombstone.
 */
import BTreeImport from 'sorted-btree'
import { bulkLoad as bulkLoadImport } from 'sorted-btree/extended/bulkLoad.js'
import { CorruptionError } from './errors'
import { compareKeys, type KeyRange, type KeyString } from './keys'
import type { Revision } from './revision'

// sorted-btree is CommonJS with `exports.default`. Node's ESM loader hands us module.exports,
// bundlers hand us the default export; accept both.
const BTree: typeof BTreeImport =
  (BTreeImport as unknown as { default?: typeof BTreeImport }).default ?? BTreeImport
type Tree = BTreeImport<KeyString, History>

/** B+tree node size: large nodes keep the tree shallow and its per-key overhead low. */
const NODE_SIZE = 128

/** A key's history in the flat form described above. */
export type History = number[]

const HEADER = 3

/** Callback for each revision compaction removes; `tombstone` marks a deletion's revision. */
export type DropFn = (key: KeyString, main: number, sub: number, tombstone: boolean) => void

export interface PutOutcome {
  createRevision: number
  version: number
}

/** A broken invariant on the write path: a bug. */
function fail(message: string): never {
  throw new Error(`key index: ${message}`)
}

/** History read back from disk (records, checkpoint) that cannot be right. */
function corrupt(message: string): never {
  throw new CorruptionError(`key index: ${message}`)
}

function newHistory(createRevision: number, version: number, main: number, sub: number): History {
  return [1, createRevision, version, 1, main, sub]
}

function lastMain(h: History): number {
  return h.length > 1 + HEADER ? h[h.length - 2]! : 0
}

function historyPut(h: History, main: number, sub: number, key: KeyString): PutOutcome {
  const g = h[0]!
  const count = h[g + 2]!
  if (main <= lastMain(h)) fail(`put ${JSON.stringify(key)} at ${main} after ${lastMain(h)}`)
  if (count === 0) {
    h[g] = main
    h[g + 1] = 1
    h[g + 2] = 1
    h.push(main, sub)
    return { createRevision: main, version: 1 }
  }
  h[g + 1] = h[g + 1]! + 1
  h[g + 2] = count + 1
  h.push(main, sub)
  return { createRevision: h[g]!, version: h[g + 1]! }
}

function historyTombstone(h: History, main: number, sub: number, key: KeyString): void {
  const g = h[0]!
  if (h[g + 2] === 0) fail(`tombstone for ${JSON.stringify(key)}, which is already deleted`)
  if (main <= lastMain(h)) fail(`tombstone ${JSON.stringify(key)} at ${main} after ${lastMain(h)}`)
  h[g + 2] = h[g + 2]! + 1
  h.push(main, sub)
  h[0] = h.length
  h.push(0, 0, 0)
}

/**
 * Offset in `h` of the main revision of the latest revision <= atRev in the generation whose
 * header is at `g` (which holds `count` revisions, the first of them <= atRev).
 */
function latestAtOrBefore(h: History, g: number, count: number, atRev: number): number {
  let lo = 0
  let hi = count - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (h[g + HEADER + 2 * mid]! <= atRev) lo = mid
    else hi = mid - 1
  }
  return g + HEADER + 2 * lo
}

/** Offset of the main revision visible at atRev, or -1 when the key does not exist at atRev. */
function historyFind(h: History, atRev: number): number {
  const last = h[0]!
  const lastCount = h[last + 2]!
  // Most reads are at or near the current revision: try the live generation first.
  if (lastCount > 0 && h[last + HEADER]! <= atRev)
    return latestAtOrBefore(h, last, lastCount, atRev)
  for (let g = 1; g < last;) {
    const count = h[g + 2]!
    if (h[g + HEADER]! > atRev) return -1
    if (h[g + HEADER + 2 * (count - 1)]! > atRev) return latestAtOrBefore(h, g, count, atRev)
    g += HEADER + 2 * count
  }
  return -1
}

/**
 * The history left after compacting at `atRev` (see the module comment): `h` itself when nothing
 * goes, null when the whole key goes, a new array otherwise. Calls `onDrop` for every revision
 * that goes, oldest first.
 */
function historyCompact(
  h: History,
  atRev: number,
  key: KeyString,
  onDrop?: DropFn,
): History | null {
  const last = h[0]!
  let g = 1
  // Generations that ended (tombstone) before atRev go entirely. One that ended exactly at
  // atRev stays: below, its latest revision <= atRev is its tombstone, which alone is kept.
  while (g < last) {
    const count = h[g + 2]!
    const tombMain = h[g + HEADER + 2 * (count - 1)]!
    if (tombMain >= atRev) break
    if (onDrop) {
      for (let i = 0; i < count; i++) {
        const at = g + HEADER + 2 * i
        onDrop(key, h[at]!, h[at + 1]!, i === count - 1)
      }
    }
    g += HEADER + 2 * count
  }
  const count = h[g + 2]!
  if (g === last && count === 0) return null
  // In the first remaining generation, revisions before the latest one <= atRev go.
  let keepFrom = 0
  if (h[g + HEADER]! <= atRev) keepFrom = (latestAtOrBefore(h, g, count, atRev) - g - HEADER) / 2
  if (g === 1 && keepFrom === 0) return h
  if (onDrop) {
    for (let i = 0; i < keepFrom; i++) {
      const at = g + HEADER + 2 * i
      onDrop(key, h[at]!, h[at + 1]!, false)
    }
  }
  // A generation reduced to its tombstone has no created revision or version, like the
  // tombstone's record; a rebuild from the records then gives the same history.
  const tombOnly = g !== last && keepFrom === count - 1
  const out: History = [0, tombOnly ? 0 : h[g]!, tombOnly ? 0 : h[g + 1]!, count - keepFrom]
  for (let at = g + HEADER + 2 * keepFrom; at < h.length; at++) out.push(h[at]!)
  // The first remaining generation moves to offset 1; later ones move down by what went before.
  out[0] = g === last ? 1 : last - (g - 1) - 2 * keepFrom
  return out
}

/** Checks a history's structure; throws with the details when it is broken (tests, restore). */
export function checkHistory(h: History, key: KeyString): void {
  const why = historyFault(h)
  if (why !== null) corrupt(`history of ${JSON.stringify(key)} ${why}: [${h.join(',')}]`)
}

/** What is wrong with a history's structure, or null (no allocation when all is well). */
function historyFault(h: History): string | null {
  let g = 1
  let prev = 0
  for (;;) {
    if (g + HEADER > h.length) return `has a generation header past the end at ${g}`
    const count = h[g + 2]!
    const end = g + HEADER + 2 * count
    const isLast = end === h.length
    if (end > h.length) return `has a generation of ${count} revisions past the end`
    if (!isLast && count === 0) return `has an empty generation at ${g} that is not the last`
    if (isLast && h[0] !== g) return `points at ${h[0]} for its last generation, which is at ${g}`
    for (let i = 0; i < count; i++) {
      const main = h[g + HEADER + 2 * i]!
      if (main <= prev) return `has main revision ${main} after ${prev}`
      prev = main
    }
    if (isLast) return null
    g = end
  }
}

export class KeyIndex {
  private tree: Tree

  constructor(tree?: Tree) {
    this.tree = tree ?? new BTree<KeyString, History>(undefined, compareKeys, NODE_SIZE)
  }

  /**
   * Builds an index from histories (as rebuilt by a scan of the records), sorting the keys once
   * and loading the tree in bulk, which is several times faster than inserting one by one.
   */
  static fromHistories(histories: Map<KeyString, History>): KeyIndex {
    const keys = [...histories.keys()]
    // The default sort compares strings by UTF-16 code unit: for byte strings, byte order.
    keys.sort()
    return KeyIndex.fromSorted(
      keys,
      keys.map((k) => histories.get(k)!),
    )
  }

  /**
   * Builds an index from keys already in ascending order and their histories, checking each
   * history's structure first (what was read back from disk is not trusted blindly).
   */
  static fromSorted(keys: KeyString[], histories: History[]): KeyIndex {
    if (keys.length !== histories.length) {
      fail(`fromSorted: ${keys.length} keys but ${histories.length} histories`)
    }
    for (let i = 0; i < keys.length; i++) checkHistory(histories[i]!, keys[i]!)
    if (keys.length === 0) return new KeyIndex()
    return new KeyIndex(bulkLoadImport(keys, histories, NODE_SIZE, compareKeys) as Tree)
  }

  /** Number of keys in the index, including deleted keys not yet compacted away. */
  get size(): number {
    return this.tree.size
  }

  /** Records a put of `key` at {main, sub}; returns the new record's create revision and version. */
  put(key: KeyString, main: number, sub: number): PutOutcome {
    const h = this.tree.get(key)
    if (h === undefined) {
      this.tree.set(key, newHistory(main, 1, main, sub))
      return { createRevision: main, version: 1 }
    }
    return historyPut(h, main, sub, key)
  }

  /** Records the deletion of a live key at {main, sub}. */
  tombstone(key: KeyString, main: number, sub: number): void {
    const h = this.tree.get(key)
    if (h === undefined) fail(`tombstone for ${JSON.stringify(key)}, which is not in the index`)
    historyTombstone(h, main, sub, key)
  }

  /**
   * Replays one record found on disk during a rebuild, in revision order. `histories` collects
   * them; pass it to fromHistories() at the end. A put that opens a generation takes its created
   * revision and version from the record, because compaction may have removed the earlier ones.
   */
  static restore(
    histories: Map<KeyString, History>,
    key: KeyString,
    main: number,
    sub: number,
    tombstone: boolean,
    createRevision: number,
    version: number,
  ): void {
    const h = histories.get(key)
    if (tombstone) {
      if (h === undefined) {
        // The first record of a key can be a tombstone that compaction kept alone (it ended its
        // generation exactly at the compaction revision).
        histories.set(key, [6, 0, 0, 1, main, sub, 0, 0, 0])
        return
      }
      if (h[h[0]! + 2] === 0) {
        corrupt(`tombstone ${main}/${sub} of ${JSON.stringify(key)} without a live generation`)
      }
      historyTombstone(h, main, sub, key)
      return
    }
    if (h === undefined) {
      histories.set(key, newHistory(createRevision, version, main, sub))
      return
    }
    const g = h[0]!
    if (main <= lastMain(h)) corrupt(`record ${main}/${sub} of ${JSON.stringify(key)} out of order`)
    if (h[g + 2] === 0) {
      h[g] = createRevision
      h[g + 1] = version
      h[g + 2] = 1
    } else {
      h[g + 1] = version
      h[g + 2] = h[g + 2]! + 1
    }
    h.push(main, sub)
  }

  /** The revision of `key` visible at atRev, or undefined if the key does not exist then. */
  get(key: KeyString, atRev: number): Revision | undefined {
    const h = this.tree.get(key)
    if (h === undefined) return undefined
    const at = historyFind(h, atRev)
    return at < 0 ? undefined : { main: h[at]!, sub: h[at + 1]! }
  }

  /** Create revision and version of the live generation of `key`, or undefined if deleted. */
  live(key: KeyString): PutOutcome | undefined {
    const h = this.tree.get(key)
    if (h === undefined) return undefined
    const g = h[0]!
    return h[g + 2] === 0 ? undefined : { createRevision: h[g]!, version: h[g + 1]! }
  }

  /**
   * Calls `visit` for every key of `range` that exists at atRev, in key order, with the revision
   * visible at atRev. `visit` returns false to stop early.
   */
  visit(
    range: KeyRange,
    atRev: number,
    visit: (key: KeyString, main: number, sub: number) => boolean | void,
  ): void {
    if (range.single) {
      const h = this.tree.get(range.start)
      if (h === undefined) return
      const at = historyFind(h, atRev)
      if (at >= 0) visit(range.start, h[at]!, h[at + 1]!)
      return
    }
    const { end } = range
    if (end !== undefined && end <= range.start) return
    const pair: (KeyString | History)[] = []
    for (const [key, h] of this.tree.entries(range.start, pair) as Iterable<[KeyString, History]>) {
      if (end !== undefined && key >= end) return
      const at = historyFind(h, atRev)
      if (at >= 0 && visit(key, h[at]!, h[at + 1]!) === false) return
    }
  }

  /** Number of keys of `range` that exist at atRev. */
  count(range: KeyRange, atRev: number): number {
    let n = 0
    this.visit(range, atRev, () => {
      n++
    })
    return n
  }

  /**
   * Compacts every key at atRev (see the module comment), calling `onDrop` for each revision
   * removed. With `dryRun` the index is left as it is and only the callbacks happen: the store
   * uses that to learn which records to delete in the same disk batch, and compacts the index
   * itself once that batch is durable. Returns the number of revisions removed.
   */
  compact(atRev: number, onDrop?: DropFn, dryRun = false): number {
    let dropped = 0
    const count: DropFn = (key, main, sub, tombstone) => {
      dropped++
      onDrop?.(key, main, sub, tombstone)
    }
    if (dryRun) {
      this.tree.forEach((h, key) => {
        historyCompact(h, atRev, key, count)
      })
      return dropped
    }
    this.tree.editAll((key, h) => {
      const next = historyCompact(h, atRev, key, count)
      if (next === null) return { delete: true }
      if (next !== h) return { value: next }
      return undefined
    })
    return dropped
  }

  /** The raw history of a key (tests and invariant checks). */
  history(key: KeyString): History | undefined {
    return this.tree.get(key)
  }

  /** Every key with its history, in key order (tests and invariant checks). */
  *entries(): IterableIterator<[KeyString, History]> {
    yield* this.tree.entries() as IterableIterator<[KeyString, History]>
  }
}
