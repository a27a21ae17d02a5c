/**
 * The binary codec for raft Messages on the wire (peer transport) and between in-memory
 * endpoints.
 *
 * Chosen by measurement over protobufjs and JSON+base64: see test/bench/transport.ts and the
 * figures in its header. It is a hand-rolled layout of unsigned LEB128 varints, so a heartbeat is
 * ~15 bytes, plus a CRC32C so that a corrupted buffer is refused instead of decoding into a
 * different but well-formed message.
 *
 * Layout of one encoded message (all varints unsigned LEB128, canonical: no trailing zero
 * groups, at most 8 bytes, value <= 2^53 - 1):
 *
 *   u8      message type code (MESSAGE_TYPE_CODES; append-only, never renumbered)
 *   u8      flags: bit 0 reject, bit 1 snapshot present, bit 2 context present; others zero
 *   varint  from, to, term, logTerm, index, commit, rejectHint
 *   [flag 2] varint contextBytes, bytes
 *   varint  entry count, then per entry:
 *             u8 entry type code (1 normal, 2 confChange), varint term, varint index,
 *             varint dataBytes, bytes
 *   [flag 1] snapshot: varint index, varint term, varint voter count, varint voters...,
 *             varint learner count, varint learners..., varint dataBytes, bytes
 *   u32le   CRC32C of every byte before it
 *
 * A snapshot is present exactly on MsgSnap. Whatever decodeMessage() returns has every field of
 * Message (as message() in raft/types.ts builds it); `snapshot` and `context` only when present.
 * The byte fields it returns (entry data, context, snapshot data) are views into the input
 * buffer: the caller must not reuse that buffer afterwards (the TCP transport gives every frame
 * its own allocation).
 *
 * Both directions validate and throw CodecError: on encode, numbers that are not safe
 * non-negative integers and unknown enum strings; on decode, a bad checksum, truncation, trailing
 * bytes, unknown enum codes or flag bits, counts larger than the remaining bytes could hold.
 */
import { ByteReader, isUvarint, putUvarint, uvarintSize } from '../kernel/bytes'
import { crc32c } from '@node-rs/crc32'
import type { Entry, EntryType, Message, MessageType, Snapshot } from '../raft/types'
import { CodecError } from './errors'

/** Wire codes of the message types. Part of the wire format: append only, never renumber. */
export const MESSAGE_TYPE_CODES: Readonly<Record<MessageType, number>> = {
  MsgHup: 1,
  MsgBeat: 2,
  MsgCheckQuorum: 3,
  MsgUnreachable: 4,
  MsgSnapStatus: 5,
  MsgProp: 6,
  MsgApp: 7,
  MsgAppResp: 8,
  MsgVote: 9,
  MsgVoteResp: 10,
  MsgPreVote: 11,
  MsgPreVoteResp: 12,
  MsgSnap: 13,
  MsgHeartbeat: 14,
  MsgHeartbeatResp: 15,
  MsgTransferLeader: 16,
  MsgTimeoutNow: 17,
  MsgReadIndex: 18,
  MsgReadIndexResp: 19,
}

const ENTRY_TYPE_CODES: Readonly<Record<EntryType, number>> = { normal: 1, confChange: 2 }

const TYPE_BY_CODE: (MessageType | undefined)[] = []
for (const [name, code] of Object.entries(MESSAGE_TYPE_CODES)) {
  TYPE_BY_CODE[code] = name as MessageType
}
const ENTRY_TYPE_BY_CODE: (EntryType | undefined)[] = [undefined, 'normal', 'confChange']

const FLAG_REJECT = 1
const FLAG_SNAPSHOT = 2
const FLAG_CONTEXT = 4
const FLAGS_KNOWN = FLAG_REJECT | FLAG_SNAPSHOT | FLAG_CONTEXT

const CRC_BYTES = 4
/** type + flags + 7 one-byte varints + entry count + crc. */
export const MESSAGE_BYTES_MIN = 2 + 7 + 1 + CRC_BYTES
/** Smallest encoded entry: type, term, index, data length. */
const ENTRY_BYTES_MIN = 4

// ---------------------------------------------------------------------------------------------
// Encoding

/** Bytes of the canonical varint of v; throws CodecError unless v is a safe non-negative int. */
function uvarintBytes(v: number, field: string): number {
  // The common case (a 32-bit value) without a call; the rest checked in full.
  if (v >>> 0 !== v && !isUvarint(v)) {
    throw new CodecError(`${field} must be a non-negative safe integer, got ${v}`)
  }
  return uvarintSize(v)
}

function bytesField(data: unknown, field: string): Uint8Array {
  if (!(data instanceof Uint8Array)) throw new CodecError(`${field} must be a Uint8Array`)
  return data
}

function entryBytes(e: Entry, i: number): number {
  if (ENTRY_TYPE_CODES[e.type] === undefined) {
    throw new CodecError(`entries[${i}].type ${JSON.stringify(e.type)} is not an entry type`)
  }
  const n = bytesField(e.data, `entries[${i}].data`).byteLength
  return (
    1 +
    uvarintBytes(e.term, `entries[${i}].term`) +
    uvarintBytes(e.index, `entries[${i}].index`) +
    uvarintBytes(n, 'entry data length') +
    n
  )
}

function idListBytes(ids: readonly number[], field: string): number {
  if (!Array.isArray(ids)) throw new CodecError(`${field} must be an array`)
  let n = uvarintBytes(ids.length, field)
  for (let i = 0; i < ids.length; i++) n += uvarintBytes(ids[i]!, `${field}[${i}]`)
  return n
}

function snapshotBytes(s: Snapshot): number {
  const md = s.metadata
  const n = bytesField(s.data, 'snapshot.data').byteLength
  return (
    uvarintBytes(md.index, 'snapshot.metadata.index') +
    uvarintBytes(md.term, 'snapshot.metadata.term') +
    idListBytes(md.confState.voters, 'snapshot.metadata.confState.voters') +
    idListBytes(md.confState.learners, 'snapshot.metadata.confState.learners') +
    uvarintBytes(n, 'snapshot data length') +
    n
  )
}

/** Exact size of encodeMessage(msg), validating every field on the way. */
export function encodedMessageBytes(msg: Message): number {
  if (MESSAGE_TYPE_CODES[msg.type] === undefined) {
    throw new CodecError(`message type ${JSON.stringify(msg.type)} is not a raft message type`)
  }
  if ((msg.snapshot !== undefined) !== (msg.type === 'MsgSnap')) {
    throw new CodecError(`${msg.type}: a snapshot is carried by MsgSnap and only by MsgSnap`)
  }
  if (!Array.isArray(msg.entries)) throw new CodecError('entries must be an array')
  let n =
    2 +
    uvarintBytes(msg.from, 'from') +
    uvarintBytes(msg.to, 'to') +
    uvarintBytes(msg.term, 'term') +
    uvarintBytes(msg.logTerm, 'logTerm') +
    uvarintBytes(msg.index, 'index') +
    uvarintBytes(msg.commit, 'commit') +
    uvarintBytes(msg.rejectHint, 'rejectHint') +
    uvarintBytes(msg.entries.length, 'entry count') +
    CRC_BYTES
  if (msg.context !== undefined) {
    const c = bytesField(msg.context, 'context').byteLength
    n += uvarintBytes(c, 'context length') + c
  }
  for (let i = 0; i < msg.entries.length; i++) n += entryBytes(msg.entries[i]!, i)
  if (msg.snapshot !== undefined) n += snapshotBytes(msg.snapshot)
  return n
}

function putBytes(buf: Uint8Array, pos: number, data: Uint8Array): number {
  pos = putUvarint(buf, pos, data.byteLength)
  buf.set(data, pos)
  return pos + data.byteLength
}

function putIdList(buf: Uint8Array, pos: number, ids: readonly number[]): number {
  pos = putUvarint(buf, pos, ids.length)
  for (const id of ids) pos = putUvarint(buf, pos, id)
  return pos
}

/**
 * Writes msg at buf[offset..offset + size), size = encodedMessageBytes(msg), which the caller has
 * computed (and so validated) before. Returns the end offset.
 */
export function writeMessage(msg: Message, buf: Uint8Array, offset: number, size: number): number {
  const end = offset + size
  if (end > buf.byteLength) {
    throw new CodecError(`writeMessage: ${size} bytes at ${offset} overrun ${buf.byteLength}`)
  }
  let pos = offset
  buf[pos++] = MESSAGE_TYPE_CODES[msg.type]
  buf[pos++] =
    (msg.reject ? FLAG_REJECT : 0) |
    (msg.snapshot !== undefined ? FLAG_SNAPSHOT : 0) |
    (msg.context !== undefined ? FLAG_CONTEXT : 0)
  pos = putUvarint(buf, pos, msg.from)
  pos = putUvarint(buf, pos, msg.to)
  pos = putUvarint(buf, pos, msg.term)
  pos = putUvarint(buf, pos, msg.logTerm)
  pos = putUvarint(buf, pos, msg.index)
  pos = putUvarint(buf, pos, msg.commit)
  pos = putUvarint(buf, pos, msg.rejectHint)
  if (msg.context !== undefined) pos = putBytes(buf, pos, msg.context)
  pos = putUvarint(buf, pos, msg.entries.length)
  for (const e of msg.entries) {
    buf[pos++] = ENTRY_TYPE_CODES[e.type]
    pos = putUvarint(buf, pos, e.term)
    pos = putUvarint(buf, pos, e.index)
    pos = putBytes(buf, pos, e.data)
  }
  const s = msg.snapshot
  if (s !== undefined) {
    pos = putUvarint(buf, pos, s.metadata.index)
    pos = putUvarint(buf, pos, s.metadata.term)
    pos = putIdList(buf, pos, s.metadata.confState.voters)
    pos = putIdList(buf, pos, s.metadata.confState.learners)
    pos = putBytes(buf, pos, s.data)
  }
  if (pos !== end - CRC_BYTES) {
    throw new CodecError(`writeMessage: wrote ${pos - offset + CRC_BYTES} bytes, sized ${size}`)
  }
  const crc = crc32c(buf.subarray(offset, pos))
  buf[pos++] = crc & 0xff
  buf[pos++] = (crc >>> 8) & 0xff
  buf[pos++] = (crc >>> 16) & 0xff
  buf[pos++] = crc >>> 24
  return pos
}

export function encodeMessage(msg: Message): Uint8Array {
  const size = encodedMessageBytes(msg)
  const buf = new Uint8Array(size)
  writeMessage(msg, buf, 0, size)
  return buf
}

// ---------------------------------------------------------------------------------------------
// Decoding

const codecError = (message: string) => new CodecError(message)

/** The peer codec's reader: kernel's, failing with CodecError, plus member id lists. */
class Reader extends ByteReader {
  constructor(buf: Uint8Array, start: number, end: number) {
    super(buf, codecError, start, end)
  }

  idList(field: string): number[] {
    const n = this.count(field, 1)
    const ids = new Array<number>(n)
    for (let i = 0; i < n; i++) {
      const id = this.uvarint(field)
      if (id === 0) this.fail(`${field}[${i}] is member id 0`)
      ids[i] = id
    }
    return ids
  }
}

function readEntry(r: Reader): Entry {
  const code = r.u8('entry type')
  const type = ENTRY_TYPE_BY_CODE[code]
  if (type === undefined) r.fail(`unknown entry type code ${code}`)
  const term = r.uvarint('entry term')
  const index = r.uvarint('entry index')
  return { term, index, type, data: r.bytes('entry data') }
}

function readSnapshot(r: Reader): Snapshot {
  const index = r.uvarint('snapshot index')
  const term = r.uvarint('snapshot term')
  const voters = r.idList('snapshot voters')
  const learners = r.idList('snapshot learners')
  return { metadata: { index, term, confState: { voters, learners } }, data: r.bytes('snapshot') }
}

/** Decodes one message occupying all of buf; throws CodecError on anything malformed. */
export function decodeMessage(buf: Uint8Array): Message {
  if (buf.byteLength < MESSAGE_BYTES_MIN) {
    throw new CodecError(`message of ${buf.byteLength} bytes is shorter than ${MESSAGE_BYTES_MIN}`)
  }
  const body = buf.byteLength - CRC_BYTES
  const stored =
    (buf[body]! | (buf[body + 1]! << 8) | (buf[body + 2]! << 16) | (buf[body + 3]! << 24)) >>> 0
  const actual = crc32c(buf.subarray(0, body))
  if (stored !== actual) {
    throw new CodecError(
      `checksum mismatch: stored crc32c ${stored.toString(16)}, computed ${actual.toString(16)}`,
    )
  }
  const r: Reader = new Reader(buf, 0, body)
  const code = r.u8('message type')
  const type = TYPE_BY_CODE[code]
  if (type === undefined) r.fail(`unknown message type code ${code}`)
  const flags = r.u8('flags')
  if ((flags & ~FLAGS_KNOWN) !== 0) r.fail(`unknown flag bits 0x${flags.toString(16)}`)
  const from = r.uvarint('from')
  const to = r.uvarint('to')
  const term = r.uvarint('term')
  const logTerm = r.uvarint('logTerm')
  const index = r.uvarint('index')
  const commit = r.uvarint('commit')
  const rejectHint = r.uvarint('rejectHint')
  const context = (flags & FLAG_CONTEXT) !== 0 ? r.bytes('context') : undefined
  const entryCount = r.count('entry count', ENTRY_BYTES_MIN)
  const entries = new Array<Entry>(entryCount)
  for (let i = 0; i < entryCount; i++) entries[i] = readEntry(r)
  const hasSnapshot = (flags & FLAG_SNAPSHOT) !== 0
  if (hasSnapshot !== (type === 'MsgSnap')) {
    r.fail(`${type} with snapshot flag ${hasSnapshot}: only MsgSnap carries a snapshot`)
  }
  const snapshot = hasSnapshot ? readSnapshot(r) : undefined
  r.expectEnd()
  const msg: Message = {
    type,
    from,
    to,
    term,
    logTerm,
    index,
    entries,
    commit,
    reject: (flags & FLAG_REJECT) !== 0,
    rejectHint,
  }
  if (snapshot !== undefined) msg.snapshot = snapshot
  if (context !== undefined) msg.context = context
  return msg
}
