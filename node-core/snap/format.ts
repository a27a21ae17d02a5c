/**
 * The snapshot file format (one file per snapshot, `<term>-<index>.snap`, 16 hex digits each):
 *
 *   offset      size  field
 *        0         8  magic "RDSNAP" 0x00 0x01 (format version 1)
 *        8         4  metadataBytes M, u32 little-endian, at most METADATA_BYTES_MAX
 *       12         M  metadata, UTF-8 JSON: {"index","term","confState":{"voters","learners"}}
 *     12+M         4  headerCrc = crc32c(bytes 0 .. 12+M)
 *     16+M         N  the state machine image, opaque
 *   16+M+N         8  imageBytes N, u64 little-endian (below 2^53)
 *   24+M+N         4  fileCrc = crc32c(every byte before this field)
 *   28+M+N         4  end magic "RDSE"
 *
 * The image's length is written after it because the image is streamed and its size is not
 * known up front; the file's size, the header and the trailer must agree. The header crc lets a
 * reader refuse a damaged header before streaming the image; the file crc covers everything.
 */
import { crc32c } from '@node-rs/crc32'
import type { SnapshotMetadata } from '../raft/types'

export const MAGIC = Buffer.from([0x52, 0x44, 0x53, 0x4e, 0x41, 0x50, 0x00, 0x01]) // RDSNAP\0\1
export const END_MAGIC = Buffer.from([0x52, 0x44, 0x53, 0x45]) // RDSE
export const PREFIX_BYTES = 12 // magic + metadataBytes
export const HEADER_CRC_BYTES = 4
export const TRAILER_BYTES = 16
export const METADATA_BYTES_MAX = 1024 * 1024

const NAME_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/

export interface SnapshotName {
  name: string
  term: number
  index: number
}

export function snapshotFileName(term: number, index: number): string {
  return `${hex16(term)}-${hex16(index)}.snap`
}

function hex16(n: number): string {
  return n.toString(16).padStart(16, '0')
}

export function parseSnapshotName(name: string): SnapshotName | undefined {
  const m = NAME_RE.exec(name)
  if (!m) return undefined
  const term = Number.parseInt(m[1]!, 16)
  const index = Number.parseInt(m[2]!, 16)
  if (!Number.isSafeInteger(term) || !Number.isSafeInteger(index)) return undefined
  return { name, term, index }
}

/** Newest first: by index, then term. */
export function newestFirst(a: SnapshotName, b: SnapshotName): number {
  return b.index - a.index || b.term - a.term
}

/** Returns a reason when metadata is not something a snapshot can carry. */
export function checkMetadata(m: SnapshotMetadata): string | undefined {
  const isId = (n: unknown) => Number.isSafeInteger(n) && (n as number) > 0
  if (!Number.isSafeInteger(m.index) || m.index < 1)
    return `index ${m.index} is not an integer >= 1`
  if (!Number.isSafeInteger(m.term) || m.term < 1) return `term ${m.term} is not an integer >= 1`
  const cs = m.confState as unknown
  if (typeof cs !== 'object' || cs === null) return 'confState is missing'
  const { voters, learners } = m.confState
  if (!Array.isArray(voters) || !voters.every(isId)) return 'confState.voters is not a list of ids'
  if (!Array.isArray(learners) || !learners.every(isId))
    return 'confState.learners is not a list of ids'
  return undefined
}

/** The header: magic, metadata length, metadata JSON, header crc. */
export function encodeHeader(metadata: SnapshotMetadata): Buffer {
  const json = Buffer.from(
    JSON.stringify({
      index: metadata.index,
      term: metadata.term,
      confState: {
        voters: [...metadata.confState.voters],
        learners: [...metadata.confState.learners],
      },
    }),
    'utf8',
  )
  const buf = Buffer.alloc(PREFIX_BYTES + json.length + HEADER_CRC_BYTES)
  MAGIC.copy(buf, 0)
  buf.writeUInt32LE(json.length, 8)
  json.copy(buf, PREFIX_BYTES)
  buf.writeUInt32LE(crc32c(buf.subarray(0, PREFIX_BYTES + json.length)), PREFIX_BYTES + json.length)
  return buf
}

/**
 * How many header bytes a file starting with `prefix` (at least PREFIX_BYTES) has, or a reason
 * why it is not a snapshot file.
 */
export function headerBytesFromPrefix(prefix: Uint8Array): number | string {
  if (Buffer.compare(prefix.subarray(0, 8), MAGIC) !== 0)
    return 'bad magic (not a raftdesk snapshot v1)'
  const m = Buffer.from(prefix.buffer, prefix.byteOffset, prefix.byteLength).readUInt32LE(8)
  if (m > METADATA_BYTES_MAX)
    return `metadata length ${m} is over the limit of ${METADATA_BYTES_MAX}`
  return PREFIX_BYTES + m + HEADER_CRC_BYTES
}

/** Parses a complete header (as sized by headerBytesFromPrefix). */
export function decodeHeader(header: Uint8Array): SnapshotMetadata | string {
  const buf = Buffer.from(header.buffer, header.byteOffset, header.byteLength)
  const m = buf.readUInt32LE(8)
  const stored = buf.readUInt32LE(PREFIX_BYTES + m)
  const computed = crc32c(buf.subarray(0, PREFIX_BYTES + m))
  if (stored !== computed) return `header crc mismatch (stored ${stored}, computed ${computed})`
  let parsed: unknown
  try {
    parsed = JSON.parse(buf.subarray(PREFIX_BYTES, PREFIX_BYTES + m).toString('utf8'))
  } catch {
    return 'metadata is not JSON'
  }
  if (typeof parsed !== 'object' || parsed === null) return 'metadata is not an object'
  const meta = parsed as SnapshotMetadata
  const bad = checkMetadata(meta)
  if (bad) return `metadata: ${bad}`
  return {
    index: meta.index,
    term: meta.term,
    confState: { voters: [...meta.confState.voters], learners: [...meta.confState.learners] },
  }
}

/** The trailer, given the image size and the crc of every byte before the crc field. */
export function encodeTrailer(imageBytes: number, crcBeforeLength: number): Buffer {
  const buf = Buffer.alloc(TRAILER_BYTES)
  buf.writeUInt32LE(imageBytes >>> 0, 0)
  buf.writeUInt32LE(Math.floor(imageBytes / 0x1_0000_0000), 4)
  const crc = crc32c(buf.subarray(0, 8), crcBeforeLength)
  buf.writeUInt32LE(crc, 8)
  END_MAGIC.copy(buf, 12)
  return buf
}

/**
 * Checks a trailer against the image size seen and the crc of everything before its length
 * field; returns a reason when it does not match.
 */
export function checkTrailer(
  trailer: Uint8Array,
  imageBytes: number,
  crcBeforeLength: number,
): string | undefined {
  const buf = Buffer.from(trailer.buffer, trailer.byteOffset, trailer.byteLength)
  if (Buffer.compare(buf.subarray(12, 16), END_MAGIC) !== 0) return 'bad end magic'
  const lo = buf.readUInt32LE(0)
  const hi = buf.readUInt32LE(4)
  const stored = hi * 0x1_0000_0000 + lo
  if (hi > 0x1f_ffff || stored !== imageBytes) {
    return `image length in the trailer (${stored}) differs from the bytes present (${imageBytes})`
  }
  const crc = crc32c(buf.subarray(0, 8), crcBeforeLength)
  const storedCrc = buf.readUInt32LE(8)
  if (crc !== storedCrc) return `file crc mismatch (stored ${storedCrc}, computed ${crc})`
  return undefined
}
