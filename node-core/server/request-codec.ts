/**
 * The payload of a normal raft entry: one client write with the id of the request that proposed
 * it, in a compact binary layout (a put of an 8-byte key and a 256-byte value is 272 bytes).
 *
 * Layout (varints are unsigned LEB128, canonical, at most 2^53 - 1; `bytes` is a varint length
 * followed by that many bytes; `opt X` is a u8 0/1 then X when 1):
 *
 * `lease` is an int64 (lease id or compare operand) as its two's-complement u64 in LEB128, up to
 * 10 bytes; below 2^53 these are the same bytes as a varint, so logs written when lease ids were
 * numbers read back unchanged.
 *
 *   u8      format version: 1, or 2 when the request carries who sent it
 *   varint  request id (unique per proposing member; 0 for writes nobody waits on)
 *   (format 2 only) bytes user name (UTF-8), varint auth revision: etcd's RequestHeader
 *           username and auth_revision, what the permission checks at apply go by
 *   u8      op tag: 1 put, 2 deleteRange, 3 txn, 4 compaction, 5 leaseGrant, 6 leaseRevoke,
 *           7 auth, 8 alarm
 *   body    by tag:
 *     put          bytes key, bytes value, lease, u8 flags (1 prevKv, 2 ignoreValue,
 *                  4 ignoreLease)
 *     deleteRange  bytes key, opt bytes rangeEnd, u8 prevKv
 *     txn          varint n, n compares; varint n, n success ops; varint n, n failure ops
 *       compare    u8 result (1 equal 2 greater 3 less 4 notEqual), u8 target (1 version
 *                  2 create 3 mod 4 value 5 lease), bytes key, opt bytes rangeEnd, operand:
 *                  bytes for value, lease for lease, varint otherwise
 *       op         u8 kind (1 range, 2 put, 3 deleteRange, 4 txn), then that body
 *       range      bytes key, opt bytes rangeEnd, varint limit, varint revision, u8 sortOrder
 *                  (0 none 1 ascend 2 descend), u8 sortTarget (0 key 1 version 2 create 3 mod
 *                  4 value), u8 flags (1 serializable, 2 keysOnly, 4 countOnly), varint
 *                  minMod, maxMod, minCreate, maxCreate
 *     compaction   varint revision, u8 physical
 *     leaseGrant   lease id, varint ttlSeconds
 *     leaseRevoke  lease id
 *     auth         u8 kind, then by kind (`str` is bytes of UTF-8):
 *                  1 authEnable, 2 authDisable: nothing
 *                  3 authenticate: str name, str token prefix
 *                  4 userAdd: str name, opt password     5 userDelete: str name
 *                  6 userChangePassword: str name, password
 *                  7 userGrantRole, 8 userRevokeRole: str user, str role
 *                  9 roleAdd, 10 roleDelete: str role
 *                  11 roleGrantPermission: str role, u8 type (1 read 2 write 3 readwrite),
 *                     bytes key, bytes rangeEnd
 *                  12 roleRevokePermission: str role, bytes key, bytes rangeEnd
 *       password   str kdf ("scrypt"), varint N, r, p, bytes salt, bytes hash
 *     alarm        u8 action (1 activate, 2 deactivate), varint member id, u8 alarm (1 nospace,
 *                  2 corrupt)
 *
 * An empty payload is an entry without a write (a new leader's empty entry). Decoding checks
 * every length and tag and throws RequestCodecError; it never returns a partly read request.
 * Decoded byte fields are views into the input.
 */
import { ByteReader, ByteWriter, isInt64 } from '../kernel/bytes'
import { unreachable } from '../kernel/assert'
import type { AuthInfo, AuthOp, PasswordHash, PermissionType } from '../mvcc/auth'
import { ValidationError } from '../errors'
import type {
  Compare,
  CompareResult,
  CompareTarget,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  SortOrder,
  SortTarget,
  TxnRequest,
  WriteOp,
} from '../mvcc/types'

export class RequestCodecError extends ValidationError {
  constructor(message: string) {
    super('REQUEST_CODEC', message)
  }
}

export interface InternalRequest {
  id: number
  op: WriteOp
  /** Who sent it (absent: nobody, or auth is off). */
  who?: AuthInfo
}

const FORMAT_VERSION = 1
const FORMAT_VERSION_WITH_USER = 2
/** Nesting of txns inside txns; etcd allows nesting, we bound it so decoding cannot recurse away. */
export const TXN_DEPTH_MAX = 16

const COMPARE_RESULTS: readonly CompareResult[] = ['equal', 'greater', 'less', 'notEqual']
const COMPARE_TARGETS: readonly CompareTarget[] = ['version', 'create', 'mod', 'value', 'lease']
const SORT_ORDERS: readonly SortOrder[] = ['none', 'ascend', 'descend']
const SORT_TARGETS: readonly SortTarget[] = ['key', 'version', 'create', 'mod', 'value']

const codecError = (message: string) => new RequestCodecError(message)

/** Kernel's writer, failing with RequestCodecError, plus this layout's lease and optional forms. */
class Writer extends ByteWriter {
  constructor(sizeHint: number) {
    super(Math.max(64, sizeHint), codecError)
  }
  /** A lease id or operand (int64) as its two's-complement u64 (see the layout above). */
  lease(v: bigint): void {
    if (!isInt64(v)) {
      throw new RequestCodecError(`cannot encode lease ${v}: not a 64-bit integer`)
    }
    this.uvarint64(BigInt.asUintN(64, v), 'lease')
  }
  optBytes(b: Uint8Array | undefined): void {
    if (b === undefined) {
      this.u8(0)
    } else {
      this.u8(1)
      this.bytes(b)
    }
  }
}

/** Kernel's reader, failing with RequestCodecError, plus this layout's forms. */
class Reader extends ByteReader {
  constructor(buf: Uint8Array) {
    super(buf, codecError)
  }
  lease(): bigint {
    return BigInt.asIntN(64, this.uvarint64('lease'))
  }
  str(): string {
    const bytes = this.bytes('name')
    try {
      return UTF8.decode(bytes)
    } catch {
      return this.fail('a name that is not UTF-8')
    }
  }
  optBytes(): Uint8Array | undefined {
    const flag = this.u8('optional flag')
    if (flag > 1) this.fail(`bad optional flag ${flag}`)
    return flag === 1 ? this.bytes() : undefined
  }
  enumOf<T>(values: readonly T[], what: string, offset = 0): T {
    const code = this.u8(what) - offset
    const v = values[code]
    if (v === undefined) this.fail(`unknown ${what} code ${code + offset}`)
    return v
  }
}

export function encodeRequest(req: InternalRequest): Uint8Array {
  const w = new Writer(estimateBytes(req.op))
  w.u8(req.who ? FORMAT_VERSION_WITH_USER : FORMAT_VERSION)
  w.uvarint(req.id)
  if (req.who) {
    w.str(req.who.user)
    w.uvarint(req.who.revision)
  }
  writeOp(w, req.op)
  return w.done()
}

export function decodeRequest(data: Uint8Array): InternalRequest | null {
  if (data.byteLength === 0) return null
  const r = new Reader(data)
  const version = r.u8()
  if (version !== FORMAT_VERSION && version !== FORMAT_VERSION_WITH_USER) {
    throw new RequestCodecError(`unknown format version ${version}`)
  }
  const id = r.uvarint()
  const who =
    version === FORMAT_VERSION_WITH_USER ? { user: r.str(), revision: r.uvarint() } : undefined
  const op = readOp(r)
  if (r.remaining !== 0) r.fail(`${r.remaining} trailing bytes after the request`)
  return who ? { id, op, who } : { id, op }
}

function estimateBytes(op: WriteOp): number {
  return op.type === 'put' ? 24 + op.put.key.byteLength + op.put.value.byteLength : 256
}

function writeOp(w: Writer, op: WriteOp): void {
  switch (op.type) {
    case 'put':
      w.u8(1)
      return writePut(w, op.put)
    case 'deleteRange':
      w.u8(2)
      return writeDelete(w, op.deleteRange)
    case 'txn':
      w.u8(3)
      return writeTxn(w, op.txn, 0)
    case 'compaction':
      w.u8(4)
      w.uvarint(op.compaction.revision)
      return w.u8(op.compaction.physical ? 1 : 0)
    case 'leaseGrant':
      w.u8(5)
      w.lease(op.leaseGrant.id)
      return w.uvarint(op.leaseGrant.ttlSeconds)
    case 'leaseRevoke':
      w.u8(6)
      return w.lease(op.leaseRevoke.id)
    case 'auth':
      w.u8(7)
      return writeAuth(w, op.auth)
    case 'alarm':
      w.u8(8)
      w.u8(op.alarm.action === 'activate' ? 1 : 2)
      w.uvarint(op.alarm.memberId)
      return w.u8(op.alarm.alarm === 'nospace' ? 1 : 2)
    default:
      return unreachable(op, 'write op')
  }
}

function readOp(r: Reader): WriteOp {
  const tag = r.u8()
  switch (tag) {
    case 1:
      return { type: 'put', put: readPut(r) }
    case 2:
      return { type: 'deleteRange', deleteRange: readDelete(r) }
    case 3:
      return { type: 'txn', txn: readTxn(r, 0) }
    case 4: {
      const revision = r.uvarint()
      return { type: 'compaction', compaction: { revision, physical: r.u8() === 1 } }
    }
    case 5: {
      const id = r.lease()
      return { type: 'leaseGrant', leaseGrant: { id, ttlSeconds: r.uvarint() } }
    }
    case 6:
      return { type: 'leaseRevoke', leaseRevoke: { id: r.lease() } }
    case 7:
      return { type: 'auth', auth: readAuth(r) }
    case 8: {
      const action = r.enumOf(['activate', 'deactivate'] as const, 'alarm action', 1)
      const memberId = r.uvarint()
      const alarm = r.enumOf(['nospace', 'corrupt'] as const, 'alarm', 1)
      return { type: 'alarm', alarm: { action, memberId, alarm } }
    }
    default:
      throw new RequestCodecError(`unknown op tag ${tag}`)
  }
}

const PERMISSION_TYPES: readonly PermissionType[] = ['read', 'write', 'readwrite']
const UTF8 = new TextDecoder('utf-8', { fatal: true })

function writePassword(w: Writer, p: PasswordHash): void {
  w.str(p.kdf)
  w.uvarint(p.N)
  w.uvarint(p.r)
  w.uvarint(p.p)
  w.bytes(p.salt)
  w.bytes(p.hash)
}

function readPassword(r: Reader): PasswordHash {
  const kdf = r.str()
  if (kdf !== 'scrypt') throw new RequestCodecError(`unknown password hash ${JSON.stringify(kdf)}`)
  return { kdf, N: r.uvarint(), r: r.uvarint(), p: r.uvarint(), salt: r.bytes(), hash: r.bytes() }
}

function writeAuth(w: Writer, op: AuthOp): void {
  switch (op.type) {
    case 'authEnable':
      return w.u8(1)
    case 'authDisable':
      return w.u8(2)
    case 'authenticate':
      w.u8(3)
      w.str(op.name)
      return w.str(op.tokenPrefix)
    case 'userAdd':
      w.u8(4)
      w.str(op.name)
      w.u8(op.password === null ? 0 : 1)
      if (op.password !== null) writePassword(w, op.password)
      return
    case 'userDelete':
      w.u8(5)
      return w.str(op.name)
    case 'userChangePassword':
      w.u8(6)
      w.str(op.name)
      return writePassword(w, op.password)
    case 'userGrantRole':
      w.u8(7)
      w.str(op.user)
      return w.str(op.role)
    case 'userRevokeRole':
      w.u8(8)
      w.str(op.name)
      return w.str(op.role)
    case 'roleAdd':
      w.u8(9)
      return w.str(op.name)
    case 'roleDelete':
      w.u8(10)
      return w.str(op.role)
    case 'roleGrantPermission':
      w.u8(11)
      w.str(op.name)
      w.u8(PERMISSION_TYPES.indexOf(op.perm.type) + 1)
      w.bytes(op.perm.key)
      return w.bytes(op.perm.rangeEnd)
    case 'roleRevokePermission':
      w.u8(12)
      w.str(op.role)
      w.bytes(op.key)
      return w.bytes(op.rangeEnd)
    default:
      return unreachable(op, 'auth op')
  }
}

function readAuth(r: Reader): AuthOp {
  const kind = r.u8()
  switch (kind) {
    case 1:
      return { type: 'authEnable' }
    case 2:
      return { type: 'authDisable' }
    case 3:
      return { type: 'authenticate', name: r.str(), tokenPrefix: r.str() }
    case 4: {
      const name = r.str()
      const flag = r.u8()
      if (flag > 1) r.fail(`bad optional flag ${flag}`)
      return { type: 'userAdd', name, password: flag === 1 ? readPassword(r) : null }
    }
    case 5:
      return { type: 'userDelete', name: r.str() }
    case 6:
      return { type: 'userChangePassword', name: r.str(), password: readPassword(r) }
    case 7:
      return { type: 'userGrantRole', user: r.str(), role: r.str() }
    case 8:
      return { type: 'userRevokeRole', name: r.str(), role: r.str() }
    case 9:
      return { type: 'roleAdd', name: r.str() }
    case 10:
      return { type: 'roleDelete', role: r.str() }
    case 11: {
      const name = r.str()
      const type = r.enumOf(PERMISSION_TYPES, 'permission type', 1)
      return {
        type: 'roleGrantPermission',
        name,
        perm: { type, key: r.bytes(), rangeEnd: r.bytes() },
      }
    }
    case 12:
      return { type: 'roleRevokePermission', role: r.str(), key: r.bytes(), rangeEnd: r.bytes() }
    default:
      throw new RequestCodecError(`unknown auth op kind ${kind}`)
  }
}

function writePut(w: Writer, p: PutRequest): void {
  w.bytes(p.key)
  w.bytes(p.value)
  w.lease(p.lease ?? 0n)
  w.u8((p.prevKv ? 1 : 0) | (p.ignoreValue ? 2 : 0) | (p.ignoreLease ? 4 : 0))
}

function readPut(r: Reader): PutRequest {
  const key = r.bytes()
  const value = r.bytes()
  const lease = r.lease()
  const flags = r.u8()
  if (flags > 7) throw new RequestCodecError(`bad put flags ${flags}`)
  const put: PutRequest = { key, value }
  if (lease !== 0n) put.lease = lease
  if (flags & 1) put.prevKv = true
  if (flags & 2) put.ignoreValue = true
  if (flags & 4) put.ignoreLease = true
  return put
}

function writeDelete(w: Writer, d: DeleteRangeRequest): void {
  w.bytes(d.key)
  w.optBytes(d.rangeEnd)
  w.u8(d.prevKv ? 1 : 0)
}

function readDelete(r: Reader): DeleteRangeRequest {
  const key = r.bytes()
  const rangeEnd = r.optBytes()
  const prevKv = r.u8() === 1
  const d: DeleteRangeRequest = { key }
  if (rangeEnd !== undefined) d.rangeEnd = rangeEnd
  if (prevKv) d.prevKv = true
  return d
}

function writeRange(w: Writer, q: RangeRequest): void {
  w.bytes(q.key)
  w.optBytes(q.rangeEnd)
  w.uvarint(q.limit ?? 0)
  w.uvarint(q.revision ?? 0)
  w.u8(SORT_ORDERS.indexOf(q.sortOrder ?? 'none'))
  w.u8(SORT_TARGETS.indexOf(q.sortTarget ?? 'key'))
  w.u8((q.serializable ? 1 : 0) | (q.keysOnly ? 2 : 0) | (q.countOnly ? 4 : 0))
  w.uvarint(q.minModRevision ?? 0)
  w.uvarint(q.maxModRevision ?? 0)
  w.uvarint(q.minCreateRevision ?? 0)
  w.uvarint(q.maxCreateRevision ?? 0)
}

function readRange(r: Reader): RangeRequest {
  const key = r.bytes()
  const rangeEnd = r.optBytes()
  const q: RangeRequest = { key }
  if (rangeEnd !== undefined) q.rangeEnd = rangeEnd
  const limit = r.uvarint()
  const revision = r.uvarint()
  const sortOrder = r.enumOf(SORT_ORDERS, 'sort order')
  const sortTarget = r.enumOf(SORT_TARGETS, 'sort target')
  const flags = r.u8()
  if (flags > 7) throw new RequestCodecError(`bad range flags ${flags}`)
  if (limit) q.limit = limit
  if (revision) q.revision = revision
  if (sortOrder !== 'none') q.sortOrder = sortOrder
  if (sortTarget !== 'key') q.sortTarget = sortTarget
  if (flags & 1) q.serializable = true
  if (flags & 2) q.keysOnly = true
  if (flags & 4) q.countOnly = true
  const minMod = r.uvarint()
  const maxMod = r.uvarint()
  const minCreate = r.uvarint()
  const maxCreate = r.uvarint()
  if (minMod) q.minModRevision = minMod
  if (maxMod) q.maxModRevision = maxMod
  if (minCreate) q.minCreateRevision = minCreate
  if (maxCreate) q.maxCreateRevision = maxCreate
  return q
}

function writeCompare(w: Writer, c: Compare): void {
  w.u8(COMPARE_RESULTS.indexOf(c.result) + 1)
  w.u8(COMPARE_TARGETS.indexOf(c.target) + 1)
  w.bytes(c.key)
  w.optBytes(c.rangeEnd)
  switch (c.target) {
    case 'value':
      w.bytes(c.value ?? new Uint8Array(0))
      break
    case 'version':
      w.uvarint(c.version ?? 0)
      break
    case 'create':
      w.uvarint(c.createRevision ?? 0)
      break
    case 'mod':
      w.uvarint(c.modRevision ?? 0)
      break
    case 'lease':
      w.lease(c.lease ?? 0n)
      break
  }
}

function readCompare(r: Reader): Compare {
  const result = r.enumOf(COMPARE_RESULTS, 'compare result', 1)
  const target = r.enumOf(COMPARE_TARGETS, 'compare target', 1)
  const key = r.bytes()
  const rangeEnd = r.optBytes()
  const c: Compare = { result, target, key }
  if (rangeEnd !== undefined) c.rangeEnd = rangeEnd
  switch (target) {
    case 'value':
      c.value = r.bytes()
      break
    case 'version':
      c.version = r.uvarint()
      break
    case 'create':
      c.createRevision = r.uvarint()
      break
    case 'mod':
      c.modRevision = r.uvarint()
      break
    case 'lease':
      c.lease = r.lease()
      break
  }
  return c
}

function writeRequestOp(w: Writer, op: RequestOp, depth: number): void {
  if ('requestRange' in op) {
    w.u8(1)
    writeRange(w, op.requestRange)
  } else if ('requestPut' in op) {
    w.u8(2)
    writePut(w, op.requestPut)
  } else if ('requestDeleteRange' in op) {
    w.u8(3)
    writeDelete(w, op.requestDeleteRange)
  } else {
    w.u8(4)
    writeTxn(w, op.requestTxn, depth + 1)
  }
}

function readRequestOp(r: Reader, depth: number): RequestOp {
  const kind = r.u8()
  switch (kind) {
    case 1:
      return { requestRange: readRange(r) }
    case 2:
      return { requestPut: readPut(r) }
    case 3:
      return { requestDeleteRange: readDelete(r) }
    case 4:
      return { requestTxn: readTxn(r, depth + 1) }
    default:
      throw new RequestCodecError(`unknown txn op kind ${kind}`)
  }
}

function writeTxn(w: Writer, t: TxnRequest, depth: number): void {
  if (depth > TXN_DEPTH_MAX) throw new RequestCodecError(`txn nested deeper than ${TXN_DEPTH_MAX}`)
  w.uvarint(t.compare.length)
  for (const c of t.compare) writeCompare(w, c)
  w.uvarint(t.success.length)
  for (const op of t.success) writeRequestOp(w, op, depth)
  w.uvarint(t.failure.length)
  for (const op of t.failure) writeRequestOp(w, op, depth)
}

function readTxn(r: Reader, depth: number): TxnRequest {
  if (depth > TXN_DEPTH_MAX) throw new RequestCodecError(`txn nested deeper than ${TXN_DEPTH_MAX}`)
  const compare: Compare[] = []
  for (let n = r.count('compare count', 1); n > 0; n--) compare.push(readCompare(r))
  const success: RequestOp[] = []
  for (let n = r.count('success op count', 1); n > 0; n--) success.push(readRequestOp(r, depth))
  const failure: RequestOp[] = []
  for (let n = r.count('failure op count', 1); n > 0; n--) failure.push(readRequestOp(r, depth))
  return { compare, success, failure }
}
