// Permissions as etcd stores them and as the window names them: prefix ends (with the 0xff
// carry etcd's clientv3.GetPrefixRangeEnd does), and the four shapes telling themselves apart.
import { describe, expect, it } from 'vitest'
import { prefixEnd, rangeEndOf, scopeOf } from '../../renderer/src/lib/permissions'

const b = (...xs: number[]) => new Uint8Array(xs)
const enc = (s: string) => new TextEncoder().encode(s)

describe('permissions', () => {
  it('computes the prefix end, carrying past 0xff bytes', () => {
    expect([...prefixEnd(enc('a/'))]).toEqual([...enc('a0')])
    expect([...prefixEnd(b(0x61, 0xff))]).toEqual([0x62])
    expect([...prefixEnd(b(0xff, 0xff))]).toEqual([0])
    expect([...prefixEnd(b())]).toEqual([0])
  })

  it('names each shape, and builds the range end back from the name', () => {
    const key = enc('team/')
    for (const scope of ['key', 'prefix', 'from', 'range'] as const) {
      const rangeEnd = rangeEndOf(scope, key, enc('tean'))
      expect(scopeOf({ key, rangeEnd })).toBe(scope)
    }
    // A range that happens to equal the prefix end is a prefix.
    expect(scopeOf({ key: enc('a'), rangeEnd: enc('b') })).toBe('prefix')
    expect(scopeOf({ key: enc('a'), rangeEnd: enc('c') })).toBe('range')
  })
})
