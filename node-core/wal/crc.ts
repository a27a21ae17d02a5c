/**
 * CRC32C over a byte range, chained like @node-rs/crc32's crc32c(input, initialState) and equal
 * to it bit for bit. Short ranges are computed here in JavaScript (slice-by-8 tables): a call
 * into the native module costs a few hundred nanoseconds plus a view allocation, more than
 * checksumming a 16-byte header or a few-hundred-byte entry in JS, and replay makes one call
 * per record. Long ranges go to the native (hardware) implementation.
 */
import { endianness } from 'node:os'
import { crc32c } from '@node-rs/crc32'

/** Ranges at least this long use the native implementation. */
export const NATIVE_CRC_MIN_BYTES = 512

const TABLES = new Int32Array(8 * 256)
for (let n = 0; n < 256; n++) {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
  TABLES[n] = c
}
for (let n = 0; n < 256; n++) {
  for (let k = 1; k < 8; k++) {
    const prev = TABLES[(k - 1) * 256 + n]!
    TABLES[k * 256 + n] = (prev >>> 8) ^ TABLES[prev & 0xff]!
  }
}

const LITTLE_ENDIAN = endianness() === 'LE'

// One 32-bit view per backing buffer, kept for the buffer most recently checksummed (replay
// walks one 4 MiB chunk at a time, so this is one view per chunk).
let lastBuffer: ArrayBufferLike | undefined
let lastWords: Uint32Array<ArrayBufferLike> = new Uint32Array(0)

function wordsOf(buffer: ArrayBufferLike): Uint32Array<ArrayBufferLike> {
  if (buffer !== lastBuffer) {
    lastBuffer = buffer
    lastWords = new Uint32Array(buffer, 0, buffer.byteLength >>> 2)
  }
  return lastWords
}

export function crc32cRange(buf: Uint8Array, start: number, end: number, initial: number): number {
  const length = end - start
  if (length >= NATIVE_CRC_MIN_BYTES) {
    return crc32c(new Uint8Array(buf.buffer, buf.byteOffset + start, length), initial)
  }
  const T = TABLES
  let c = ~initial
  let i = start
  const abs = buf.byteOffset + start
  if (LITTLE_ENDIAN && (abs & 3) === 0) {
    const words = wordsOf(buf.buffer)
    let w = abs >>> 2
    for (; i + 8 <= end; i += 8, w += 2) {
      const a = c ^ words[w]!
      const b = words[w + 1]!
      c =
        T[1792 + (a & 0xff)]! ^
        T[1536 + ((a >>> 8) & 0xff)]! ^
        T[1280 + ((a >>> 16) & 0xff)]! ^
        T[1024 + (a >>> 24)]! ^
        T[768 + (b & 0xff)]! ^
        T[512 + ((b >>> 8) & 0xff)]! ^
        T[256 + ((b >>> 16) & 0xff)]! ^
        T[b >>> 24]!
    }
  }
  for (; i < end; i++) c = T[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8)
  return ~c >>> 0
}
