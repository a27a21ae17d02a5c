/**
 * WAL record framing and payload codecs. The layout is described in full in wal.ts; in short,
 * every record starts at a multiple of 8 bytes in its segment and reads:
 *
 *   offset  size  field
 *        0     4  payloadBytes (u32 LE)
 *        4     1  type (RECORD_TYPE)
 *        5     3  zero
 *        8     4  headerCrc = crc32c(bytes 0..8)
 *       12     4  crc = crc32c(payload, initialState = previousCrc XOR headerCrc)
 *       16     n  payload
 *     16+n   0-7  zero padding to the next multiple of 8
 *
 * Integers in payloads are little-endian; 64-bit fields hold integers below 2^53.
 */
import type { Entry, EntryType, HardState } from '../raft/types'
import { crc32cRange } from './crc'

export const RECORD_HEADER_BYTES = 16
export const RECORD_ALIGN_BYTES = 8
/** Sector size assumed when telling a torn write (whole sectors of zeros) from corruption. */
export const SECTOR_BYTES = 512

export const RECORD_TYPE = {
  entry: 1,
  hardState: 2,
  snapshot: 3,
  metadata: 4,
  crcSeed: 5,
} as const
export type RecordTypeName = keyof typeof RECORD_TYPE
export type RecordTypeCode = (typeof RECORD_TYPE)[RecordTypeName]

const TYPE_NAMES: Record<number, RecordTypeName> = Object.fromEntries(
  Object.entries(RECORD_TYPE).map(([name, code]) => [code, name as RecordTypeName]),
)

export function recordTypeName(code: number): RecordTypeName | undefined {
  return TYPE_NAMES[code]
}

/** Payload sizes of the fixed-size records. */
export const ENTRY_PAYLOAD_HEADER_BYTES = 17
export const HARD_STATE_PAYLOAD_BYTES = 24
export const SNAPSHOT_PAYLOAD_BYTES = 24
export const CRC_SEED_PAYLOAD_BYTES = 4

const TWO_POW_32 = 0x1_0000_0000

export function alignUp(n: number): number {
  return (n + RECORD_ALIGN_BYTES - 1) & ~(RECORD_ALIGN_BYTES - 1)
}

/** Bytes a record with this payload occupies on disk, header and padding included. */
export function recordBytes(payloadBytes: number): number {
  return alignUp(RECORD_HEADER_BYTES + payloadBytes)
}

export function writeU64(buf: Buffer, offset: number, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`WAL: ${n} is not an integer in [0, 2^53)`)
  }
  buf.writeUInt32LE(n >>> 0, offset)
  buf.writeUInt32LE(Math.floor(n / TWO_POW_32), offset + 4)
}

/** Reads a u64 written by writeU64; returns -1 when it does not fit below 2^53. */
export function readU64(buf: Uint8Array, offset: number): number {
  const lo = buf[offset]! | (buf[offset + 1]! << 8) | (buf[offset + 2]! << 16)
  const lo32 = lo + buf[offset + 3]! * 0x100_0000
  const hi = buf[offset + 4]! | (buf[offset + 5]! << 8) | (buf[offset + 6]! << 16)
  if (buf[offset + 7]! !== 0 || hi > 0x1f_ffff) return -1
  return hi * TWO_POW_32 + lo32
}

function readU32(buf: Uint8Array, offset: number): number {
  return (
    (buf[offset]! | (buf[offset + 1]! << 8) | (buf[offset + 2]! << 16)) +
    buf[offset + 3]! * 0x100_0000
  )
}

/**
 * Writes the header and padding of a record whose payload is already in place at
 * `offset + RECORD_HEADER_BYTES`, and returns the record's crc (the chain value for the next
 * record).
 */
export function sealRecord(
  buf: Buffer,
  offset: number,
  type: RecordTypeCode,
  payloadBytes: number,
  previousCrc: number,
): number {
  buf.writeUInt32LE(payloadBytes, offset)
  buf[offset + 4] = type
  buf[offset + 5] = 0
  buf[offset + 6] = 0
  buf[offset + 7] = 0
  const headerCrc = crc32cRange(buf, offset, offset + 8, 0)
  buf.writeUInt32LE(headerCrc, offset + 8)
  const payloadStart = offset + RECORD_HEADER_BYTES
  const crc = crc32cRange(
    buf,
    payloadStart,
    payloadStart + payloadBytes,
    (previousCrc ^ headerCrc) >>> 0,
  )
  buf.writeUInt32LE(crc, offset + 12)
  const end = offset + recordBytes(payloadBytes)
  buf.fill(0, payloadStart + payloadBytes, end)
  return crc
}

/** A record header as readHeader() decodes it (one object reused for every record). */
export interface RecordHeader {
  payloadBytes: number
  type: RecordTypeCode
  headerCrc: number
  crc: number
}

export function emptyHeader(): RecordHeader {
  return { payloadBytes: 0, type: RECORD_TYPE.entry, headerCrc: 0, crc: 0 }
}

/**
 * Reads the 16 header bytes at `offset` into `out` and checks them; returns a reason when they
 * are not a valid header (all zeros, header crc mismatch, unknown type, reserved bytes set).
 */
export function readHeader(buf: Uint8Array, offset: number, out: RecordHeader): string | undefined {
  if (paddingIsZero(buf, offset, offset + RECORD_HEADER_BYTES)) return 'record header is all zeros'
  const headerCrc = readU32(buf, offset + 8)
  const computed = crc32cRange(buf, offset, offset + 8, 0)
  if (computed !== headerCrc) {
    return `header crc mismatch (stored ${hex32(headerCrc)}, computed ${hex32(computed)})`
  }
  const type = buf[offset + 4]!
  if (recordTypeName(type) === undefined) return `unknown record type ${type}`
  if (buf[offset + 5] !== 0 || buf[offset + 6] !== 0 || buf[offset + 7] !== 0) {
    return 'reserved header bytes are not zero'
  }
  out.payloadBytes = readU32(buf, offset)
  out.type = type as RecordTypeCode
  out.headerCrc = headerCrc
  out.crc = readU32(buf, offset + 12)
  return undefined
}

/** The chain crc of a record's payload, to compare with the stored one. */
export function payloadCrc(
  buf: Uint8Array,
  payloadStart: number,
  payloadBytes: number,
  previousCrc: number,
  headerCrc: number,
): number {
  return crc32cRange(
    buf,
    payloadStart,
    payloadStart + payloadBytes,
    (previousCrc ^ headerCrc) >>> 0,
  )
}

export function paddingIsZero(buf: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i] !== 0) return false
  return true
}

export function hex32(n: number): string {
  return '0x' + (n >>> 0).toString(16).padStart(8, '0')
}

// Payload codecs. Each encodeX writes the payload at `offset` and returns its byte length.

const ENTRY_TYPE_CODE: Record<EntryType, number> = { normal: 0, confChange: 1 }

export function entryPayloadBytes(entry: Entry): number {
  return ENTRY_PAYLOAD_HEADER_BYTES + entry.data.byteLength
}

export function encodeEntry(buf: Buffer, offset: number, entry: Entry): number {
  writeU64(buf, offset, entry.index)
  writeU64(buf, offset + 8, entry.term)
  buf[offset + 16] = ENTRY_TYPE_CODE[entry.type]
  buf.set(entry.data, offset + ENTRY_PAYLOAD_HEADER_BYTES)
  return ENTRY_PAYLOAD_HEADER_BYTES + entry.data.byteLength
}

/** Decodes an entry; its data is a view into `buf`. Returns a reason string when malformed. */
export function decodeEntry(buf: Buffer, offset: number, payloadBytes: number): Entry | string {
  if (payloadBytes < ENTRY_PAYLOAD_HEADER_BYTES) return `entry payload of ${payloadBytes} bytes`
  const index = readU64(buf, offset)
  const term = readU64(buf, offset + 8)
  const code = buf[offset + 16]
  if (index < 1 || term < 0) return `entry index/term out of range`
  if (code !== 0 && code !== 1) return `unknown entry type ${code}`
  const dataStart = buf.byteOffset + offset + ENTRY_PAYLOAD_HEADER_BYTES
  const data = new Uint8Array(buf.buffer, dataStart, payloadBytes - ENTRY_PAYLOAD_HEADER_BYTES)
  return { index, term, type: code === 0 ? 'normal' : 'confChange', data }
}

export function encodeHardState(buf: Buffer, offset: number, hs: HardState): number {
  writeU64(buf, offset, hs.term)
  writeU64(buf, offset + 8, hs.vote)
  writeU64(buf, offset + 16, hs.commit)
  return HARD_STATE_PAYLOAD_BYTES
}

export function decodeHardState(
  buf: Uint8Array,
  offset: number,
  payloadBytes: number,
): HardState | string {
  if (payloadBytes !== HARD_STATE_PAYLOAD_BYTES)
    return `hard state payload of ${payloadBytes} bytes`
  const term = readU64(buf, offset)
  const vote = readU64(buf, offset + 8)
  const commit = readU64(buf, offset + 16)
  if (term < 0 || vote < 0 || commit < 0) return 'hard state field out of range'
  return { term, vote, commit }
}

/**
 * A snapshot marker: the WAL's record that a snapshot at (index, term) was saved. With
 * `replacesLog` (a snapshot received from the leader and installed: raft dropped its whole log)
 * replay drops every entry above `index` that was read before the marker.
 */
export interface SnapshotMarker {
  index: number
  term: number
  replacesLog: boolean
}

const MARKER_FLAG_REPLACES_LOG = 1

export function encodeSnapshotMarker(buf: Buffer, offset: number, marker: SnapshotMarker): number {
  writeU64(buf, offset, marker.index)
  writeU64(buf, offset + 8, marker.term)
  writeU64(buf, offset + 16, marker.replacesLog ? MARKER_FLAG_REPLACES_LOG : 0)
  return SNAPSHOT_PAYLOAD_BYTES
}

export function decodeSnapshotMarker(
  buf: Uint8Array,
  offset: number,
  payloadBytes: number,
): SnapshotMarker | string {
  if (payloadBytes !== SNAPSHOT_PAYLOAD_BYTES) return `snapshot payload of ${payloadBytes} bytes`
  const index = readU64(buf, offset)
  const term = readU64(buf, offset + 8)
  const flags = readU64(buf, offset + 16)
  if (index < 0 || term < 0) return 'snapshot marker field out of range'
  if (flags !== 0 && flags !== MARKER_FLAG_REPLACES_LOG)
    return `unknown snapshot marker flags ${flags}`
  return { index, term, replacesLog: flags === MARKER_FLAG_REPLACES_LOG }
}

export function encodeCrcSeed(buf: Buffer, offset: number, seed: number): number {
  buf.writeUInt32LE(seed >>> 0, offset)
  return CRC_SEED_PAYLOAD_BYTES
}

export function decodeCrcSeed(
  buf: Uint8Array,
  offset: number,
  payloadBytes: number,
): number | string {
  if (payloadBytes !== CRC_SEED_PAYLOAD_BYTES) return `crc seed payload of ${payloadBytes} bytes`
  return readU32(buf, offset)
}
