/**
 * A least-recently-used cache of records by revision, bounded in bytes.
 *
 * A record is immutable once written: the record at {main, sub} never changes, it can only be
 * deleted by compaction, and after that no read asks for it (the key index no longer points at
 * it). So the cache needs no invalidation: whatever it holds is correct for as long as anybody
 * can ask for it. It spares point reads of hot and recent keys a LevelDB lookup.
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
  private readonly map = new Map<CacheKey, Uint8Array>()
  private bytes = 0

  constructor(readonly bytesMax: number) {
    if (!(bytesMax >= 0)) throw new RangeError(`record cache: bytesMax ${bytesMax} must be >= 0`)
  }

  get size(): number {
    return this.map.size
  }

  get sizeBytes(): number {
    return this.bytes
  }

  get(main: number, sub: number): Uint8Array | undefined {
    const key = cacheKey(main, sub)
    const record = this.map.get(key)
    if (record !== undefined) {
      // Map iteration order is insertion order: re-inserting marks the entry most recent.
      this.map.delete(key)
      this.map.set(key, record)
    }
    return record
  }

  set(main: number, sub: number, record: Uint8Array): void {
    const cost = record.length + ENTRY_OVERHEAD_BYTES
    if (cost > this.bytesMax) return
    const key = cacheKey(main, sub)
    const old = this.map.get(key)
    if (old !== undefined) {
      this.map.delete(key)
      this.bytes -= old.length + ENTRY_OVERHEAD_BYTES
    }
    this.map.set(key, record)
    this.bytes += cost
    if (this.bytes <= this.bytesMax) return
    for (const [k, v] of this.map) {
      this.map.delete(k)
      this.bytes -= v.length + ENTRY_OVERHEAD_BYTES
      if (this.bytes <= this.bytesMax) return
    }
  }

  clear(): void {
    this.map.clear()
    this.bytes = 0
  }
}
