/**
 * The memo of the linearizability search (lin-search.ts): the configurations it has reached,
 * as in Lowe's improvement of the Wing–Gong algorithm, extended with subsumption for operations
 * whose outcome is unknown.
 *
 * A configuration is (K, U, state, restricted): K the linearized operations that returned, U the
 * linearized operations with unknown outcome, the model state, and whether the last operation
 * applied had an unknown outcome (lin-search.ts explains why that matters). Its bitset holds K in
 * words [0, knownWords) and U in words [knownWords, words).
 *
 * add() answers CACHE_PRESENT, so the search cuts the branch off, when the memo holds
 *   - the same configuration, or
 *   - a configuration marked done (fully explored without success) with the same K and state,
 *     a subset of U, and either not restricted or the new one restricted too. Operations with
 *     unknown outcome never have to be applied, so such a configuration can do everything the
 *     new one can: if it found no way to finish, neither would the new one.
 *
 * Layout, so that adding costs one copy of the bitset and no allocation in the common case:
 * entry i keeps its bitset in pool[i * words .. (i + 1) * words), its state, hash and flags in
 * parallel arrays; table is an open-addressing hash table (linear probing, load <= 1/2) of entry
 * index + 1, 0 meaning an empty slot. The caller supplies a hash of (K, state) only (it keeps one
 * incrementally), so the variants of a configuration that differ in U or in the flags share a
 * probe sequence; equality is decided on the full bitset.
 *
 * Memory is bounded by bytesMax: an add() that would need more answers CACHE_FULL.
 */

/** add() found the configuration or one that subsumes it. */
export const CACHE_PRESENT = -1
/** add() would need more than bytesMax. */
export const CACHE_FULL = -2

const entriesInitial = 64

export class ConfigCache {
  private readonly words: number
  private readonly knownWords: number
  private readonly bytesMax: number
  private pool: Uint32Array
  private states: Int32Array
  private hashes: Int32Array
  private restricted: Uint8Array
  private done: Uint8Array
  private table: Int32Array
  private mask: number
  private capacity: number
  size = 0

  constructor(knownWords: number, unknownWords: number, bytesMax: number) {
    const words = knownWords + unknownWords
    if (!(Number.isInteger(knownWords) && Number.isInteger(unknownWords) && words > 0)) {
      throw new RangeError(
        `ConfigCache: need integer word counts with a positive sum, got ${knownWords} + ${unknownWords}`,
      )
    }
    this.words = words
    this.knownWords = knownWords
    this.bytesMax = bytesMax
    this.capacity = entriesInitial
    this.pool = new Uint32Array(entriesInitial * words)
    this.states = new Int32Array(entriesInitial)
    this.hashes = new Int32Array(entriesInitial)
    this.restricted = new Uint8Array(entriesInitial)
    this.done = new Uint8Array(entriesInitial)
    this.table = new Int32Array(entriesInitial * 2)
    this.mask = entriesInitial * 2 - 1
  }

  /** Bytes held by the typed arrays of the cache. */
  get bytes(): number {
    return this.bytesFor(this.capacity)
  }

  private bytesFor(capacity: number): number {
    return capacity * (this.words * 4 + 10) + capacity * 2 * 4
  }

  /**
   * Adds the configuration unless it (or one that subsumes it) is present. Returns the new
   * entry's index (>= 0), CACHE_PRESENT or CACHE_FULL.
   */
  add(hash: number, bits: Uint32Array, state: number, restricted: boolean): number {
    const flag = restricted ? 1 : 0
    let slot = hash & this.mask
    for (;;) {
      const found = this.table[slot]
      if (found === 0) break
      const e = found - 1
      if (this.hashes[e] === hash && this.states[e] === state && this.knownEqual(e, bits)) {
        const r = this.restricted[e]
        const relation = this.unknownRelation(e, bits)
        if (relation === 2 && r === flag) return CACHE_PRESENT
        if (relation >= 1 && this.done[e] === 1 && (r === 0 || restricted)) {
          return CACHE_PRESENT
        }
      }
      slot = (slot + 1) & this.mask
    }
    if (this.size === this.capacity) {
      if (!this.grow()) return CACHE_FULL
      return this.add(hash, bits, state, restricted)
    }
    const e = this.size++
    this.pool.set(bits.subarray(0, this.words), e * this.words)
    this.states[e] = state
    this.hashes[e] = hash
    this.restricted[e] = flag
    this.table[slot] = e + 1
    return e
  }

  /** The configuration of entry e was explored completely without success. */
  markDone(e: number): void {
    if (!(e >= 0 && e < this.size))
      throw new RangeError(`ConfigCache: no entry ${e} (size ${this.size})`)
    this.done[e] = 1
  }

  private knownEqual(e: number, bits: Uint32Array): boolean {
    const pool = this.pool
    const base = e * this.words
    for (let w = 0; w < this.knownWords; w++) {
      if (pool[base + w] !== bits[w]) return false
    }
    return true
  }

  /** 2: entry e's U equals bits' U; 1: a strict subset; 0: neither. */
  private unknownRelation(e: number, bits: Uint32Array): number {
    const pool = this.pool
    const base = e * this.words
    let equal = true
    for (let w = this.knownWords; w < this.words; w++) {
      const mine = pool[base + w]
      const theirs = bits[w]
      if ((mine & ~theirs) !== 0) return 0
      if (mine !== theirs) equal = false
    }
    return equal ? 2 : 1
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
    const restricted = new Uint8Array(capacity)
    restricted.set(this.restricted)
    const done = new Uint8Array(capacity)
    done.set(this.done)
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
    this.restricted = restricted
    this.done = done
    this.table = table
    this.mask = mask
    this.capacity = capacity
    return true
  }
}
