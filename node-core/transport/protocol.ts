/**
 * The peer protocol's frames and handshake (wire format version PROTOCOL_VERSION).
 *
 * Every frame:
 *
 *   u32be  length of what follows (kind + payload), >= 1; 4 + length <= the frame limit
 *   u8     kind (FrameKind)
 *   ...    payload
 *
 * A connection carries one direction of one peer pair: the sender dials, and the first frame is
 * HELLO. The receiver answers ACCEPT, or REFUSE and closes. Until the handshake is accepted the
 * receiver reads frames of at most HANDSHAKE_FRAME_BYTES_MAX, so an unauthenticated client cannot
 * make it allocate a large frame.
 *
 *   HELLO    "RDPT" magic, u16be protocol version, u8 purpose (1 messages, 2 snapshot),
 *            varint from (sender member id), varint to (the member id the sender meant to reach),
 *            varint clusterIdBytes + utf8, varint tokenBytes + utf8
 *   ACCEPT   empty
 *   REFUSE   u8 reason (1-based index into REFUSAL_REASONS), utf8 detail
 *
 * A messages connection then carries MESSAGE frames from sender to receiver, one encoded raft
 * message each (codec.ts); many frames go out in one socket write. Nothing flows back.
 *
 * A snapshot connection carries one MsgSnap and its image:
 *
 *   sender -> SNAP_HEADER  the encoded MsgSnap
 *   receiver -> CREDIT     varint bytes: how many more image bytes the sender may send. The
 *                          receiver grants its window first, then what its consumer has taken;
 *                          so the sender is never more than a window ahead of the consumer.
 *   sender -> SNAP_CHUNK   u32le crc32c of the bytes, then the bytes (a piece of the image)
 *   sender -> SNAP_END     varint total image bytes, varint chunk count
 *   receiver -> SNAP_RESULT  u8 1 (saved) or 0 (failed), utf8 detail; then both sides close
 */
import { crc32c } from '@node-rs/crc32'
import type { NodeId } from '../raft/types'
import {
  FrameTooLargeError,
  HandshakeRefusedError,
  ProtocolError,
  REFUSAL_REASONS,
  type RefusalReason,
} from './errors'

export const PROTOCOL_VERSION = 1
export const FRAME_HEADER_BYTES = 5
export const HANDSHAKE_FRAME_BYTES_MAX = 1024
export const CLUSTER_ID_BYTES_MAX = 128
export const TOKEN_BYTES_MAX = 512
const DETAIL_BYTES_MAX = 512
const MAGIC = [0x52, 0x44, 0x50, 0x54] // "RDPT"

export const FrameKind = {
  Hello: 1,
  Accept: 2,
  Refuse: 3,
  Message: 4,
  SnapHeader: 5,
  SnapChunk: 6,
  SnapEnd: 7,
  Credit: 8,
  SnapResult: 9,
} as const
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind]

export interface Frame {
  kind: number
  /** Its own allocation: views into it stay valid. */
  payload: Uint8Array
}

export function frameHeader(kind: FrameKind, payloadBytes: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES)
  h.writeUInt32BE(payloadBytes + 1, 0)
  h[4] = kind
  return h
}

export function encodeFrame(kind: FrameKind, payload: Uint8Array): Buffer {
  const f = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.byteLength)
  f.writeUInt32BE(payload.byteLength + 1, 0)
  f[4] = kind
  f.set(payload, FRAME_HEADER_BYTES)
  return f
}

/**
 * Cuts a byte stream into frames. Each frame's payload is copied once into its own buffer, so
 * decoded messages may keep views into it without pinning the socket's read buffers.
 */
export class FrameReader {
  private readonly header = new Uint8Array(FRAME_HEADER_BYTES)
  private headerFilled = 0
  private body: Uint8Array | undefined
  private bodyFilled = 0

  constructor(private frameBytesMax: number) {}

  /** Raises (or lowers) the limit, e.g. once the handshake has been accepted. */
  setFrameBytesMax(n: number): void {
    this.frameBytesMax = n
  }

  /** Bytes of a frame received in part (for a clean-end check). */
  get partialBytes(): number {
    return this.headerFilled + this.bodyFilled
  }

  /** Appends bytes; returns the frames completed. Throws FrameTooLargeError or ProtocolError. */
  push(chunk: Uint8Array): Frame[] {
    const out: Frame[] = []
    const n = chunk.byteLength
    let pos = 0
    while (pos < n) {
      if (this.body === undefined) {
        while (this.headerFilled < FRAME_HEADER_BYTES && pos < n) {
          this.header[this.headerFilled++] = chunk[pos++]!
          if (this.headerFilled === 4) this.checkLength()
        }
        if (this.headerFilled < FRAME_HEADER_BYTES) break
        const h = this.header
        const length = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0
        this.body = new Uint8Array(length - 1)
        this.bodyFilled = 0
      }
      const body = this.body
      const take = Math.min(body.byteLength - this.bodyFilled, n - pos)
      if (take > 0) {
        body.set(chunk.subarray(pos, pos + take), this.bodyFilled)
        this.bodyFilled += take
        pos += take
      }
      if (this.bodyFilled === body.byteLength) {
        out.push({ kind: this.header[4]!, payload: body })
        this.body = undefined
        this.headerFilled = 0
        this.bodyFilled = 0
      }
    }
    return out
  }

  private checkLength(): void {
    const h = this.header
    const length = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0
    if (length === 0) throw new ProtocolError('frame length 0 (a frame has at least its kind)')
    if (length + 4 > this.frameBytesMax) {
      throw new FrameTooLargeError(length + 4, this.frameBytesMax)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Small payload helpers (a varint here never exceeds 2^53 - 1, same rules as codec.ts).

class PayloadWriter {
  private readonly parts: number[] = []
  private readonly blobs: { at: number; data: Uint8Array }[] = []
  u8(v: number): this {
    this.parts.push(v & 0xff)
    return this
  }
  uvarint(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new ProtocolError(`varint field must be a non-negative safe integer, got ${value}`)
    }
    let v = value
    while (v >= 0x80) {
      this.parts.push((v % 0x80) | 0x80)
      v = Math.floor(v / 0x80)
    }
    this.parts.push(v)
    return this
  }
  bytes(data: Uint8Array): this {
    this.uvarint(data.byteLength)
    this.blobs.push({ at: this.parts.length, data })
    this.parts.push(-1)
    return this
  }
  raw(data: Uint8Array): this {
    this.blobs.push({ at: this.parts.length, data })
    this.parts.push(-1)
    return this
  }
  finish(): Uint8Array {
    let size = this.parts.length - this.blobs.length
    for (const b of this.blobs) size += b.data.byteLength
    const out = new Uint8Array(size)
    let pos = 0
    let blob = 0
    for (let i = 0; i < this.parts.length; i++) {
      if (blob < this.blobs.length && this.blobs[blob]!.at === i) {
        out.set(this.blobs[blob]!.data, pos)
        pos += this.blobs[blob]!.data.byteLength
        blob++
      } else {
        out[pos++] = this.parts[i]!
      }
    }
    return out
  }
}

class PayloadReader {
  pos = 0
  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string,
    private readonly fail: (detail: string) => never,
  ) {}
  get remaining(): number {
    return this.buf.byteLength - this.pos
  }
  u8(): number {
    if (this.pos >= this.buf.byteLength) this.fail(`${this.what}: truncated`)
    return this.buf[this.pos++]!
  }
  uvarint(): number {
    let v = 0
    let scale = 1
    for (let i = 0; i < 8; i++) {
      const b = this.u8()
      v += (b & 0x7f) * scale
      if (b < 0x80) {
        if (v > Number.MAX_SAFE_INTEGER) this.fail(`${this.what}: varint exceeds 2^53 - 1`)
        return v
      }
      scale *= 0x80
    }
    return this.fail(`${this.what}: varint longer than 8 bytes`)
  }
  bytes(limit: number): Uint8Array {
    const n = this.uvarint()
    if (n > limit) this.fail(`${this.what}: field of ${n} bytes exceeds ${limit}`)
    if (n > this.remaining) this.fail(`${this.what}: field of ${n} bytes runs past the end`)
    const out = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }
  rest(): Uint8Array {
    const out = this.buf.subarray(this.pos)
    this.pos = this.buf.byteLength
    return out
  }
  end(): void {
    if (this.remaining !== 0) this.fail(`${this.what}: ${this.remaining} trailing bytes`)
  }
}

const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder('utf-8', { fatal: true })

function decodeUtf8(bytes: Uint8Array, fail: (detail: string) => never, field: string): string {
  try {
    return utf8Strict.decode(bytes)
  } catch {
    return fail(`${field} is not valid UTF-8`)
  }
}

// ---------------------------------------------------------------------------------------------
// Handshake

export type ConnectionPurpose = 'messages' | 'snapshot'
const PURPOSE_CODES: Record<ConnectionPurpose, number> = { messages: 1, snapshot: 2 }

export interface Hello {
  purpose: ConnectionPurpose
  from: NodeId
  to: NodeId
  clusterId: string
  token: string
}

export function encodeHello(h: Hello, version = PROTOCOL_VERSION): Buffer {
  const clusterId = utf8.encode(h.clusterId)
  const token = utf8.encode(h.token)
  if (clusterId.byteLength > CLUSTER_ID_BYTES_MAX || token.byteLength > TOKEN_BYTES_MAX) {
    throw new ProtocolError(
      `cluster id (${clusterId.byteLength} bytes) or token (${token.byteLength} bytes) exceeds ` +
        `${CLUSTER_ID_BYTES_MAX} / ${TOKEN_BYTES_MAX}`,
    )
  }
  const w = new PayloadWriter().raw(new Uint8Array(MAGIC))
  w.u8(version >>> 8).u8(version)
  w.u8(PURPOSE_CODES[h.purpose]).uvarint(h.from).uvarint(h.to).bytes(clusterId).bytes(token)
  return encodeFrame(FrameKind.Hello, w.finish())
}

/**
 * Parses a HELLO payload. Throws HandshakeRefusedError: 'malformed' for anything that does not
 * parse, 'version' for another protocol version (checked before the rest, whose layout may
 * differ between versions).
 */
export function decodeHello(payload: Uint8Array): Hello {
  const fail = (detail: string): never => {
    throw new HandshakeRefusedError('malformed', detail)
  }
  const r = new PayloadReader(payload, 'handshake', fail)
  for (const m of MAGIC) {
    if (r.u8() !== m) fail('bad magic (not a raftdesk peer)')
  }
  const version = (r.u8() << 8) | r.u8()
  if (version !== PROTOCOL_VERSION) {
    throw new HandshakeRefusedError(
      'version',
      `peer speaks protocol version ${version}, this node speaks ${PROTOCOL_VERSION}`,
    )
  }
  const purposeCode = r.u8()
  const purpose = (Object.keys(PURPOSE_CODES) as ConnectionPurpose[]).find(
    (p) => PURPOSE_CODES[p] === purposeCode,
  )
  if (purpose === undefined) fail(`unknown connection purpose ${purposeCode}`)
  const from = r.uvarint()
  const to = r.uvarint()
  const clusterId = decodeUtf8(r.bytes(CLUSTER_ID_BYTES_MAX), fail, 'cluster id')
  const token = decodeUtf8(r.bytes(TOKEN_BYTES_MAX), fail, 'token')
  r.end()
  if (from === 0 || to === 0) fail(`member ids must be non-zero (from ${from}, to ${to})`)
  return { purpose: purpose!, from, to, clusterId, token }
}

function truncatedDetail(detail: string): Uint8Array {
  const bytes = utf8.encode(detail)
  return bytes.byteLength <= DETAIL_BYTES_MAX ? bytes : bytes.subarray(0, DETAIL_BYTES_MAX)
}

export function encodeRefuse(reason: RefusalReason, detail: string): Buffer {
  const code = REFUSAL_REASONS.indexOf(reason) + 1
  return encodeFrame(
    FrameKind.Refuse,
    new PayloadWriter().u8(code).raw(truncatedDetail(detail)).finish(),
  )
}

export function decodeRefuse(payload: Uint8Array): HandshakeRefusedError {
  const fail = (detail: string): never => {
    throw new ProtocolError(detail)
  }
  const r = new PayloadReader(payload, 'refusal', fail)
  const code = r.u8()
  const reason = REFUSAL_REASONS[code - 1]
  if (reason === undefined) fail(`refusal with unknown reason code ${code}`)
  const detail = new TextDecoder().decode(r.rest())
  return new HandshakeRefusedError(reason!, `by the peer: ${detail}`)
}

export const ACCEPT_FRAME: Buffer = encodeFrame(FrameKind.Accept, new Uint8Array(0))

// ---------------------------------------------------------------------------------------------
// Snapshot stream payloads

/** The header of a SNAP_CHUNK frame (length, kind, crc); the chunk's bytes follow it. */
export function snapChunkHeader(data: Uint8Array): Buffer {
  const h = frameHeader(FrameKind.SnapChunk, 4 + data.byteLength)
  const crc = Buffer.allocUnsafe(4)
  crc.writeUInt32LE(crc32c(data), 0)
  return Buffer.concat([h, crc])
}

export const SNAP_CHUNK_OVERHEAD_BYTES = FRAME_HEADER_BYTES + 4

export function decodeSnapChunk(payload: Uint8Array): Uint8Array {
  if (payload.byteLength < 4) throw new ProtocolError('snapshot chunk shorter than its crc')
  const stored =
    (payload[0]! | (payload[1]! << 8) | (payload[2]! << 16) | (payload[3]! << 24)) >>> 0
  const data = payload.subarray(4)
  const actual = crc32c(data)
  if (stored !== actual) {
    throw new ProtocolError(
      `snapshot chunk checksum mismatch: stored ${stored.toString(16)}, computed ${actual.toString(16)}`,
    )
  }
  return data
}

export interface SnapEnd {
  totalBytes: number
  chunks: number
}

export function encodeSnapEnd(end: SnapEnd): Buffer {
  return encodeFrame(
    FrameKind.SnapEnd,
    new PayloadWriter().uvarint(end.totalBytes).uvarint(end.chunks).finish(),
  )
}

function protocolFail(detail: string): never {
  throw new ProtocolError(detail)
}

export function decodeSnapEnd(payload: Uint8Array): SnapEnd {
  const r = new PayloadReader(payload, 'snapshot end', protocolFail)
  const totalBytes = r.uvarint()
  const chunks = r.uvarint()
  r.end()
  return { totalBytes, chunks }
}

export function encodeCredit(bytes: number): Buffer {
  return encodeFrame(FrameKind.Credit, new PayloadWriter().uvarint(bytes).finish())
}

export function decodeCredit(payload: Uint8Array): number {
  const r = new PayloadReader(payload, 'credit', protocolFail)
  const n = r.uvarint()
  r.end()
  return n
}

export interface SnapResult {
  ok: boolean
  detail: string
}

export function encodeSnapResult(result: SnapResult): Buffer {
  return encodeFrame(
    FrameKind.SnapResult,
    new PayloadWriter()
      .u8(result.ok ? 1 : 0)
      .raw(truncatedDetail(result.detail))
      .finish(),
  )
}

export function decodeSnapResult(payload: Uint8Array): SnapResult {
  const r = new PayloadReader(payload, 'snapshot result', protocolFail)
  const ok = r.u8()
  if (ok > 1) protocolFail(`snapshot result code ${ok}`)
  return { ok: ok === 1, detail: new TextDecoder().decode(r.rest()) }
}
