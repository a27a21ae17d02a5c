/**
 * The store's on-disk layout in classic-level (one LevelDB database, the node's `db/`).
 *
 * Every LevelDB key starts with a one-byte space tag:
 *
 *   'r' + revision (16 bytes, + 't' for a tombstone, see revision.ts)  -> record
 *   'l' + lease id (8 bytes big-endian)                                 -> lease
 *   'a' + 's' | 'u' + user name | 'r' + role name                       -> auth state, users,
 *                                                                           roles (auth.ts)
 *   'b' + member id (8 bytes) + alarm type (1 byte)                     -> raised alarm
 *                                                                           (alarms.ts)
 *   'm' + "state"                                                       -> state
 *   'm' + "format"                                                      -> format version
 *   'i' + chunk number (u32 big-endian), 'm' + "checkpoint"             -> index checkpoint
 *                                                                           (checkpoint.ts)
 *
 * The 'r' space is the history: ordered by revision, so one forward scan replays the store
 * (that is how the key index is rebuilt on open) and a scan from revision R yields every change
 * since R (how a watcher catches up).
 *
 * record (all integers unsigned big-endian; u64 values are below 2^53):
 *   u8  format = 1
 *   u8  flags: bit 0 = tombstone
 *   u64 main, u64 sub            the record's own revision, checked against its LevelDB key
 *   u64 createRevision           0 for a tombstone
 *   u64 version                  0 for a tombstone
 *   u64 lease                    0 for none and for a tombstone
 *   u32 key length, key bytes
 *   value bytes                  the rest; empty for a tombstone
 *
 * lease:   u64 ttlSeconds (as granted, after clamping to the minimum)
 * state:   u64 consistentIndex | u64 revision | u64 compactedRevision. Written in the same
 *          LevelDB batch as the data of every applied batch of entries, so the data on disk and
 *          the raft index it reflects can never disagree.
 * format:  u32 = 1
 */
import { CorruptionError } from './errors'
import type { KeyValue, LeaseId } from './types'
import {
  readBigUint64,
  readUint64,
  REVISION_BYTES,
  TOMBSTONE_MARKER,
  writeRevision,
  writeBigUint64,
  writeUint64,
} from './revision'

export const SPACE_RECORD = 0x72 // 'r'
export const SPACE_LEASE = 0x6c // 'l'
export const SPACE_META = 0x6d // 'm'
export const SPACE_CHECKPOINT = 0x69 // 'i'

export const FORMAT_VERSION = 1
const RECORD_FORMAT = 1
const FLAG_TOMBSTONE = 1
/** Bytes of a record before its key: format, flags, five u64, key length. */
export const RECORD_HEADER_BYTES = 2 + 5 * 8 + 4

export const META_STATE_KEY = metaKey('state')
export const META_FORMAT_KEY = metaKey('format')
export const META_CHECKPOINT_KEY = metaKey('checkpoint')

export function checkpointChunkKey(chunk: number): Uint8Array {
  const out = new Uint8Array(5)
  out[0] = SPACE_CHECKPOINT
  new DataView(out.buffer).setUint32(1, chunk)
  return out
}

function metaKey(name: string): Uint8Array {
  const out = new Uint8Array(1 + name.length)
  out[0] = SPACE_META
  for (let i = 0; i < name.length; i++) out[1 + i] = name.charCodeAt(i)
  return out
}

/** LevelDB key of the record at {main, sub}. */
export function recordKey(main: number, sub: number, tombstone: boolean): Uint8Array {
  const out = new Uint8Array(1 + REVISION_BYTES + (tombstone ? 1 : 0))
  out[0] = SPACE_RECORD
  writeRevision(out, 1, main, sub, tombstone)
  return out
}

/** The first LevelDB key of the records with main revision >= `main`. */
export function recordKeyLowerBound(main: number): Uint8Array {
  return recordKey(main, 0, false)
}

export function leaseKey(id: LeaseId): Uint8Array {
  const out = new Uint8Array(9)
  out[0] = SPACE_LEASE
  writeBigUint64(out, 1, id)
  return out
}

export function encodeLease(ttlSeconds: number): Uint8Array {
  const out = new Uint8Array(8)
  writeUint64(out, 0, ttlSeconds)
  return out
}

export interface StoreState {
  consistentIndex: number
  revision: number
  compactedRevision: number
}

export function encodeState(state: StoreState): Uint8Array {
  const out = new Uint8Array(24)
  writeUint64(out, 0, state.consistentIndex)
  writeUint64(out, 8, state.revision)
  writeUint64(out, 16, state.compactedRevision)
  return out
}

export function decodeState(bytes: Uint8Array): StoreState {
  if (bytes.length !== 24) throw new CorruptionError(`store state is ${bytes.length} bytes, not 24`)
  return {
    consistentIndex: readUint64(bytes, 0),
    revision: readUint64(bytes, 8),
    compactedRevision: readUint64(bytes, 16),
  }
}

export function encodeFormat(): Uint8Array {
  return new Uint8Array([0, 0, 0, FORMAT_VERSION])
}

export function decodeFormat(bytes: Uint8Array): number {
  if (bytes.length !== 4) throw new CorruptionError(`format marker is ${bytes.length} bytes, not 4`)
  return ((bytes[0]! << 24) >>> 0) + (bytes[1]! << 16) + (bytes[2]! << 8) + bytes[3]!
}

export interface RecordFields {
  main: number
  sub: number
  tombstone: boolean
  createRevision: number
  version: number
  lease: LeaseId
}

export function encodeRecord(fields: RecordFields, key: Uint8Array, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(RECORD_HEADER_BYTES + key.length + value.length)
  out[0] = RECORD_FORMAT
  out[1] = fields.tombstone ? FLAG_TOMBSTONE : 0
  writeUint64(out, 2, fields.main)
  writeUint64(out, 10, fields.sub)
  writeUint64(out, 18, fields.createRevision)
  writeUint64(out, 26, fields.version)
  writeBigUint64(out, 34, fields.lease)
  const n = key.length
  out[42] = n >>> 24
  out[43] = (n >>> 16) & 0xff
  out[44] = (n >>> 8) & 0xff
  out[45] = n & 0xff
  out.set(key, RECORD_HEADER_BYTES)
  out.set(value, RECORD_HEADER_BYTES + n)
  return out
}

/** A decoded record: its fields, and where its key and value lie in the record bytes. */
export interface RecordView extends RecordFields {
  keyStart: number
  keyEnd: number
}

/** Decodes a record's fields without copying the key or the value. */
export function decodeRecord(record: Uint8Array): RecordView {
  if (record.length < RECORD_HEADER_BYTES || record[0] !== RECORD_FORMAT) {
    throw new CorruptionError(
      `record of ${record.length} bytes with format byte ${record[0]} (want >= ${RECORD_HEADER_BYTES} bytes, format ${RECORD_FORMAT})`,
    )
  }
  const keyLength =
    ((record[42]! << 24) >>> 0) + (record[43]! << 16) + (record[44]! << 8) + record[45]!
  const keyEnd = RECORD_HEADER_BYTES + keyLength
  if (keyEnd > record.length) {
    throw new CorruptionError(
      `record key of ${keyLength} bytes overruns the record (${record.length})`,
    )
  }
  const tombstone = (record[1]! & FLAG_TOMBSTONE) !== 0
  const view: RecordView = {
    main: readUint64(record, 2),
    sub: readUint64(record, 10),
    tombstone,
    createRevision: readUint64(record, 18),
    version: readUint64(record, 26),
    lease: readBigUint64(record, 34),
    keyStart: RECORD_HEADER_BYTES,
    keyEnd,
  }
  if (tombstone && (keyEnd !== record.length || view.version !== 0)) {
    throw new CorruptionError(`tombstone record ${view.main}/${view.sub} carries a value`)
  }
  return view
}

/**
 * Checks that the LevelDB key `dbKey` (an 'r' key) names the revision the record says it has,
 * with the tombstone marker exactly when the record is a tombstone.
 */
export function checkRecordKey(dbKey: Uint8Array, view: RecordView): void {
  const tombstoneKey = dbKey.length === 2 + REVISION_BYTES
  const ok =
    dbKey[0] === SPACE_RECORD &&
    (dbKey.length === 1 + REVISION_BYTES || tombstoneKey) &&
    (!tombstoneKey || dbKey[1 + REVISION_BYTES] === TOMBSTONE_MARKER) &&
    tombstoneKey === view.tombstone &&
    readUint64(dbKey, 1) === view.main &&
    readUint64(dbKey, 9) === view.sub
  if (!ok) {
    throw new CorruptionError(
      `record ${view.main}/${view.sub}${view.tombstone ? ' (tombstone)' : ''} is stored under a key of ${dbKey.length} bytes that names another revision`,
    )
  }
}

/** Views into a record's bytes (no copies): its key and its value. */
export function recordKeyBytes(record: Uint8Array, view: RecordView): Uint8Array {
  return new Uint8Array(
    record.buffer,
    record.byteOffset + view.keyStart,
    view.keyEnd - view.keyStart,
  )
}

export function recordValueBytes(record: Uint8Array, view: RecordView): Uint8Array {
  return new Uint8Array(record.buffer, record.byteOffset + view.keyEnd, record.length - view.keyEnd)
}

/** The KeyValue a (non-tombstone) record stores. */
export function recordKeyValue(record: Uint8Array, view: RecordView): KeyValue {
  return {
    key: recordKeyBytes(record, view),
    createRevision: view.createRevision,
    modRevision: view.main,
    version: view.version,
    value: recordValueBytes(record, view),
    lease: view.lease,
  }
}
