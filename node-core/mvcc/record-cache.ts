/**
 * A cache of records by revision, bounded in bytes, keeping the recently used ones.
 *
 * A record is immutable once written: the record at {main, sub} never changes, it can only be
 * deleted by compaction, and after that no read asks for it (the key index no longer points at
 * it). So the cache needs no invalidation: whatever it holds is correct for as long as anybody
 * can ask for it. It spares point reads of hot and recent keys a LevelDB lookup.
 *
 * Eviction is by generations, an approximation of LRU that costs O(1) per operation and nothing
 * per entry: new and re-used records go into the young generation; when the young generation
 * holds half the budget, the old generation is dropped whole and the young one becomes old. A
 * record read from the old generation moves back to the young one. So what was used within the
 * last half budget's worth of traffic is always kept, and the total stays within the budget.
 *
 * Keys: the main revision alone for sub 0 (most records), "main/sub" otherwise.
 */

type CacheKey = number | string

function cacheKey(main: number, sub: number): CacheKey {
  return sub === 0 ? main : `${main}/${sub}`
}

/** Per-entry allowance on top of the record bytes (map entry, key, typed array header). */
const ENTRY_OVERHEAD_BYTES = 96

export class RecordCache {
  private young = new Map<CacheKey, Uint8Array>()
  private old = new Map<CacheKey, Uint8Array>()
  private youngBytes = 0
  private oldBytes = 0

  constructor(readonly bytesMax: number) {
    if (!(bytesMax >= 0)) throw new RangeError(`record cache: bytesMax ${bytesMax} must be >= 0`)
  }

  get size(): number {
    return this.young.size + this.old.size
  }

  get sizeBytes(): number {
    return this.youngBytes + this.oldBytes
  }

  get(main: number, sub: number): Uint8Array | undefined {
    const key = cacheKey(main, sub)
    const hit = this.young.get(key)
    if (hit !== undefined) return hit
    const aged = this.old.get(key)
    if (aged !== undefined) {
      this.old.delete(key)
      this.oldBytes -= aged.length + ENTRY_OVERHEAD_BYTES
      this.addYoung(key, aged)
    }
    return aged
  }

  set(main: number, sub: number, record: Uint8Array): void {
    // A record larger than a generation would only flush everything else out.
    if (2 * (record.length + ENTRY_OVERHEAD_BYTES) > this.bytesMax) return
    const key = cacheKey(main, sub)
    if (this.young.has(key)) return
    const aged = this.old.get(key)
    if (aged !== undefined) {
      this.old.delete(key)
      this.oldBytes -= aged.length + ENTRY_OVERHEAD_BYTES
    }
    this.addYoung(key, record)
  }

  clear(): void {
    this.young = new Map()
    this.old = new Map()
    this.youngBytes = 0
    this.oldBytes = 0
  }

  /** Each generation stays within half the budget (a record admitted is at most that big). */
  private addYoung(key: CacheKey, record: Uint8Array): void {
    const cost = record.length + ENTRY_OVERHEAD_BYTES
    if (2 * (this.youngBytes + cost) > this.bytesMax) {
      this.old = this.young
      this.oldBytes = this.youngBytes
      this.young = new Map()
      this.youngBytes = 0
    }
    this.young.set(key, record)
    this.youngBytes += cost
  }
}
