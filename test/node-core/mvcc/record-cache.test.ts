// The record cache: bounded in bytes, keeps what was used recently, O(1) eviction by generations.
import { describe, expect, it } from 'vitest'
import { RecordCache } from '../../../node-core/mvcc/record-cache'

const rec = (n: number, fill = 0) => new Uint8Array(n).fill(fill)

describe('record cache', () => {
  it('returns what was put, by main and sub revision', () => {
    const c = new RecordCache(1 << 20)
    c.set(5, 0, rec(10, 1))
    c.set(5, 1, rec(10, 2))
    expect(c.get(5, 0)![0]).toBe(1)
    expect(c.get(5, 1)![0]).toBe(2)
    expect(c.get(6, 0)).toBeUndefined()
  })

  it('never holds more than its budget, whatever goes in', () => {
    const c = new RecordCache(10_000)
    for (let i = 0; i < 5_000; i++) {
      c.set(i, i % 3, rec(1 + (i % 200)))
      if (i % 7 === 0) c.get(i - 50, 0)
      expect(c.sizeBytes).toBeLessThanOrEqual(10_000)
    }
    expect(c.size).toBeGreaterThan(0)
  })

  it('keeps a record that keeps being read, drops one nobody reads', () => {
    const c = new RecordCache(20 * (100 + 96))
    c.set(1, 0, rec(100, 7))
    c.set(2, 0, rec(100, 8))
    for (let i = 10; i < 200; i++) {
      c.set(i, 0, rec(100))
      expect(c.get(1, 0), `after ${i}`).toBeDefined()
    }
    expect(c.get(2, 0)).toBeUndefined()
  })

  it('refuses records too large for a generation, and a zero budget caches nothing', () => {
    const c = new RecordCache(1000)
    c.set(1, 0, rec(600))
    expect(c.get(1, 0)).toBeUndefined()
    const none = new RecordCache(0)
    none.set(1, 0, rec(1))
    expect(none.get(1, 0)).toBeUndefined()
  })
})
