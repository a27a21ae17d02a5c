/**
 * Bytes in and out, for every binary layout of node-core: the peer message codec (transport),
 * the replicated request codec (server), the index checkpoint (mvcc) and the gRPC wire check
 * (api). One reader and one writer, each failing with the error type its layout names, so that
 * a damaged WAL entry is a RequestCodecError and a damaged peer frame a CodecError.
 *
 * Varints are unsigned LEB128. `uvarint` is the canonical form of a non-negative integer below
 * 2^53 (at most 8 bytes, no trailing zero byte); `uvarint64` the canonical form of a bigint
 * below 2^64 (at most 10 bytes), written in the same bytes as `uvarint` below 2^53. `protoVarint`
 * is protobuf's lenient varint (up to 10 bytes, any padding). `u64` is a fixed 8-byte big-endian
 * integer. `bytes` is a uvarint length and that many bytes.
 */
import { Buffer } from 'node:buffer'

/** Makes the error a reader or writer throws, from a sentence saying what is wrong and where. */
export type BytesErrorFactory = (message: string) => Error

const plainError: BytesErrorFactory = (message) => new RangeError(message)

const TWO_32 = 0x1_0000_0000
const TWO_53N = 2n ** 53n
const TWO_64N = 2n ** 64n

/** Bytes of the canonical varint of v (a non-negative integer below 2^53; not checked). */
export function uvarintSize(v: number): number {
  if (v < 0x80) return 1
  if (v < 0x4000) return 2
  if (v < 0x20_0000) return 3
  if (v < 0x1000_0000) return 4
  if (v < 0x8_0000_0000) return 5
  if (v < 0x400_0000_0000) return 6
  if (v < 0x2_0000_0000_0000) return 7
  return 8
}

/** Whether v is a signed 64-bit integer (etcd's int64 fields: lease ids and operands). */
export function isInt64(v: bigint): boolean {
  return v >= -(2n ** 63n) && v < 2n ** 63n
}

/** Whether v is what `uvarint` carries: a non-negative integer below 2^53. */
export function isUvarint(v: number): boolean {
  return v >>> 0 === v || (Number.isSafeInteger(v) && v >= 0)
}

/** Writes the canonical varint of v at pos (room and range are the caller's); returns the end. */
export function putUvarint(buf: Uint8Array, pos: number, value: number): number {
  let v = value
  while (v > 0x7fff_ffff) {
    buf[pos++] = (v % 0x80) | 0x80
    v = Math.floor(v / 0x80)
  }
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80
    v >>>= 7
  }
  buf[pos++] = v
  return pos
}

/** Writes n (0 <= n < 2^53, not checked) as 8 big-endian bytes at offset. */
export function putU64(out: Uint8Array, offset: number, n: number): void {
  putHalves(out, offset, Math.floor(n / TWO_32), n >>> 0)
}

/** Writes n (0 <= n < 2^64, not checked) as 8 big-endian bytes at offset. */
export function putBigU64(out: Uint8Array, offset: number, n: bigint): void {
  putHalves(out, offset, Number(n >> 32n), Number(n & 0xffff_ffffn))
}

/** Writes two 32-bit halves as 8 big-endian bytes at offset. */
function putHalves(out: Uint8Array, offset: number, hi: number, lo: number): void {
  out[offset] = hi >>> 24
  out[offset + 1] = (hi >>> 16) & 0xff
  out[offset + 2] = (hi >>> 8) & 0xff
  out[offset + 3] = hi & 0xff
  out[offset + 4] = lo >>> 24
  out[offset + 5] = (lo >>> 16) & 0xff
  out[offset + 6] = (lo >>> 8) & 0xff
  out[offset + 7] = lo & 0xff
}

/** The two 32-bit halves of the 8 big-endian bytes at offset (in bounds; not checked). */
function halves(bytes: Uint8Array, offset: number): [number, number] {
  const hi =
    ((bytes[offset]! << 24) >>> 0) +
    (bytes[offset + 1]! << 16) +
    (bytes[offset + 2]! << 8) +
    bytes[offset + 3]!
  const lo =
    ((bytes[offset + 4]! << 24) >>> 0) +
    (bytes[offset + 5]! << 16) +
    (bytes[offset + 6]! << 8) +
    bytes[offset + 7]!
  return [hi, lo]
}

/** Reads 8 big-endian bytes at offset as a number; undefined when it is 2^53 or more. */
export function getU64(bytes: Uint8Array, offset: number): number | undefined {
  const [hi, lo] = halves(bytes, offset)
  return hi >= 0x20_0000 ? undefined : hi * TWO_32 + lo
}

/** Reads 8 big-endian bytes at offset as a bigint (0n, a constant, when zero). */
export function getBigU64(bytes: Uint8Array, offset: number): bigint {
  const [hi, lo] = halves(bytes, offset)
  // Most lease fields are 0: the literal 0n does not allocate, BigInt() does.
  if (hi === 0) return lo === 0 ? 0n : BigInt(lo)
  return (BigInt(hi) << 32n) | BigInt(lo)
}

/** A cursor over buf[start, end) that throws its layout's error on anything malformed. */
export class ByteReader {
  pos: number

  constructor(
    readonly buf: Uint8Array,
    private readonly error: BytesErrorFactory = plainError,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start
  }

  get remaining(): number {
    return this.end - this.pos
  }

  /** Throws the layout's error: `what` at byte <pos> of <end>. */
  fail(what: string): never {
    throw this.error(`${what} at byte ${this.pos} of ${this.end}`)
  }

  u8(field = 'byte'): number {
    if (this.pos >= this.end) this.fail(`truncated ${field}`)
    return this.buf[this.pos++]!
  }

  /** A canonical varint below 2^53. */
  uvarint(field = 'varint'): number {
    const buf = this.buf
    if (this.pos >= this.end) this.fail(`truncated ${field}`)
    let b = buf[this.pos++]!
    if (b < 0x80) return b
    let v = b & 0x7f
    let scale = 0x80
    for (let i = 1; i < 8; i++) {
      if (this.pos >= this.end) this.fail(`truncated ${field}`)
      b = buf[this.pos++]!
      v += (b & 0x7f) * scale
      if (b < 0x80) {
        if (b === 0) this.fail(`non-canonical varint in ${field}`)
        if (v > Number.MAX_SAFE_INTEGER) this.fail(`${field} ${v} exceeds 2^53 - 1`)
        return v
      }
      scale *= 0x80
    }
    return this.fail(`varint longer than 8 bytes in ${field}`)
  }

  /** A canonical varint below 2^64, as a bigint. */
  uvarint64(field = 'varint'): bigint {
    if (this.pos < this.end && this.buf[this.pos]! < 0x80) {
      const b = this.buf[this.pos++]!
      return b === 0 ? 0n : BigInt(b)
    }
    let v = 0n
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail(`truncated ${field}`)
      const b = this.buf[this.pos++]!
      v |= BigInt(b & 0x7f) << BigInt(7 * i)
      if (b < 0x80) {
        if (b === 0 && i > 0) this.fail(`non-canonical varint in ${field}`)
        if (v >= TWO_64N) this.fail(`${field} exceeds 2^64 - 1`)
        return v
      }
    }
    return this.fail(`varint longer than 10 bytes in ${field}`)
  }

  /**
   * Protobuf's varint: up to 10 bytes, padding allowed. Exact below 2^53; larger values (which a
   * checker only skips) come back as Number.MAX_SAFE_INTEGER.
   */
  protoVarint(field = 'varint'): number {
    let v = 0
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail(`truncated ${field}`)
      const b = this.buf[this.pos++]!
      if (i < 8) v += (b & 0x7f) * 2 ** (7 * i)
      else if ((b & 0x7f) !== 0) v = Number.MAX_SAFE_INTEGER
      if (b < 0x80) return Math.min(v, Number.MAX_SAFE_INTEGER)
    }
    return this.fail(`varint longer than 10 bytes in ${field}`)
  }

  /** 8 big-endian bytes, below 2^53. */
  u64(field = 'u64'): number {
    if (this.end - this.pos < 8) this.fail(`truncated ${field}`)
    const v = getU64(this.buf, this.pos)
    if (v === undefined) this.fail(`${field} exceeds 2^53 - 1`)
    this.pos += 8
    return v
  }

  /** Moves past n bytes. */
  skip(n: number, field: string): void {
    if (n > this.end - this.pos) {
      this.fail(`${field} of ${n} bytes runs past the end (${this.end - this.pos} left)`)
    }
    this.pos += n
  }

  /** A count of items of at least itemBytesMin bytes each, bounded by what remains. */
  count(field: string, itemBytesMin: number): number {
    const n = this.uvarint(field)
    const room = Math.floor((this.end - this.pos) / itemBytesMin)
    if (n > room) this.fail(`${field} ${n} exceeds the ${room} that the remaining bytes can hold`)
    return n
  }

  /** A length-prefixed byte string, as a view into the buffer (no copy). */
  bytes(field = 'bytes'): Uint8Array {
    const n = this.uvarint(`${field} length`)
    if (n > this.end - this.pos) {
      this.fail(`${field} of ${n} bytes runs past the end (${this.end - this.pos} left)`)
    }
    const out = new Uint8Array(this.buf.buffer, this.buf.byteOffset + this.pos, n)
    this.pos += n
    return out
  }

  /** Fails unless every byte has been read. */
  expectEnd(): void {
    if (this.pos !== this.end) this.fail(`${this.end - this.pos} trailing bytes`)
  }
}

/** A growing buffer that writes the reader's forms; fails with its layout's error. */
export class ByteWriter {
  buf: Uint8Array
  pos = 0

  constructor(
    sizeHint = 64,
    private readonly error: BytesErrorFactory = plainError,
  ) {
    this.buf = new Uint8Array(Math.max(16, sizeHint))
  }

  /** Makes room for n more bytes. */
  room(n: number): void {
    if (this.pos + n <= this.buf.length) return
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n))
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
  }

  u8(v: number): void {
    this.room(1)
    this.buf[this.pos++] = v
  }

  uvarint(v: number, field = 'varint'): void {
    if (!isUvarint(v))
      throw this.error(`cannot encode ${field} ${v}: not a non-negative safe integer`)
    this.room(8)
    this.pos = putUvarint(this.buf, this.pos, v)
  }

  uvarint64(v: bigint, field = 'varint'): void {
    if (v < 0n || v >= TWO_64N) throw this.error(`cannot encode ${field} ${v}: not in [0, 2^64)`)
    if (v < TWO_53N) return this.uvarint(Number(v), field)
    this.room(10)
    let u = v
    while (u >= 0x80n) {
      this.buf[this.pos++] = Number(u & 0x7fn) | 0x80
      u >>= 7n
    }
    this.buf[this.pos++] = Number(u)
  }

  u64(v: number, field = 'u64'): void {
    if (!isUvarint(v))
      throw this.error(`cannot encode ${field} ${v}: not a non-negative safe integer`)
    this.room(8)
    putU64(this.buf, this.pos, v)
    this.pos += 8
  }

  /** Bytes as they are, without a length. */
  raw(b: Uint8Array): void {
    this.room(b.byteLength)
    this.buf.set(b, this.pos)
    this.pos += b.byteLength
  }

  /** A length-prefixed byte string. */
  bytes(b: Uint8Array): void {
    this.uvarint(b.byteLength, 'length')
    this.raw(b)
  }

  /** A length-prefixed string in `encoding` (UTF-8 by default). */
  str(text: string, encoding: 'utf8' | 'latin1' = 'utf8'): void {
    this.bytes(Buffer.from(text, encoding))
  }

  /** What has been written, as a view (valid until the next write). */
  done(): Uint8Array {
    return this.buf.subarray(0, this.pos)
  }
}
