/**
 * Reading a real etcd member's write-ahead log (`<data-dir>/member/wal`), read-only: what
 * etcd-dump-logs prints, for the WAL inspector. The formats are etcd's public facts (etcd 3.4
 * and 3.5 write the same):
 *
 * Segment files `%016x-%016x.wal` (sequence, first index), each a run of frames:
 *
 *   offset  size  field
 *        0     8  length field, u64 little-endian: the low 56 bits are the record's byte
 *                 count; when the top bit is set, bits 56..58 hold the padding after it
 *        8     n  walpb.Record (protobuf): type = 1 (int64), crc = 2 (uint32), data = 3 (bytes)
 *      8+n   pad  zero padding to a multiple of 8
 *
 * Record types: 1 metadata (etcdserverpb.Metadata: node id = 1, cluster id = 2), 2 entry
 * (raftpb.Entry: type = 1, term = 2, index = 3, data = 4), 3 hard state (raftpb.HardState:
 * term = 1, vote = 2, commit = 3), 4 crc (the chain value to continue from), 5 snapshot
 * (walpb.Snapshot: index = 1, term = 2).
 *
 * The crc chain is CRC-32C over the records' data: each record's crc is the chain value after
 * its data; a crc record carries the value at the end of the previous segment and the chain
 * continues from it. A zero length field (preallocated space never written) ends a segment.
 *
 * An entry's data is etcd's request: a conf change (raftpb.ConfChange: type = 2, node id = 3,
 * context = 4), an etcdserverpb.InternalRaftRequest for v3 (put = 4, delete range = 5, txn = 6,
 * compaction = 7, lease grant = 8, lease revoke = 9, alarm = 10, auth calls from 1000), or a v2
 * etcdserverpb.Request (method = 2, path = 3), which etcd 3.4 still uses to publish members and
 * the cluster version.
 */
import { open } from 'node:fs/promises'
import { crc32c } from '@node-rs/crc32'
import protobuf from 'protobufjs/minimal.js'

export const ETCD_RECORD_TYPES = {
  1: 'metadata',
  2: 'entry',
  3: 'hardState',
  4: 'crc',
  5: 'snapshot',
} as const
export type EtcdRecordType = (typeof ETCD_RECORD_TYPES)[keyof typeof ETCD_RECORD_TYPES]

/** A frame larger than this is damage, not a record (etcd's own limit is 10 MiB per entry). */
const FRAME_BYTES_MAX = 64 * 1024 * 1024

export interface EtcdWalRecord {
  offset: number
  /** On-disk bytes: length field, record and padding. */
  bytes: number
  type: EtcdRecordType
  crcOk: boolean
  index?: number
  term?: number
  /** The member voted for, hex ('' for nobody). */
  vote?: string
  commit?: number
  entryType?: 'normal' | 'confChange' | 'empty'
  op?: string
}

export interface EtcdSegmentScan {
  records: EtcdWalRecord[]
  /** Records in the segment (all of them, also those not kept). */
  total: number
  /** Chain value at the end, for the next segment. */
  crc: number
  damage?: { offset: number; reason: string; torn: boolean }
}

type Fields = Map<number, Array<bigint | Uint8Array>>

/** A protobuf message's fields by number (varints as numbers, length-delimited as bytes). */
function fieldsOf(buf: Uint8Array): Fields {
  const r = protobuf.Reader.create(buf)
  const out: Fields = new Map()
  while (r.pos < r.len) {
    const tag = r.uint32()
    const field = tag >>> 3
    let v: bigint | Uint8Array
    switch (tag & 7) {
      case 0:
        v = BigInt(r.uint64().toString())
        break
      case 2:
        v = r.bytes()
        break
      case 1:
        r.skip(8)
        continue
      case 5:
        r.skip(4)
        continue
      default:
        throw new Error(`wire type ${tag & 7} of field ${field}`)
    }
    const list = out.get(field) ?? []
    list.push(v)
    out.set(field, list)
  }
  return out
}

const big = (f: Fields, n: number): bigint => {
  const v = f.get(n)?.[0]
  return typeof v === 'bigint' ? v : 0n
}
const num = (f: Fields, n: number) => Number(big(f, n))
/** An id as etcdctl prints it (%016x; leases and members are 64-bit). */
const idHex = (v: bigint) => BigInt.asUintN(64, v).toString(16).padStart(16, '0')
const bytesOf = (f: Fields, n: number) => {
  const v = f.get(n)?.[0]
  return v instanceof Uint8Array ? v : new Uint8Array()
}

const UTF8 = new TextDecoder('utf-8', { fatal: true })
function text(b: Uint8Array): string {
  try {
    const s = UTF8.decode(b)
    // eslint-disable-next-line no-control-regex
    if (!/[\u0000-\u001f\u007f]/.test(s)) {
      return s.length > 64
        ? `${JSON.stringify(s.slice(0, 64))}…(${b.byteLength} bytes)`
        : JSON.stringify(s)
    }
  } catch {
    // not text: hex below
  }
  const shown = Buffer.from(b.subarray(0, 32)).toString('hex')
  return `0x${shown}${b.byteLength > 32 ? `…(${b.byteLength} bytes)` : ''}`
}

const CONF_CHANGE_TYPES = ['addVoter', 'removeNode', 'updateNode', 'addLearner']
const ALARM_ACTIONS = ['get', 'activate', 'deactivate']
const ALARMS = ['NONE', 'NOSPACE', 'CORRUPT']
/** InternalRaftRequest's auth fields, by number. */
const AUTH_CALLS: Record<number, string> = {
  1000: 'authEnable',
  1011: 'authDisable',
  1012: 'authenticate',
  1100: 'userAdd',
  1101: 'userDelete',
  1102: 'userGet',
  1103: 'userChangePassword',
  1104: 'userGrantRole',
  1105: 'userRevokeRole',
  1106: 'userList',
  1107: 'roleList',
  1200: 'roleAdd',
  1201: 'roleDelete',
  1202: 'roleGet',
  1203: 'roleGrantPermission',
  1204: 'roleRevokePermission',
}

function rangeText(f: Fields): string {
  const key = bytesOf(f, 1)
  const end = bytesOf(f, 2)
  if (end.byteLength === 0) return text(key)
  if (end.byteLength === 1 && end[0] === 0) return `${text(key)} and after`
  return `${text(key)} .. ${text(end)}`
}

/** etcd's request in an entry, as one line (etcd-dump-logs's job). */
export function describeEtcdRequest(data: Uint8Array): string {
  const f = fieldsOf(data)
  const sub = (n: number) => fieldsOf(bytesOf(f, n))
  // A bare v2 Request (id = 1, method = 2, path = 3), as etcd 3.4 publishes members and the
  // cluster version with; an InternalRaftRequest has no field 1.
  const method = Buffer.from(bytesOf(f, 2)).toString('latin1')
  if (typeof f.get(1)?.[0] === 'bigint' && /^[A-Z]{3,6}$/.test(method)) {
    return `v2 ${method} ${Buffer.from(bytesOf(f, 3)).toString()}`
  }
  if (f.has(4)) {
    const p = sub(4)
    const lease = big(p, 3)
    return `put ${text(bytesOf(p, 1))} = ${text(bytesOf(p, 2))}${lease ? ` lease ${idHex(lease)}` : ''}`
  }
  if (f.has(5)) return `delete ${rangeText(sub(5))}`
  if (f.has(6)) {
    const t = sub(6)
    const n = (k: number) => t.get(k)?.length ?? 0
    return `txn: ${n(1)} compares, ${n(2)} success ops, ${n(3)} failure ops`
  }
  if (f.has(7)) return `compact to revision ${num(sub(7), 1)}`
  if (f.has(8)) {
    const g = sub(8)
    return `lease grant ${idHex(big(g, 2))} ttl ${num(g, 1)}s`
  }
  if (f.has(9)) return `lease revoke ${idHex(big(sub(9), 1))}`
  if (f.has(10)) {
    const a = sub(10)
    return `alarm ${ALARM_ACTIONS[num(a, 1)] ?? num(a, 1)} ${ALARMS[num(a, 3)] ?? num(a, 3)}`
  }
  if (f.has(11)) return 'lease checkpoint'
  for (const [field, name] of Object.entries(AUTH_CALLS)) {
    if (!f.has(Number(field))) continue
    const who = bytesOf(f, Number(field))
    const inner = who.byteLength > 0 ? fieldsOf(who) : new Map()
    const subject = inner.get(1)?.[0]
    return `auth ${name}${subject instanceof Uint8Array ? ` ${Buffer.from(subject).toString()}` : ''}`
  }
  if (f.has(2)) {
    // v2 request inside InternalRaftRequest (3.4's own publications).
    const v2 = sub(2)
    return `v2 ${Buffer.from(bytesOf(v2, 2)).toString()} ${Buffer.from(bytesOf(v2, 3)).toString()}`
  }
  return `request ${text(data)}`
}

function describeEntry(entryBytes: Uint8Array, rec: EtcdWalRecord): void {
  const e = fieldsOf(entryBytes)
  rec.term = num(e, 2)
  rec.index = num(e, 3)
  const data = bytesOf(e, 4)
  if (num(e, 1) === 1) {
    rec.entryType = 'confChange'
    try {
      const cc = fieldsOf(data)
      rec.op = `${CONF_CHANGE_TYPES[num(cc, 2)] ?? `conf change ${num(cc, 2)}`} ${BigInt.asUintN(64, big(cc, 3)).toString(16)}`
    } catch {
      rec.op = `malformed conf change ${text(data)}`
    }
    return
  }
  if (data.byteLength === 0) {
    rec.entryType = 'empty'
    rec.op = "(empty: a new leader's first entry)"
    return
  }
  rec.entryType = 'normal'
  try {
    rec.op = describeEtcdRequest(data)
  } catch {
    rec.op = `undecodable ${text(data)}`
  }
}

/**
 * Scans one segment from the start, checking the crc chain from `crcIn` (the previous segment's
 * value). Keeps records [keepFrom, keepFrom + keepMax) by their number in the segment; counts
 * them all. Stops at the first damage and reports it (never throws for bad content).
 */
export async function scanEtcdSegment(
  path: string,
  opts: { crcIn?: number; keepFrom?: number; keepMax?: number } = {},
): Promise<EtcdSegmentScan> {
  const fh = await open(path, 'r')
  let buf: Buffer
  try {
    buf = await fh.readFile()
  } finally {
    await fh.close()
  }
  const keepFrom = opts.keepFrom ?? 0
  const keepMax = opts.keepMax ?? Infinity
  let crc = opts.crcIn ?? 0
  const records: EtcdWalRecord[] = []
  let total = 0
  let at = 0
  const damage = (reason: string, torn: boolean): EtcdSegmentScan => ({
    records,
    total,
    crc,
    damage: { offset: at, reason, torn },
  })
  while (at + 8 <= buf.byteLength) {
    const field = buf.readBigUInt64LE(at)
    if (field === 0n) break // preallocated space: the end of what was written
    const length = Number(field & 0x00ff_ffff_ffff_ffffn)
    const pad = field & 0x8000_0000_0000_0000n ? Number((field >> 56n) & 7n) : 0
    if (length > FRAME_BYTES_MAX) return damage(`record length ${length} is impossible`, false)
    if (at + 8 + length + pad > buf.byteLength) {
      return damage(`record of ${length} bytes runs past the end of the file`, true)
    }
    const body = buf.subarray(at + 8, at + 8 + length)
    let rec: Fields
    try {
      rec = fieldsOf(body)
    } catch (err) {
      return damage(
        `record is not a walpb.Record: ${(err as Error).message}`,
        zeroSectorIn(buf, at, at + 8 + length + pad),
      )
    }
    const typeCode = num(rec, 1)
    const type = ETCD_RECORD_TYPES[typeCode as keyof typeof ETCD_RECORD_TYPES]
    if (!type) {
      return damage(`unknown record type ${typeCode}`, zeroSectorIn(buf, at, at + 8 + length + pad))
    }
    const stored = num(rec, 2) >>> 0
    const data = bytesOf(rec, 3)
    let crcOk: boolean
    if (type === 'crc') {
      // The chain value carried over; a first segment starts from 0.
      crcOk = crc === 0 || stored === crc
      crc = stored
    } else {
      crc = crc32c(Buffer.from(data.buffer, data.byteOffset, data.byteLength), crc) >>> 0
      crcOk = stored === crc
    }
    const info: EtcdWalRecord = { offset: at, bytes: 8 + length + pad, type, crcOk }
    // Only data whose crc checks out is decoded; the record with a bad crc is listed undecoded.
    if (crcOk) {
      try {
        decodeRecord(type, data, info)
      } catch (err) {
        return damage(`malformed ${type} record: ${(err as Error).message}`, false)
      }
    }
    if (total >= keepFrom && records.length < keepMax) records.push(info)
    total++
    if (!crcOk) {
      // Reported at the record's own offset; counted among the records read.
      return {
        ...damage(`crc mismatch in a ${type} record`, zeroSectorIn(buf, at, at + 8 + length + pad)),
        total,
      }
    }
    at += 8 + length + pad
  }
  return { records, total, crc }
}

function decodeRecord(type: EtcdRecordType, data: Uint8Array, info: EtcdWalRecord): void {
  if (type === 'entry') describeEntry(data, info)
  else if (type === 'hardState') {
    const hs = fieldsOf(data)
    info.term = num(hs, 1)
    const vote = big(hs, 2)
    info.vote = vote === 0n ? '' : BigInt.asUintN(64, vote).toString(16)
    info.commit = num(hs, 3)
  } else if (type === 'snapshot') {
    const s = fieldsOf(data)
    info.index = num(s, 1)
    info.term = num(s, 2)
  }
}

/**
 * Whether a bad frame is what a crash leaves in etcd's zero-preallocated segment: some 512-byte
 * sector it overlaps reads as zeros from the frame (or the sector's start) to the sector's end,
 * a sector the crash kept from being written (etcd's decoder calls such an entry torn).
 */
function zeroSectorIn(buf: Uint8Array, from: number, to: number): boolean {
  const SECTOR = 512
  for (let s = from - (from % SECTOR); s < Math.min(to, buf.byteLength); s += SECTOR) {
    const end = Math.min(s + SECTOR, buf.byteLength)
    let zero = true
    for (let i = Math.max(s, from); i < end && zero; i++) if (buf[i] !== 0) zero = false
    if (zero) return true
  }
  return false
}

/** True when the segment's first record is etcd's framing (a length field, then a crc record). */
export function looksLikeEtcdSegment(head: Uint8Array): boolean {
  if (head.byteLength < 10) return false
  // walpb.Record field 1 (type, varint) = 4 (crc): etcd opens every segment with its crc record.
  return head[8] === 0x08 && head[9] === 0x04
}
