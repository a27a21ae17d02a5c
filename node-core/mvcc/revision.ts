/**
 * Revisions and their byte encoding.
 *
 * A revision is {main, sub}: `main` counts the store's write transactions (every Put, every
 * DeleteRange that deletes something, every Txn that writes, every lease revoke that deletes
 * keys takes the next main revision); `sub` numbers the writes inside one transaction from 0. A
 * txn that puts a and b and deletes c at main 7 writes 7/0, 7/1, 7/2.
 *
 * Encoding (etcd's): 8 bytes of main big-endian, 8 bytes of sub big-endian, and for a tombstone
 * (a deletion) one more byte, the marker 't' (0x74). Because every field is unsigned big-endian
 * and fixed width, comparing two encodings byte by byte orders them like the revisions:
 *
 *   {main 5, sub 0}          00 00 00 00 00 00 00 05  00 00 00 00 00 00 00 00
 *   {main 5, sub 1}          00 00 00 00 00 00 00 05  00 00 00 00 00 00 00 01
 *   {main 6, sub 0} deleted  00 00 00 00 00 00 00 06  00 00 00 00 00 00 00 00  74
 *
 * The marker never reorders anything: a given revision is either a tombstone or not, so two
 * distinct revisions already differ within the first 16 bytes. Numbers are integers below 2^53
 * (JS safe integers), written as a high and a low 32-bit word.
 */
import { getBigU64, getU64, putBigU64, putU64 } from '../kernel/bytes'

export interface Revision {
  main: number
  sub: number
}

export const REVISION_BYTES = 16
export const TOMBSTONE_MARKER = 0x74

/** Writes `n` (a safe non-negative integer) big-endian into bytes [offset, offset + 8). */
export function writeUint64(out: Uint8Array, offset: number, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`writeUint64: ${n} is not a safe non-negative integer`)
  }
  putU64(out, offset, n)
}

/** Reads a big-endian 64-bit unsigned integer; throws if it is not below 2^53. */
export function readUint64(bytes: Uint8Array, offset: number): number {
  if (offset + 8 > bytes.length) {
    throw new RangeError(`readUint64: offset ${offset} + 8 is past the end ${bytes.length}`)
  }
  const n = getU64(bytes, offset)
  if (n === undefined) throw new RangeError(`readUint64: value at ${offset} is not below 2^53`)
  return n
}

export function writeRevision(
  out: Uint8Array,
  offset: number,
  main: number,
  sub: number,
  tombstone: boolean,
): void {
  writeUint64(out, offset, main)
  writeUint64(out, offset + 8, sub)
  if (tombstone) out[offset + REVISION_BYTES] = TOMBSTONE_MARKER
}

export function encodeRevision(main: number, sub: number, tombstone = false): Uint8Array {
  const out = new Uint8Array(REVISION_BYTES + (tombstone ? 1 : 0))
  writeRevision(out, 0, main, sub, tombstone)
  return out
}

export interface DecodedRevision extends Revision {
  tombstone: boolean
}

/** Decodes the revision encoded at bytes[offset...]; `length` is 16 or 17 (with the marker). */
export function decodeRevision(bytes: Uint8Array, offset = 0, length = bytes.length - offset) {
  if (length !== REVISION_BYTES && length !== REVISION_BYTES + 1) {
    throw new RangeError(`decodeRevision: ${length} bytes, want 16 or 17`)
  }
  const tombstone = length === REVISION_BYTES + 1
  if (tombstone && bytes[offset + REVISION_BYTES] !== TOMBSTONE_MARKER) {
    throw new RangeError(`decodeRevision: byte 16 is ${bytes[offset + REVISION_BYTES]}, not 't'`)
  }
  const rev: DecodedRevision = {
    main: readUint64(bytes, offset),
    sub: readUint64(bytes, offset + 8),
    tombstone,
  }
  return rev
}

export function compareRevisions(a: Revision, b: Revision): number {
  if (a.main !== b.main) return a.main < b.main ? -1 : 1
  return a.sub === b.sub ? 0 : a.sub < b.sub ? -1 : 1
}

/** Writes a big-endian 64-bit unsigned bigint (lease ids). */
export function writeBigUint64(out: Uint8Array, offset: number, n: bigint): void {
  if (n < 0n || n >= 1n << 64n) {
    throw new RangeError(`writeBigUint64: ${n} is not in [0, 2^64)`)
  }
  putBigU64(out, offset, n)
}

/** Reads a big-endian 64-bit unsigned integer as a bigint (lease ids). */
export function readBigUint64(bytes: Uint8Array, offset: number): bigint {
  if (offset + 8 > bytes.length) {
    throw new RangeError(`readBigUint64: offset ${offset} + 8 is past the end ${bytes.length}`)
  }
  return getBigU64(bytes, offset)
}
