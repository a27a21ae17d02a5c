/**
 * Test-only byte surgery on WAL segments: after changing a record's payload on purpose,
 * recompute that record's crc and every later one so that only the intended check objects.
 */
import { crc32c } from '@node-rs/crc32'

const HEADER_BYTES = 16

function align8(n: number): number {
  return (n + 7) & ~7
}

/** Recomputes the chained crcs of the records from `offset` on (offset > 0: not the seed). */
export function rechainFrom(bytes: Buffer, offset: number): Buffer {
  // Walk from the start to learn the chain value before `offset`.
  let off = 0
  let crc = 0
  while (off < bytes.length) {
    const payloadBytes = bytes.readUInt32LE(off)
    const type = bytes[off + 4]!
    const headerCrc = bytes.readUInt32LE(off + 8)
    const payload = bytes.subarray(off + HEADER_BYTES, off + HEADER_BYTES + payloadBytes)
    if (off >= offset) {
      bytes.writeUInt32LE(crc32c(payload, (crc ^ headerCrc) >>> 0), off + 12)
    }
    crc = type === 5 ? payload.readUInt32LE(0) : bytes.readUInt32LE(off + 12)
    off += align8(HEADER_BYTES + payloadBytes)
  }
  return bytes
}
