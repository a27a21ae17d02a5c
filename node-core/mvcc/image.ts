/**
 * The state-machine image: the whole store as one byte stream, for snapshots (node-core/snap
 * wraps it in a snapshot file) and for sending a snapshot to a lagging follower.
 *
 * Format (integers unsigned big-endian):
 *
 *   header, 40 bytes:
 *     8  magic "RDMVCCI1"
 *     u32 image format version = 1
 *     u32 reserved = 0
 *     u64 consistentIndex        last raft index applied to the image's state
 *     u64 revision               the store's current revision
 *     u64 compactedRevision
 *   entries, in ascending byte order of their keys, each:
 *     u32 key length (1 .. 2^32 - 2), u32 value length, key bytes, value bytes
 *     one per LevelDB entry of the auth ('a', auth.ts), alarm ('b', alarms.ts), lease ('l')
 *     and record ('r') spaces,
 *     as layout.ts defines them (the state meta entry is what the header carries); images from
 *     before auth existed simply have no 'a' entries
 *   trailer, 16 bytes:
 *     u32 0xFFFFFFFF             end marker (where a key length would be)
 *     u64 number of entries
 *     u32 CRC-32C of every byte before it (header, entries, marker, count)
 *
 * The encoder emits chunks of about chunkBytes; the decoder accepts chunks of any size and
 * never holds more than one entry plus one chunk. A decoder refuses an image with a bad magic,
 * version, CRC or count, an entry out of order, or a key outside those spaces, with a
 * CorruptionError; it has consumed its input only when the trailer checked out.
 */
import { crc32c } from '@node-rs/crc32'
import { CorruptionError } from './errors'
import { compareBytes } from './keys'
import { readUint64, writeUint64 } from './revision'
import { SPACE_ALARM } from './alarms'
import { SPACE_AUTH } from './auth'
import { SPACE_LEASE, SPACE_RECORD } from './layout'

/** The spaces an image carries. */
const IMAGE_SPACES: ReadonlySet<number> = new Set([
  SPACE_AUTH,
  SPACE_ALARM,
  SPACE_LEASE,
  SPACE_RECORD,
])
const MAGIC = [0x52, 0x44, 0x4d, 0x56, 0x43, 0x43, 0x49, 0x31] // "RDMVCCI1"
export const IMAGE_FORMAT_VERSION = 1
export const IMAGE_HEADER_BYTES = 40
const END_MARKER = 0xffff_ffff
const TRAILER_BYTES = 16
/** Largest entry a decoder accepts: above any record the limits allow, below absurd. */
export const IMAGE_ENTRY_BYTES_MAX = 256 * 1024 * 1024

export interface ImageHeader {
  consistentIndex: number
  revision: number
  compactedRevision: number
}

export interface ImageEntry {
  key: Uint8Array
  value: Uint8Array
}

function writeUint32(out: Uint8Array, offset: number, n: number): void {
  out[offset] = n >>> 24
  out[offset + 1] = (n >>> 16) & 0xff
  out[offset + 2] = (n >>> 8) & 0xff
  out[offset + 3] = n & 0xff
}

function readUint32(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset]! << 24) >>> 0) +
    (bytes[offset + 1]! << 16) +
    (bytes[offset + 2]! << 8) +
    bytes[offset + 3]!
  )
}

export function encodeImageHeader(h: ImageHeader): Uint8Array {
  const out = new Uint8Array(IMAGE_HEADER_BYTES)
  out.set(MAGIC, 0)
  writeUint32(out, 8, IMAGE_FORMAT_VERSION)
  writeUint64(out, 16, h.consistentIndex)
  writeUint64(out, 24, h.revision)
  writeUint64(out, 32, h.compactedRevision)
  return out
}

/** A u64 field of the image; one beyond 2^53 can only be damage. */
function readImageUint64(bytes: Uint8Array, offset: number, field: string): number {
  try {
    return readUint64(bytes, offset)
  } catch (err) {
    if (err instanceof RangeError) throw new CorruptionError(`image: ${field}: ${err.message}`)
    throw err
  }
}

function decodeImageHeader(bytes: Uint8Array): ImageHeader {
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw new CorruptionError('image: bad magic, not an mvcc image')
  }
  const version = readUint32(bytes, 8)
  if (version !== IMAGE_FORMAT_VERSION) {
    throw new CorruptionError(
      `image: format version ${version}, this build reads ${IMAGE_FORMAT_VERSION}`,
    )
  }
  const header = {
    consistentIndex: readImageUint64(bytes, 16, 'consistent index'),
    revision: readImageUint64(bytes, 24, 'revision'),
    compactedRevision: readImageUint64(bytes, 32, 'compacted revision'),
  }
  if (header.compactedRevision > header.revision) {
    throw new CorruptionError(
      `image: compacted revision ${header.compactedRevision} above revision ${header.revision}`,
    )
  }
  return header
}

/** Encodes an image from its header and its entries (in key order), in chunks of ~chunkBytes. */
export async function* encodeImage(
  header: ImageHeader,
  entries: AsyncIterable<ImageEntry>,
  chunkBytes = 256 * 1024,
): AsyncGenerator<Uint8Array> {
  let crc = 0
  let count = 0
  let parts: Uint8Array[] = []
  let size = 0
  const add = (part: Uint8Array) => {
    crc = crc32c(part, crc)
    parts.push(part)
    size += part.length
  }
  const take = (): Uint8Array => {
    const out = new Uint8Array(size)
    let at = 0
    for (const p of parts) {
      out.set(p, at)
      at += p.length
    }
    parts = []
    size = 0
    return out
  }
  add(encodeImageHeader(header))
  for await (const { key, value } of entries) {
    const lengths = new Uint8Array(8)
    writeUint32(lengths, 0, key.length)
    writeUint32(lengths, 4, value.length)
    add(lengths)
    add(key)
    add(value)
    count++
    if (size >= chunkBytes) yield take()
  }
  const trailer = new Uint8Array(TRAILER_BYTES)
  writeUint32(trailer, 0, END_MARKER)
  writeUint64(trailer, 4, count)
  crc = crc32c(trailer.subarray(0, 12), crc)
  writeUint32(trailer, 12, crc)
  parts.push(trailer)
  size += trailer.length
  yield take()
}

/** Pulls exact byte counts out of a stream of chunks. */
class ByteReader {
  private readonly it: AsyncIterator<Uint8Array>
  private buf: Uint8Array = new Uint8Array(0)
  private at = 0
  crc = 0

  constructor(stream: AsyncIterable<Uint8Array>) {
    this.it = stream[Symbol.asyncIterator]()
  }

  /** The next n bytes (a copy when they span chunks), folded into the running CRC if `crc`. */
  async read(n: number, crc = true): Promise<Uint8Array> {
    while (this.buf.length - this.at < n) {
      const next = await this.it.next()
      if (next.done) {
        throw new CorruptionError(
          `image: truncated, wanted ${n} more bytes, have ${this.buf.length - this.at}`,
        )
      }
      const rest = this.buf.subarray(this.at)
      const merged = new Uint8Array(rest.length + next.value.length)
      merged.set(rest, 0)
      merged.set(next.value, rest.length)
      this.buf = merged
      this.at = 0
    }
    const out = this.buf.subarray(this.at, this.at + n)
    this.at += n
    if (crc) this.crc = crc32c(out, this.crc)
    return out
  }

  /** Throws unless the stream has nothing left. */
  async expectEnd(): Promise<void> {
    if (this.at < this.buf.length) throw new CorruptionError('image: bytes after the trailer')
    for (;;) {
      const next = await this.it.next()
      if (next.done) return
      if (next.value.length > 0) throw new CorruptionError('image: bytes after the trailer')
    }
  }
}

/**
 * Decodes an image: calls `onHeader` first, then `onEntry` for every entry in order, and
 * resolves once the trailer's count and CRC check out. Entries are handed over before the CRC
 * is known: the caller must treat everything as provisional until this resolves.
 */
export async function decodeImage(
  stream: AsyncIterable<Uint8Array>,
  onHeader: (h: ImageHeader) => void | Promise<void>,
  onEntry: (e: ImageEntry) => void | Promise<void>,
): Promise<{ header: ImageHeader; entries: number }> {
  const r = new ByteReader(stream)
  const header = decodeImageHeader(await r.read(IMAGE_HEADER_BYTES))
  await onHeader(header)
  let count = 0
  let previous: Uint8Array | null = null
  for (;;) {
    const lengths = await r.read(4)
    const keyLength = readUint32(lengths, 0)
    if (keyLength === END_MARKER) break
    const valueLength = readUint32(await r.read(4), 0)
    if (keyLength === 0 || keyLength + valueLength > IMAGE_ENTRY_BYTES_MAX) {
      throw new CorruptionError(
        `image: entry ${count} has key ${keyLength} / value ${valueLength} bytes`,
      )
    }
    const key = (await r.read(keyLength)).slice()
    const value = (await r.read(valueLength)).slice()
    if (!IMAGE_SPACES.has(key[0]!)) {
      throw new CorruptionError(`image: entry ${count} has a key in unknown space ${key[0]}`)
    }
    if (previous !== null && compareBytes(previous, key) >= 0) {
      throw new CorruptionError(`image: entry ${count} is out of key order`)
    }
    previous = key
    try {
      await onEntry({ key, value })
    } catch (err) {
      // The consumer parses the entry before the CRC can vouch for it: a field out of range
      // there is a damaged image, not a bug of the consumer.
      if (err instanceof RangeError) {
        throw new CorruptionError(`image: entry ${count} does not decode: ${err.message}`)
      }
      throw err
    }
    count++
  }
  const counted = readImageUint64(await r.read(8), 0, 'trailer count')
  const expectedCrc = r.crc
  const crc = readUint32(await r.read(4, false), 0)
  if (counted !== count)
    throw new CorruptionError(`image: trailer counts ${counted} entries, read ${count}`)
  if (crc !== expectedCrc) {
    throw new CorruptionError(
      `image: CRC-32C ${crc.toString(16)} != computed ${expectedCrc.toString(16)}`,
    )
  }
  await r.expectEnd()
  return { header, entries: count }
}
