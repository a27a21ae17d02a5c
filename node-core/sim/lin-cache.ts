/**
 * The memo of the linearizability search (lin-search.ts): a set of configurations
 * (set of linearized operations, model state), as in Lowe's improvement of the Wing–Gong
 * algorithm. Two search paths that reach the same configuration have the same future, so the
 * second one is cut off.
 *
 * Layout, chosen so that adding a configuration costs one copy of the bitset and no allocation
 * in the common case:
 * - entry i keeps its bitset in pool[i * words .. (i + 1) * words), its state in states[i] and
 *   its 32-bit hash in hashes[i];
 * - table is an open-addressing hash table (linear probing, load <= 1/2) of entry index + 1,
 *   0 meaning an empty slot.
 * The caller supplies the hash (it maintains one incrementally, see lin-search.ts); equality is
 * decided on the full bitset and state, so a hash collision only costs a comparison.
 *
 * Memory is bounded by bytesMax: an add() that would need more answers CACHE_FULL instead.
 */

export const CACHE_ADDED = 1
export const CACHE_PRESENT = 0
export const CACHE_FULL = -1

const entriesInitial = 64

export class ConfigCache {
  private readonly words: number
  private readonly bytesMax: number
  private pool: Uint32Array
  private states: Int32Array
  private hashes: Int32Array
  private table: Int32Array
  private mask: number
  private capacity: number
  size = 0

  constructor(words: number, bytesMax: number) {
    if (!(Number.isInteger(words) && words > 0)) {
      throw new RangeError(`ConfigCache: words must be a positive integer, got ${words}`)
    }
    this.words = words
    this.bytesMax = bytesMax
    this.capacity = entriesInitial
    this.pool = new Uint32Array(entriesInitial * words)
    this.states = new Int32Array(entriesInitial)
    this.hashes = new Int32Array(entriesInitial)
    this.table = new Int32Array(entriesInitial * 2)
    this.mask = entriesInitial * 2 - 1
  }

  /** Bytes held by the typed arrays of the cache. */
  get bytes(): number {
    return this.bytesFor(this.capacity)
  }

  private bytesFor(capacity: number): number {
    return capacity * (this.words * 4 + 8) + capacity * 2 * 4
  }

  /** Adds (bits, state) unless it is present. Returns CACHE_ADDED, CACHE_PRESENT or CACHE_FULL. */
  add(hash: number, bits: Uint32Array, state: number): number {
    const words = this.words
    let slot = hash & this.mask
    for (;;) {
      const found = this.table[slot]
      if (found === 0) break
      const e = found - 1
      if (this.hashes[e] === hash && this.states[e] === state && this.bitsEqual(e, bits)) {
        return CACHE_PRESENT
      }
      slot = (slot + 1) & this.mask
    }
    if (this.size === this.capacity) {
      if (!this.grow()) return CACHE_FULL
      return this.add(hash, bits, state)
    }
    const e = this.size++
    this.pool.set(bits.subarray(0, words), e * words)
    this.states[e] = state
    this.hashes[e] = hash
    this.table[slot] = e + 1
    return CACHE_ADDED
  }

  private bitsEqual(e: number, bits: Uint32Array): boolean {
    const pool = this.pool
    const base = e * this.words
    for (let w = 0; w < this.words; w++) {
      if (pool[base + w] !== bits[w]) return false
    }
    return true
  }

  private grow(): boolean {
    const capacity = this.capacity * 2
    if (this.bytesFor(capacity) > this.bytesMax) return false
    const pool = new Uint32Array(capacity * this.words)
    pool.set(this.pool)
    const states = new Int32Array(capacity)
    states.set(this.states)
    const hashes = new Int32Array(capacity)
    hashes.set(this.hashes)
    const table = new Int32Array(capacity * 2)
    const mask = capacity * 2 - 1
    for (let e = 0; e < this.size; e++) {
      let slot = hashes[e] & mask
      while (table[slot] !== 0) slot = (slot + 1) & mask
      table[slot] = e + 1
    }
    this.pool = pool
    this.states = states
    this.hashes = hashes
    this.table = table
    this.mask = mask
    this.capacity = capacity
    return true
  }
}
