import { describe, expect, it } from 'vitest'
import { createPrng } from '../../../node-core/raft/prng'

describe('prng', () => {
  it('repeats its sequence for a seed and differs between seeds', () => {
    const a = createPrng(42)
    const b = createPrng(42)
    const c = createPrng(43)
    const seqA = Array.from({ length: 8 }, () => a.nextUint32())
    expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(seqA)
    expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(seqA)
  })

  it('keeps int() inside [min, max) and covers the range', () => {
    const p = createPrng(7)
    const seen = new Set<number>()
    for (let i = 0; i < 10_000; i++) {
      const v = p.int(15, 30)
      expect(v).toBeGreaterThanOrEqual(15)
      expect(v).toBeLessThan(30)
      seen.add(v)
    }
    expect(seen.size).toBe(15)
  })

  it('refuses an empty range', () => {
    expect(() => createPrng(1).int(5, 5)).toThrow(/empty range/)
  })
})
