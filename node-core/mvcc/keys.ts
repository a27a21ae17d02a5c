/**
 * User keys inside the store, and key ranges.
 *
 * In memory a user key is held as a "byte string": a JS string with one char per byte, char code
 * = byte value (Node's latin1 encoding). V8 stores such strings one byte per char, compares them
 * with `<` by code unit, i.e. byte by byte, so the order of byte strings is exactly the byte
 * order etcd uses for keys, and they hash and compare fast as Map and B+tree keys. Keys are
 * turned back into bytes only at the edges (records, responses).
 *
 * A range follows etcd's conventions (see types.ts): `rangeEnd` absent or empty is the single
 * key; `rangeEnd` = [0x00] is every key >= `key`; otherwise the half-open interval
 * [key, rangeEnd). A range whose end is at or before its start is empty.
 */
import { Buffer } from 'node:buffer'

/** A user key as a byte string (see above). */
export type KeyString = string

export function keyString(bytes: Uint8Array): KeyString {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}

export function keyBytes(key: KeyString): Uint8Array {
  const buf = Buffer.from(key, 'latin1')
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
}

/** Byte order of two byte strings, as -1, 0, 1 (the B+tree's comparator). */
export function compareKeys(a: KeyString, b: KeyString): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Lexicographic byte order of two byte arrays, as -1, 0, 1. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1
}

/**
 * A key range in byte-string space: the single key `start` when `single`; otherwise
 * [start, end), with `end` undefined meaning "no upper bound".
 */
export interface KeyRange {
  start: KeyString
  end: KeyString | undefined
  single: boolean
}

export function keyRange(key: Uint8Array, rangeEnd: Uint8Array | undefined): KeyRange {
  const start = keyString(key)
  if (rangeEnd === undefined || rangeEnd.length === 0) return { start, end: start, single: true }
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { start, end: undefined, single: false }
  return { start, end: keyString(rangeEnd), single: false }
}

export function inRange(range: KeyRange, key: KeyString): boolean {
  if (range.single) return key === range.start
  return key >= range.start && (range.end === undefined || key < range.end)
}

/** True when two ranges share at least one key. */
export function rangesOverlap(a: KeyRange, b: KeyRange): boolean {
  if (a.single) return inRange(b, a.start)
  if (b.single) return inRange(a, b.start)
  const aEmpty = a.end !== undefined && a.end <= a.start
  const bEmpty = b.end !== undefined && b.end <= b.start
  if (aEmpty || bEmpty) return false
  // Two non-empty half-open intervals overlap when each starts before the other ends.
  return (b.end === undefined || a.start < b.end) && (a.end === undefined || b.start < a.end)
}

/**
 * The range end that makes [prefix, end) cover every key starting with `prefix` (etcd's
 * clientv3.GetPrefixRangeEnd): the prefix with its last byte below 0xff incremented and the rest
 * dropped, or [0x00] ("no upper bound") when the prefix is empty or all 0xff.
 */
export function prefixRangeEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i]! < 0xff) {
      const end = prefix.slice(0, i + 1)
      end[i] = end[i]! + 1
      return end
    }
  }
  return new Uint8Array([0])
}

/** Bytes [start, end) of `bytes` as a key string, without copying them. */
export function keyStringAt(bytes: Uint8Array, start: number, end: number): KeyString {
  // classic-level hands out Buffers: decode in place rather than through a new view.
  if (Buffer.isBuffer(bytes)) return bytes.toString('latin1', start, end)
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1')
}
