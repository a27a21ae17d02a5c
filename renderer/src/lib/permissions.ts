/**
 * etcd permissions as a person reads them. A permission is a key and a range end; four shapes
 * mean four things: one key (no end), every key under a prefix (the end is the prefix's end),
 * every key from a key on (the end is the single byte 0), or a range [key, end).
 */
import type { Permission } from '../../../contract'

export type Scope = 'key' | 'prefix' | 'from' | 'range'

/** The first key after every key that starts with `prefix` (etcd's prefix end). */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const end = prefix.slice()
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1
      return end.slice(0, i + 1)
    }
  }
  return new Uint8Array([0])
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i])
}

export function scopeOf(p: Pick<Permission, 'key' | 'rangeEnd'>): Scope {
  if (p.rangeEnd.length === 0) return 'key'
  if (p.rangeEnd.length === 1 && p.rangeEnd[0] === 0) return 'from'
  if (p.key.length > 0 && same(prefixEnd(p.key), p.rangeEnd)) return 'prefix'
  return 'range'
}

/** The range end for a scope: what etcd stores for "prefix a/", "from a", and so on. */
export function rangeEndOf(scope: Scope, key: Uint8Array, end: Uint8Array): Uint8Array {
  if (scope === 'key') return new Uint8Array()
  if (scope === 'from') return new Uint8Array([0])
  if (scope === 'prefix') return prefixEnd(key)
  return end
}

/** May this permission read? */
export function reads(p: Permission): boolean {
  return p.type === 'read' || p.type === 'readwrite'
}
