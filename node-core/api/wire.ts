/**
 * Shapes of etcd v3 messages as @grpc/proto-loader hands them over (see proto.ts for the
 * options): camelCased field names, int64/uint64 as decimal strings, bytes as Buffer, enums as
 * their proto names (or a number when the value is unknown to the schema), every scalar present,
 * and for each oneof a virtual field naming the member that is set.
 *
 * Only request messages are typed here: they come from the network and the codec checks every
 * value it reads. Responses are built as plain objects in codec.ts.
 */

/** int64 / uint64 as proto-loader delivers them with longs: String. */
export type Int64String = string
/** An enum value: its proto name, or the number when the schema does not know it. */
export type EnumValue = string | number

export interface PbRangeRequest {
  key: Buffer
  rangeEnd: Buffer
  limit: Int64String
  revision: Int64String
  sortOrder: EnumValue
  sortTarget: EnumValue
  serializable: boolean
  keysOnly: boolean
  countOnly: boolean
  minModRevision: Int64String
  maxModRevision: Int64String
  minCreateRevision: Int64String
  maxCreateRevision: Int64String
}

export interface PbPutRequest {
  key: Buffer
  value: Buffer
  lease: Int64String
  prevKv: boolean
  ignoreValue: boolean
  ignoreLease: boolean
}

export interface PbDeleteRangeRequest {
  key: Buffer
  rangeEnd: Buffer
  prevKv: boolean
}

export type PbCompareOperand = 'version' | 'createRevision' | 'modRevision' | 'value' | 'lease'

export interface PbCompare {
  result: EnumValue
  target: EnumValue
  key: Buffer
  rangeEnd: Buffer
  targetUnion?: PbCompareOperand
  version?: Int64String
  createRevision?: Int64String
  modRevision?: Int64String
  value?: Buffer
  lease?: Int64String
}

export interface PbRequestOp {
  request?: 'requestRange' | 'requestPut' | 'requestDeleteRange' | 'requestTxn'
  requestRange?: PbRangeRequest
  requestPut?: PbPutRequest
  requestDeleteRange?: PbDeleteRangeRequest
  requestTxn?: PbTxnRequest
}

export interface PbTxnRequest {
  compare: PbCompare[]
  success: PbRequestOp[]
  failure: PbRequestOp[]
}

export interface PbCompactionRequest {
  revision: Int64String
  physical: boolean
}

export interface PbWatchCreateRequest {
  key: Buffer
  rangeEnd: Buffer
  startRevision: Int64String
  progressNotify: boolean
  filters: EnumValue[]
  prevKv: boolean
  watchId: Int64String
  fragment: boolean
}

export interface PbWatchRequest {
  requestUnion?: 'createRequest' | 'cancelRequest' | 'progressRequest'
  createRequest?: PbWatchCreateRequest
  cancelRequest?: { watchId: Int64String }
  progressRequest?: Record<string, never>
}

export interface PbLeaseGrantRequest {
  TTL: Int64String
  ID: Int64String
}

export interface PbLeaseIdRequest {
  ID: Int64String
}

export interface PbLeaseTimeToLiveRequest {
  ID: Int64String
  keys: boolean
}

export interface PbMemberAddRequest {
  peerURLs: string[]
  isLearner: boolean
}

/** etcdserverpb.Member: kernel/member.ts's Member in etcd's field names, the id as uint64. */
export interface PbMember {
  ID: Int64String
  name: string
  peerURLs: string[]
  clientURLs: string[]
  isLearner: boolean
}

export interface PbMemberIdRequest {
  ID: Int64String
}

export interface PbMemberUpdateRequest {
  ID: Int64String
  peerURLs: string[]
}

export interface PbMemberListRequest {
  linearizable: boolean
}

export interface PbHashKVRequest {
  revision: Int64String
}

export interface PbMoveLeaderRequest {
  targetID: Int64String
}

export interface PbAlarmRequest {
  action: EnumValue
  memberID: Int64String
  alarm: EnumValue
}
