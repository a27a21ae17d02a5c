/**
 * A small seeded pseudo-random generator (sfc32), the only source of randomness the raft core
 * and the simulator use. Same seed, same sequence, on every platform: that is what lets a
 * simulator failure reproduce from its seed.
 */
export interface Prng {
  /** A uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number
  /** An integer in [min, max). Asserts min < max. */
  int(min: number, max: number): number
  /** A float in [0, 1). */
  float(): number
  /** True with probability p. */
  chance(p: number): boolean
  /** An independent generator derived from this one (for giving each node its own stream). */
  fork(): Prng
}

export function createPrng(seed: number): Prng {
  // Spread the seed over the four words with splitmix32 so that nearby seeds diverge at once.
  let s = seed >>> 0
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
  let a = split()
  let b = split()
  let c = split()
  let d = split()

  const nextUint32 = () => {
    const t = (((a + b) >>> 0) + d) >>> 0
    d = (d + 1) >>> 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) >>> 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) >>> 0
    return t
  }
  // Discard the first outputs: sfc32 mixes poorly for a few rounds after seeding.
  for (let i = 0; i < 12; i++) nextUint32()

  const prng: Prng = {
    nextUint32,
    float: () => nextUint32() / 0x1_0000_0000,
    int(min, max) {
      if (!(min < max)) throw new RangeError(`prng.int: empty range [${min}, ${max})`)
      return min + Math.floor((nextUint32() / 0x1_0000_0000) * (max - min))
    },
    chance: (p) => nextUint32() / 0x1_0000_0000 < p,
    fork: () => createPrng(nextUint32()),
  }
  return prng
}
