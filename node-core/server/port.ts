/**
 * The server's port: what the gRPC layer (node-core/api, above it) needs from a raftdesk node,
 * and nothing more. EtcdBackend serves etcd's services, AdminBackend raftdesk's Admin service;
 * LeaderLink is what the server needs from below the wire (the api layer implements it over
 * gRPC). The node server (backend.ts) implements the backends; tests use an in-memory fake.
 *
 * Division of labour:
 * - The gRPC layer decodes and validates requests (empty keys, txn op limits, duplicate keys in
 *   a txn, request size, int64 range), maps them one to one onto node-core/mvcc/types.ts, calls
 *   the backend, fills the ResponseHeader and maps errors to etcd's statuses and messages.
 * - The backend decides everything that needs the node: linearizable vs serializable reads
 *   (RangeRequest.serializable), proposing writes through raft, leases, membership, watches.
 *   It reports failures by throwing a RaftdeskError with a code from kernel/etcd-errors.ts
 *   (EtcdErrorCode: 'COMPACTED', 'FUTURE_REV', 'LEASE_NOT_FOUND', 'NO_LEADER', 'TIMEOUT', ...).
 *
 * All ids, revisions, terms, indexes and sizes are non-negative integers below 2^53, except lease
 * ids: bigints, int64 as etcd's.
 */
import type { Member } from '../kernel/member'
import type {
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  Event,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseId,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from '../mvcc/types'
import type { AuthInfo, Permission } from '../mvcc/auth'
import type { AdminArgs, AdminCall, AdminResult } from './admin-port'

/**
 * What a call brings beside its request: the abort signal (the client went away) and who sent
 * it (the authentication step's answer; absent without a token).
 */
export interface CallOptions {
  signal?: AbortSignal
  who?: AuthInfo
  /** The token `who` came from: a linearizable read looks it up again after its barrier. */
  token?: string
}

/** etcd's Auth service requests, passwords in plain text (the backend hashes them). */
export type AuthRequest =
  | { type: 'authEnable' }
  | { type: 'authDisable' }
  | { type: 'authStatus' }
  | { type: 'userAdd'; name: string; password: string; noPassword: boolean }
  | { type: 'userGet'; name: string }
  | { type: 'userList' }
  | { type: 'userDelete'; name: string }
  | { type: 'userChangePassword'; name: string; password: string }
  | { type: 'userGrantRole'; user: string; role: string }
  | { type: 'userRevokeRole'; name: string; role: string }
  | { type: 'roleAdd'; name: string }
  | { type: 'roleGet'; role: string }
  | { type: 'roleList' }
  | { type: 'roleDelete'; role: string }
  | { type: 'roleGrantPermission'; name: string; perm: Permission }
  | { type: 'roleRevokePermission'; role: string; key: Uint8Array; rangeEnd: Uint8Array }

/** The answer to an AuthRequest: the store revision for the header, and what was asked for. */
export interface AuthResponse {
  revision: number
  /** userGet: the user's roles; userList / roleList: the names. */
  roles?: string[]
  users?: string[]
  /** roleGet: the role's permissions. */
  perms?: Permission[]
  /** authStatus. */
  enabled?: boolean
  authRevision?: number
}

/** What every response header carries, read at the moment the header is built. */
export interface HeaderInfo {
  clusterId: number
  memberId: number
  raftTerm: number
  /** The store's current (applied) revision. */
  revision: number
  /** The member this node believes leads, 0 when it knows of no leader. */
  leader: number
  /** This member is a learner: it serves only Status and serializable Range, as in etcd. */
  isLearner: boolean
}

export interface LeaseTimeToLiveResult {
  id: LeaseId
  /** Remaining seconds. */
  ttlSeconds: number
  grantedTtlSeconds: number
  /** Attached keys, only when asked for. */
  keys: Uint8Array[]
}

export type { Member } from '../kernel/member'

export interface MemberAddRequest {
  peerUrls: string[]
  isLearner: boolean
}

export interface MemberAddResult {
  member: Member
  members: Member[]
}

export interface MemberStatus {
  /** The server version the node reports (etcdctl shows it; clients compare it). */
  version: string
  dbSizeBytes: number
  dbSizeInUseBytes: number
  leader: number
  /** Raft commit index. */
  raftIndex: number
  raftTerm: number
  raftAppliedIndex: number
  /** Alarm and health messages, e.g. "memberID:1 alarm:NOSPACE". */
  errors: string[]
  isLearner: boolean
}

export type AlarmType = 'none' | 'nospace' | 'corrupt'
export type AlarmAction = 'get' | 'activate' | 'deactivate'

export interface AlarmRequest {
  action: AlarmAction
  /** 0: every member. */
  memberId: number
  alarm: AlarmType
}

export interface AlarmMember {
  memberId: number
  alarm: AlarmType
}

export type WatchFilter = 'noPut' | 'noDelete'

/** A watcher to create, already normalised by the gRPC layer. */
export interface WatchCreateRequest {
  /** Never empty (an empty key from the client becomes [0x00], the smallest key). */
  key: Uint8Array
  /** Same convention as RangeRequest.rangeEnd: absent for one key, [0x00] for "every key >= key". */
  rangeEnd?: Uint8Array
  /** First revision to deliver; 0: from the next revision on. Never negative. */
  startRevision: number
  /** Attach each event's previous key-value (the backend looks it up). */
  prevKv: boolean
  /** Event kinds to leave out; a batch left empty by filtering is not delivered. */
  filters: WatchFilter[]
  /** Informational: the gRPC layer sends progress notifications itself. */
  progressNotify: boolean
  /** Informational: the gRPC layer splits large responses itself. */
  fragment: boolean
}

/**
 * What a watcher receives. The watch hub delivers batches in revision order, each event exactly
 * once. After 'compacted' or 'canceled' the watcher is gone and nothing more arrives.
 */
export type WatchNotification =
  /** Events up to `revision` (the header revision: the store revision the batch reflects). */
  | { type: 'events'; revision: number; events: Event[] }
  /** The watcher needs history below `compactRevision`, which compaction removed. */
  | { type: 'compacted'; compactRevision: number }
  /** The backend ended the watcher (for example: too slow, shutting down), with a reason. */
  | { type: 'canceled'; reason: string }

export type WatchSink = (notification: WatchNotification) => void

/**
 * A live watcher. Flow control: when the client's stream cannot take more, the gRPC layer calls
 * pause(); from then on the backend delivers nothing to this watcher (at most the batch it is in
 * the middle of) and keeps its place, like etcd's unsynced/victim watchers, until resume(). If
 * the history it needs is compacted while it is paused, it gets 'compacted' after resume().
 */
export interface WatchHandle {
  /** Stop delivering and release the watcher; no notification follows. Idempotent. */
  cancel(): void
  pause(): void
  resume(): void
  /**
   * The revision R such that every event of revision <= R matching this watcher has been handed
   * to the sink, or undefined while the watcher is behind (catching up, paused with events
   * pending). Progress notifications promise "nothing at or below R is still to come".
   */
  progressRevision(): number | undefined
}

export interface EtcdBackend {
  /** Cheap and synchronous: called for every response header. */
  header(): HeaderInfo

  /** Needs read permission on the range when auth is on. */
  range(req: RangeRequest, call?: CallOptions): Promise<RangeResponse>
  /*
   * Writes take the call (CallOptions): who sent it, checked when the write applies, and its
   * abort signal: a write whose client went away (cancelled, deadline passed) before it was
   * proposed is never proposed, as etcd's Propose gives up with its context. Once proposed it
   * may still commit, whatever the client does.
   */
  put(req: PutRequest, call?: CallOptions): Promise<PutResponse>
  deleteRange(req: DeleteRangeRequest, call?: CallOptions): Promise<DeleteRangeResponse>
  txn(req: TxnRequest, call?: CallOptions): Promise<TxnResponse>
  compact(req: CompactionRequest, call?: CallOptions): Promise<CompactionResponse>

  leaseGrant(req: LeaseGrantRequest, call?: CallOptions): Promise<LeaseGrantResponse>
  leaseRevoke(req: LeaseRevokeRequest, call?: CallOptions): Promise<LeaseRevokeResponse>
  /** Renews the lease; returns its TTL in seconds. Throws 'LEASE_NOT_FOUND' if it is gone. */
  leaseKeepAlive(id: LeaseId): Promise<number>
  /** Throws 'LEASE_NOT_FOUND' if the lease does not exist (the API answers TTL -1, as etcd). */
  leaseTimeToLive(id: LeaseId, keys: boolean): Promise<LeaseTimeToLiveResult>
  /** Ids of all live leases. */
  leaseLeases(): Promise<LeaseId[]>

  /**
   * Creates a watcher. Must not call `sink` before returning. Throws (for example a LimitError)
   * if the watcher cannot be created; the client then sees a created-and-canceled response with
   * the error message as the cancel reason.
   */
  watch(req: WatchCreateRequest, sink: WatchSink, call?: CallOptions): WatchHandle

  memberList(linearizable: boolean): Promise<Member[]>
  memberAdd(req: MemberAddRequest): Promise<MemberAddResult>
  memberRemove(id: number): Promise<Member[]>
  memberUpdate(id: number, peerUrls: string[]): Promise<Member[]>
  memberPromote(id: number): Promise<Member[]>

  status(): Promise<MemberStatus>
  /** Hands leadership to `targetId`; throws 'NOT_LEADER' if this node does not lead. */
  moveLeader(targetId: number, call?: CallOptions): Promise<void>
  /** A CRC-32C of the whole stored state, and the revision it was taken at (Maintenance.Hash). */
  hash(call?: CallOptions): Promise<{ hash: number; revision: number }>
  /**
   * A CRC-32C of the key-value history up to `revision` (0: now), equal on members that applied
   * the same entries; with the revisions it was taken at. COMPACTED / FUTURE_REV as etcd.
   */
  hashKV(
    revision: number,
    call?: CallOptions,
  ): Promise<{ hash: number; revision: number; compactRevision: number }>
  /** Gives back the space the store holds for deleted and compacted data (etcdctl defrag). */
  defragment(call?: CallOptions): Promise<void>
  /**
   * The member's state as `etcdctl snapshot save` stores it (server/saved-snapshot.ts), in
   * chunks; the stream is read from one consistent point while writes go on.
   */
  snapshot(call?: CallOptions): AsyncIterable<Uint8Array>
  alarm(req: AlarmRequest): Promise<AlarmMember[]>
  /**
   * The quota step of the call chain (etcd's quota check): throws 'NO_SPACE', and raises this
   * member's NOSPACE alarm, when the store is full for a write of `costBytes`. Must be cheap: it
   * runs before every put, txn with a put and lease grant.
   */
  checkQuota(costBytes: number): void

  /**
   * Who a token names, with the auth revision now (etcd's AuthInfoFromCtx); 'INVALID_AUTH_TOKEN'
   * for an unknown, expired or malformed token. May wait until `deadlineMs` for the entry that
   * issued the token to apply on this member.
   */
  authInfo(token: string, deadlineMs: number): Promise<AuthInfo>
  /** Checks the password and issues a token (etcd's simple token). */
  authenticate(
    name: string,
    password: string,
    call?: CallOptions,
  ): Promise<{ token: string; revision: number }>
  /** Every other Auth service call; admin-only ones need the root role once auth is on. */
  auth(req: AuthRequest, call?: CallOptions): Promise<AuthResponse>
}

// ---- raftdesk's Admin service: joins, and the calls a follower forwards to the leader ----

export interface JoinRequest {
  name: string
  peerUrls: string[]
  clientUrls: string[]
}

export interface JoinResult {
  memberId: number
  clusterId: number
  members: Member[]
}

export interface AdminBackend {
  /** The cluster token a joining node (or a forwarding member) must present. */
  clusterToken(): string
  /**
   * One call of the node admin port (admin-port.ts), its arguments already checked against the
   * port's schema; absent when this node serves no admin port.
   */
  adminCall?<K extends AdminCall>(call: K, args: AdminArgs<K>): Promise<AdminResult<K>>
  /** Adds a learner with this record; resolves once the change is applied here. */
  addLearner(req: JoinRequest): Promise<JoinResult>
  /** Leader only: renews a lease, returns its TTL in seconds. */
  leaseRenew(id: LeaseId): Promise<number>
  /** Leader only: promotes a learner that has caught up; resolves once applied on the leader. */
  memberPromote(id: number): Promise<void>
  /** Leader only: a lease's remaining and granted TTL, and its keys when asked. */
  leaseTimeToLive(
    id: LeaseId,
    keys: boolean,
  ): Promise<{ ttlSeconds: number; grantedTtlSeconds: number; keys: Uint8Array[] }>
}

/**
 * The calls a follower hands to the leader, which alone can answer them (only its lessor counts
 * down; only it knows whether a learner has caught up). Failures are RaftdeskErrors by code:
 * the leader's own answer, or 'UNREACHABLE' when the call did not reach it.
 */
export interface LeaderLink {
  leaseRenew(id: LeaseId, deadlineMs: number): Promise<number>
  leaseTimeToLive(
    id: LeaseId,
    keys: boolean,
    deadlineMs: number,
  ): Promise<{ ttlSeconds: number; grantedTtlSeconds: number; keys: Uint8Array[] }>
  memberPromote(id: number, deadlineMs: number): Promise<void>
  close(): void
}
