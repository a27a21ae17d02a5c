/**
 * Requests and results of the key-value state machine, shaped after etcd's v3 API
 * (etcdserverpb: RangeRequest, PutRequest, DeleteRangeRequest, TxnRequest, CompactionRequest,
 * and mvccpb.KeyValue / Event) with field names camelCased, so that the gRPC layer maps them
 * one to one. Keys and values are bytes. Revisions and versions are integers below 2^53 (the
 * gRPC layer refuses larger int64 values with a clear error); lease ids are bigints in
 * [0, 2^63), as etcd's are (0 means "no lease").
 *
 * Conventions carried over from etcd's documented behaviour:
 * - `rangeEnd` absent: the single key `key`. `rangeEnd` = [0x00]: every key >= `key`.
 *   Otherwise the half-open range [key, rangeEnd). `key` = [0x00] with `rangeEnd` = [0x00]: all.
 * - Revision 0 in a range means "the current revision".
 * - Every response carries `revision`: the store's revision after the operation (the header
 *   revision of etcd's ResponseHeader).
 */
import type { Alarm, AlarmOp } from './alarms'
import type { AuthOp, AuthOpResult } from './auth'

/** A lease id: 0n (none) or 1 .. 2^63 - 1, as etcd's int64 lease ids. */
export type LeaseId = bigint

/** The largest lease id (etcd's lease ids are positive int64s). */
export const LEASE_ID_MAX: LeaseId = 2n ** 63n - 1n

export interface KeyValue {
  key: Uint8Array
  /** Revision of the put that created this generation of the key. */
  createRevision: number
  /** Revision of the last modification. */
  modRevision: number
  /** Number of modifications in this generation; 1 after creation, reset by a delete. */
  version: number
  value: Uint8Array
  /** Lease attached to the key, 0n for none. */
  lease: LeaseId
}

export type SortOrder = 'none' | 'ascend' | 'descend'
export type SortTarget = 'key' | 'version' | 'create' | 'mod' | 'value'

export interface RangeRequest {
  key: Uint8Array
  rangeEnd?: Uint8Array
  /** 0 or absent: no limit. */
  limit?: number
  /** 0 or absent: the current revision. */
  revision?: number
  sortOrder?: SortOrder
  sortTarget?: SortTarget
  /** Served from local state without a ReadIndex round (read by the server, ignored by mvcc). */
  serializable?: boolean
  keysOnly?: boolean
  countOnly?: boolean
  minModRevision?: number
  maxModRevision?: number
  minCreateRevision?: number
  maxCreateRevision?: number
}

export interface RangeResponse {
  kvs: KeyValue[]
  /** True when `limit` cut the result short. */
  more: boolean
  /** Number of keys in the range (before limit). */
  count: number
  revision: number
}

export interface PutRequest {
  key: Uint8Array
  value: Uint8Array
  lease?: LeaseId
  prevKv?: boolean
  /** Keep the current value (error if the key does not exist). */
  ignoreValue?: boolean
  /** Keep the current lease (error if the key does not exist). */
  ignoreLease?: boolean
}

export interface PutResponse {
  prevKv?: KeyValue
  revision: number
}

export interface DeleteRangeRequest {
  key: Uint8Array
  rangeEnd?: Uint8Array
  prevKv?: boolean
}

export interface DeleteRangeResponse {
  deleted: number
  prevKvs: KeyValue[]
  revision: number
}

export type CompareResult = 'equal' | 'greater' | 'less' | 'notEqual'
export type CompareTarget = 'version' | 'create' | 'mod' | 'value' | 'lease'

export interface Compare {
  result: CompareResult
  target: CompareTarget
  key: Uint8Array
  rangeEnd?: Uint8Array
  /** The operand; only the field matching `target` is read. */
  version?: number
  createRevision?: number
  modRevision?: number
  value?: Uint8Array
  lease?: LeaseId
}

export type RequestOp =
  | { requestRange: RangeRequest }
  | { requestPut: PutRequest }
  | { requestDeleteRange: DeleteRangeRequest }
  | { requestTxn: TxnRequest }

export type ResponseOp =
  | { responseRange: RangeResponse }
  | { responsePut: PutResponse }
  | { responseDeleteRange: DeleteRangeResponse }
  | { responseTxn: TxnResponse }

export interface TxnRequest {
  compare: Compare[]
  success: RequestOp[]
  failure: RequestOp[]
}

export interface TxnResponse {
  succeeded: boolean
  responses: ResponseOp[]
  revision: number
}

export interface CompactionRequest {
  revision: number
  /** etcd waits for the physical removal before answering when set. */
  physical?: boolean
}

export interface CompactionResponse {
  revision: number
}

export type EventType = 'put' | 'delete'

export interface Event {
  type: EventType
  /** For a delete: the key with modRevision = the deletion's revision and an empty value. */
  kv: KeyValue
  prevKv?: KeyValue
}

export interface LeaseGrantRequest {
  /** 0n: the store picks an id (the server does so before proposing, so all nodes agree). */
  id: LeaseId
  ttlSeconds: number
}

export interface LeaseGrantResponse {
  id: LeaseId
  ttlSeconds: number
  revision: number
}

export interface LeaseRevokeRequest {
  id: LeaseId
}

export interface LeaseRevokeResponse {
  revision: number
}

/**
 * One replicated write, as the server decodes it from a committed raft entry and hands it to the
 * store. Reads never go through the log in this form (ReadIndex reads call range() directly),
 * except a range inside a txn.
 */
export type WriteOp =
  | { type: 'put'; put: PutRequest }
  | { type: 'deleteRange'; deleteRange: DeleteRangeRequest }
  | { type: 'txn'; txn: TxnRequest }
  | { type: 'compaction'; compaction: CompactionRequest }
  | { type: 'leaseGrant'; leaseGrant: LeaseGrantRequest }
  | { type: 'leaseRevoke'; leaseRevoke: LeaseRevokeRequest }
  | { type: 'auth'; auth: AuthOp }
  | { type: 'alarm'; alarm: AlarmOp }

export type WriteResult =
  | { put: PutResponse }
  | { deleteRange: DeleteRangeResponse }
  | { txn: TxnResponse }
  | { compaction: CompactionResponse }
  | { leaseGrant: LeaseGrantResponse }
  | { leaseRevoke: LeaseRevokeResponse }
  | { auth: AuthOpResult }
  /** The alarm raised, or the one disarmed (none when nothing changed on a disarm). */
  | { alarm: Alarm[] }
  /** The op was refused by the state machine (same outcome on every node, so it is safe). */
  | { error: { code: string; message: string } }
