/**
 * One-to-one mapping between etcd's v3 protobuf messages (as proto-loader decodes them, see
 * wire.ts) and raftdesk's request/response types (node-core/mvcc/types.ts, backend.ts).
 *
 * Integers: etcd's int64/uint64 fields arrive as decimal strings. Lease ids (and lease compare
 * operands) are taken whole as bigints, int64 like etcd's. raftdesk keeps every other id,
 * revision, count and TTL exactly representable as a JavaScript number, so a value whose
 * magnitude is 2^53 or more is refused with a ValidationError (INVALID_ARGUMENT) naming the
 * field, never rounded. Member and watch ids must also be non-negative. Outgoing numbers are
 * asserted to be safe integers: a backend handing out anything else is a bug, reported loudly.
 *
 * Conventions carried over from etcd:
 * - An empty range_end means "the key alone" and becomes an absent rangeEnd.
 * - A range revision <= 0 means "the current revision" and becomes 0.
 * - Compare reads the operand that matches its target; a missing operand compares with zero
 *   (or empty bytes), as etcd does.
 * - Responses nested in a txn carry a header with the revision only.
 */
import { isInt64 } from '../kernel/bytes'
import { ValidationError } from '../errors'
import type {
  Compare,
  CompareResult,
  CompareTarget,
  CompactionRequest,
  DeleteRangeRequest,
  DeleteRangeResponse,
  Event,
  KeyValue,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  RequestOp,
  ResponseOp,
  SortOrder,
  SortTarget,
  TxnRequest,
  TxnResponse,
} from '../mvcc/types'
import type {
  AlarmAction,
  AlarmMember,
  AlarmRequest,
  AlarmType,
  HeaderInfo,
  Member,
  MemberStatus,
  WatchFilter,
} from '../server/port'
import { API_INPUT_CODES } from './errors'
import type {
  EnumValue,
  PbAlarmRequest,
  PbCompactionRequest,
  PbCompare,
  PbDeleteRangeRequest,
  PbMember,
  PbPutRequest,
  PbRangeRequest,
  PbRequestOp,
  PbTxnRequest,
} from './wire'

// ---- integers ----

/** Parses a signed int64 field; |value| must stay below 2^53. */
export function int64(raw: string | number, field: string): number {
  const value = typeof raw === 'number' ? raw : Number(raw)
  if (!Number.isSafeInteger(value)) {
    throw new ValidationError(
      API_INPUT_CODES.INT64_OUT_OF_RANGE,
      `raftdesk: ${field} = ${String(raw)} is out of range: raftdesk accepts integers of ` +
        `magnitude below 2^53 (9007199254740992) only`,
    )
  }
  return value
}

/** Parses an id (lease, member, watch): 0 <= id < 2^53. */
export function id64(raw: string | number, field: string): number {
  const value = int64(raw, field)
  if (value < 0) {
    throw new ValidationError(
      API_INPUT_CODES.INT64_OUT_OF_RANGE,
      `raftdesk: ${field} = ${String(raw)} is negative; raftdesk ids are in [0, 2^53)`,
    )
  }
  return value
}

/** Parses a lease id or a lease compare operand: any int64, exactly. */
export function leaseId(raw: string | number, field: string): bigint {
  const value = /^-?\d+$/.test(String(raw)) ? BigInt(raw) : undefined
  if (value === undefined || !isInt64(value)) {
    throw new ValidationError(
      API_INPUT_CODES.INT64_OUT_OF_RANGE,
      `raftdesk: ${field} = ${String(raw)} is not a 64-bit signed integer`,
    )
  }
  return value
}

/** A lease id as the wire carries int64s (a decimal string: exact beyond 2^53). */
export function outLease(id: bigint): string {
  return id.toString()
}

/** Asserts that a number the backend handed out is a safe integer (a broken one is a bug). */
export function outInt(value: number, field: string): number {
  if (!Number.isSafeInteger(value)) {
    throw new Error(`backend returned ${field} = ${value}, which is not a safe integer`)
  }
  return value
}

// ---- enums ----

function enumOf<T extends string>(table: Record<string, T>, enumName: string) {
  return (raw: EnumValue, field: string): T => {
    const mapped = typeof raw === 'string' ? table[raw] : undefined
    if (mapped === undefined) {
      throw new ValidationError(
        API_INPUT_CODES.UNKNOWN_ENUM_VALUE,
        `raftdesk: ${field} = ${String(raw)} is not a known ${enumName} value`,
      )
    }
    return mapped
  }
}

const sortOrder = enumOf<SortOrder>(
  { NONE: 'none', ASCEND: 'ascend', DESCEND: 'descend' },
  'RangeRequest.SortOrder',
)
const sortTarget = enumOf<SortTarget>(
  { KEY: 'key', VERSION: 'version', CREATE: 'create', MOD: 'mod', VALUE: 'value' },
  'RangeRequest.SortTarget',
)
const compareResult = enumOf<CompareResult>(
  { EQUAL: 'equal', GREATER: 'greater', LESS: 'less', NOT_EQUAL: 'notEqual' },
  'Compare.CompareResult',
)
const compareTarget = enumOf<CompareTarget>(
  { VERSION: 'version', CREATE: 'create', MOD: 'mod', VALUE: 'value', LEASE: 'lease' },
  'Compare.CompareTarget',
)
export const watchFilter = enumOf<WatchFilter>(
  { NOPUT: 'noPut', NODELETE: 'noDelete' },
  'WatchCreateRequest.FilterType',
)
const alarmAction = enumOf<AlarmAction>(
  { GET: 'get', ACTIVATE: 'activate', DEACTIVATE: 'deactivate' },
  'AlarmRequest.AlarmAction',
)
const alarmType = enumOf<AlarmType>(
  { NONE: 'none', NOSPACE: 'nospace', CORRUPT: 'corrupt' },
  'AlarmType',
)
const ALARM_TYPE_OUT: Record<AlarmType, string> = {
  none: 'NONE',
  nospace: 'NOSPACE',
  corrupt: 'CORRUPT',
}

// ---- requests: protobuf -> raftdesk ----

function nonEmpty(bytes: Buffer): Uint8Array | undefined {
  return bytes.length === 0 ? undefined : bytes
}

export function rangeRequestFromPb(pb: PbRangeRequest, at = 'RangeRequest'): RangeRequest {
  const revision = int64(pb.revision, `${at}.revision`)
  const limit = int64(pb.limit, `${at}.limit`)
  return {
    key: pb.key,
    rangeEnd: nonEmpty(pb.rangeEnd),
    limit: limit > 0 ? limit : 0,
    revision: revision > 0 ? revision : 0,
    sortOrder: sortOrder(pb.sortOrder, `${at}.sort_order`),
    sortTarget: sortTarget(pb.sortTarget, `${at}.sort_target`),
    serializable: pb.serializable,
    keysOnly: pb.keysOnly,
    countOnly: pb.countOnly,
    minModRevision: int64(pb.minModRevision, `${at}.min_mod_revision`),
    maxModRevision: int64(pb.maxModRevision, `${at}.max_mod_revision`),
    minCreateRevision: int64(pb.minCreateRevision, `${at}.min_create_revision`),
    maxCreateRevision: int64(pb.maxCreateRevision, `${at}.max_create_revision`),
  }
}

export function putRequestFromPb(pb: PbPutRequest, at = 'PutRequest'): PutRequest {
  return {
    key: pb.key,
    value: pb.value,
    lease: leaseId(pb.lease, `${at}.lease`),
    prevKv: pb.prevKv,
    ignoreValue: pb.ignoreValue,
    ignoreLease: pb.ignoreLease,
  }
}

export function deleteRangeRequestFromPb(pb: PbDeleteRangeRequest): DeleteRangeRequest {
  return { key: pb.key, rangeEnd: nonEmpty(pb.rangeEnd), prevKv: pb.prevKv }
}

function compareFromPb(pb: PbCompare, at: string): Compare {
  const target = compareTarget(pb.target, `${at}.target`)
  const cmp: Compare = {
    result: compareResult(pb.result, `${at}.result`),
    target,
    key: pb.key,
    rangeEnd: nonEmpty(pb.rangeEnd),
  }
  const set = pb.targetUnion
  switch (target) {
    case 'version':
      cmp.version = set === 'version' ? int64(pb.version ?? '0', `${at}.version`) : 0
      break
    case 'create':
      cmp.createRevision =
        set === 'createRevision' ? int64(pb.createRevision ?? '0', `${at}.create_revision`) : 0
      break
    case 'mod':
      cmp.modRevision =
        set === 'modRevision' ? int64(pb.modRevision ?? '0', `${at}.mod_revision`) : 0
      break
    case 'value':
      cmp.value = set === 'value' && pb.value ? pb.value : new Uint8Array(0)
      break
    case 'lease':
      cmp.lease = set === 'lease' ? leaseId(pb.lease ?? '0', `${at}.lease`) : 0n
      break
  }
  return cmp
}

function requestOpFromPb(pb: PbRequestOp, at: string): RequestOp {
  switch (pb.request) {
    case 'requestRange':
      return { requestRange: rangeRequestFromPb(pb.requestRange!, `${at}.request_range`) }
    case 'requestPut':
      return { requestPut: putRequestFromPb(pb.requestPut!, `${at}.request_put`) }
    case 'requestDeleteRange':
      return { requestDeleteRange: deleteRangeRequestFromPb(pb.requestDeleteRange!) }
    case 'requestTxn':
      return { requestTxn: txnRequestFromPb(pb.requestTxn!, `${at}.request_txn`) }
    default:
      // validate.ts refuses empty ops (etcd's "key not found") before conversion.
      throw new Error(`${at}: empty RequestOp reached the codec; validation must refuse it`)
  }
}

/** Converts a txn; validate.ts has already bounded its size and nesting. */
export function txnRequestFromPb(pb: PbTxnRequest, at = 'TxnRequest'): TxnRequest {
  return {
    compare: pb.compare.map((c, i) => compareFromPb(c, `${at}.compare[${i}]`)),
    success: pb.success.map((op, i) => requestOpFromPb(op, `${at}.success[${i}]`)),
    failure: pb.failure.map((op, i) => requestOpFromPb(op, `${at}.failure[${i}]`)),
  }
}

export function compactionRequestFromPb(pb: PbCompactionRequest): CompactionRequest {
  return { revision: int64(pb.revision, 'CompactionRequest.revision'), physical: pb.physical }
}

export function alarmRequestFromPb(pb: PbAlarmRequest): AlarmRequest {
  return {
    action: alarmAction(pb.action, 'AlarmRequest.action'),
    memberId: id64(pb.memberID, 'AlarmRequest.memberID'),
    alarm: alarmType(pb.alarm, 'AlarmRequest.alarm'),
  }
}

// ---- responses: raftdesk -> protobuf ----

export interface PbResponseHeader {
  clusterId: number
  memberId: number
  revision: number
  raftTerm: number
}

/** A full header: cluster, member and term from the backend, and the given revision. */
export function pbHeader(info: HeaderInfo, revision: number): PbResponseHeader {
  return {
    clusterId: outInt(info.clusterId, 'header.cluster_id'),
    memberId: outInt(info.memberId, 'header.member_id'),
    revision: outInt(revision, 'header.revision'),
    raftTerm: outInt(info.raftTerm, 'header.raft_term'),
  }
}

export function pbKeyValue(kv: KeyValue) {
  return {
    key: kv.key,
    createRevision: outInt(kv.createRevision, 'kv.create_revision'),
    modRevision: outInt(kv.modRevision, 'kv.mod_revision'),
    version: outInt(kv.version, 'kv.version'),
    value: kv.value,
    lease: outLease(kv.lease),
  }
}

type HeaderLike = PbResponseHeader | { revision: number }

export function pbRangeResponse(res: RangeResponse, header: HeaderLike) {
  return {
    header,
    kvs: res.kvs.map(pbKeyValue),
    more: res.more,
    count: outInt(res.count, 'range.count'),
  }
}

export function pbPutResponse(res: PutResponse, header: HeaderLike) {
  return { header, prevKv: res.prevKv ? pbKeyValue(res.prevKv) : null }
}

export function pbDeleteRangeResponse(res: DeleteRangeResponse, header: HeaderLike) {
  return {
    header,
    deleted: outInt(res.deleted, 'delete.deleted'),
    prevKvs: res.prevKvs.map(pbKeyValue),
  }
}

function pbResponseOp(op: ResponseOp): object {
  if ('responseRange' in op) {
    const r = op.responseRange
    return { responseRange: pbRangeResponse(r, { revision: r.revision }) }
  }
  if ('responsePut' in op) {
    const r = op.responsePut
    return { responsePut: pbPutResponse(r, { revision: r.revision }) }
  }
  if ('responseDeleteRange' in op) {
    const r = op.responseDeleteRange
    return { responseDeleteRange: pbDeleteRangeResponse(r, { revision: r.revision }) }
  }
  const r = op.responseTxn
  return { responseTxn: pbTxnResponse(r, { revision: r.revision }) }
}

export function pbTxnResponse(res: TxnResponse, header: HeaderLike): object {
  return { header, succeeded: res.succeeded, responses: res.responses.map(pbResponseOp) }
}

export function pbEvent(ev: Event) {
  return {
    type: ev.type === 'put' ? 'PUT' : 'DELETE',
    kv: pbKeyValue(ev.kv),
    prevKv: ev.prevKv ? pbKeyValue(ev.prevKv) : null,
  }
}

export function pbMember(m: Member): PbMember {
  return {
    ID: String(outInt(m.id, 'member.ID')),
    name: m.name,
    peerURLs: m.peerUrls,
    clientURLs: m.clientUrls,
    isLearner: m.isLearner,
  }
}

export function pbStatusResponse(s: MemberStatus, header: PbResponseHeader) {
  return {
    header,
    version: s.version,
    dbSize: outInt(s.dbSizeBytes, 'status.dbSize'),
    leader: outInt(s.leader, 'status.leader'),
    raftIndex: outInt(s.raftIndex, 'status.raftIndex'),
    raftTerm: outInt(s.raftTerm, 'status.raftTerm'),
    raftAppliedIndex: outInt(s.raftAppliedIndex, 'status.raftAppliedIndex'),
    errors: s.errors,
    dbSizeInUse: outInt(s.dbSizeInUseBytes, 'status.dbSizeInUse'),
    isLearner: s.isLearner,
  }
}

export function pbAlarmMember(a: AlarmMember) {
  return { memberID: outInt(a.memberId, 'alarm.memberID'), alarm: ALARM_TYPE_OUT[a.alarm] }
}
