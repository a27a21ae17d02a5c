/**
 * The errors a raftdesk node reports through the etcd v3 gRPC API, and how a thrown error
 * becomes a gRPC status.
 *
 * Contract with the rest of node-core: a backend (node-core/server, the mvcc store, the lessor)
 * throws a RaftdeskError whose `code` is one of the EtcdErrorCode keys below, for instance
 * `new EtcdServerError('COMPACTED')` or any RaftdeskError subclass with code 'COMPACTED'. The
 * gRPC layer then answers with etcd's status code and etcd's exact message, because clients match
 * on the message text: Go's clientv3 (rpctypes.Error) and the etcd3 npm client turn
 * "etcdserver: mvcc: required revision has been compacted" into their typed ErrCompacted, and
 * etcdctl prints the text as is. The codes and messages are the ones of etcd's
 * api/v3rpc/rpctypes/error.go (etcd 3.4/3.5), which is the list clients know.
 *
 * Other errors map by kind: ValidationError -> INVALID_ARGUMENT, LimitError ->
 * RESOURCE_EXHAUSTED, NotFoundError -> NOT_FOUND, ForbiddenError -> PERMISSION_DENIED, with the
 * error's own message; anything else -> UNKNOWN with its message, as etcd does for errors it has
 * no mapping for.
 */
import { status as GrpcStatus } from '@grpc/grpc-js'
import {
  ForbiddenError,
  LimitError,
  NotFoundError,
  RaftdeskError,
  ValidationError,
} from '../errors'

interface EtcdErrorSpec {
  readonly grpcCode: GrpcStatus
  readonly message: string
}

function spec(grpcCode: GrpcStatus, message: string): EtcdErrorSpec {
  return { grpcCode, message }
}

const S = GrpcStatus

/** etcd's server-side errors: stable code -> gRPC status code and the exact etcd message. */
export const ETCD_ERRORS = {
  // Request validation (v3rpc/key.go, lease and member checks).
  EMPTY_KEY: spec(S.INVALID_ARGUMENT, 'etcdserver: key is not provided'),
  KEY_NOT_FOUND: spec(S.INVALID_ARGUMENT, 'etcdserver: key not found'),
  VALUE_PROVIDED: spec(S.INVALID_ARGUMENT, 'etcdserver: value is provided'),
  LEASE_PROVIDED: spec(S.INVALID_ARGUMENT, 'etcdserver: lease is provided'),
  TOO_MANY_OPS: spec(S.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request'),
  DUPLICATE_KEY: spec(S.INVALID_ARGUMENT, 'etcdserver: duplicate key given in txn request'),
  REQUEST_TOO_LARGE: spec(S.INVALID_ARGUMENT, 'etcdserver: request is too large'),
  TOO_MANY_REQUESTS: spec(S.RESOURCE_EXHAUSTED, 'etcdserver: too many requests'),

  // The store.
  COMPACTED: spec(S.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted'),
  FUTURE_REV: spec(S.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision'),
  NO_SPACE: spec(S.RESOURCE_EXHAUSTED, 'etcdserver: mvcc: database space exceeded'),

  // Leases.
  LEASE_NOT_FOUND: spec(S.NOT_FOUND, 'etcdserver: requested lease not found'),
  LEASE_EXIST: spec(S.FAILED_PRECONDITION, 'etcdserver: lease already exists'),
  LEASE_TTL_TOO_LARGE: spec(S.OUT_OF_RANGE, 'etcdserver: too large lease TTL'),

  // Membership.
  MEMBER_EXIST: spec(S.FAILED_PRECONDITION, 'etcdserver: member ID already exist'),
  PEER_URL_EXIST: spec(S.FAILED_PRECONDITION, 'etcdserver: Peer URLs already exists'),
  MEMBER_NOT_ENOUGH_STARTED: spec(
    S.FAILED_PRECONDITION,
    'etcdserver: re-configuration failed due to not enough started members',
  ),
  MEMBER_BAD_URLS: spec(S.INVALID_ARGUMENT, 'etcdserver: given member URLs are invalid'),
  MEMBER_NOT_FOUND: spec(S.NOT_FOUND, 'etcdserver: member not found'),
  MEMBER_NOT_LEARNER: spec(S.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member'),
  LEARNER_NOT_READY: spec(
    S.FAILED_PRECONDITION,
    'etcdserver: can only promote a learner member which is in sync with leader',
  ),
  TOO_MANY_LEARNERS: spec(S.FAILED_PRECONDITION, 'etcdserver: too many learner members in cluster'),

  // Authentication (raftdesk's auth comes later; the codes are reserved with etcd's texts).
  USER_EMPTY: spec(S.INVALID_ARGUMENT, 'etcdserver: user name is empty'),
  AUTH_FAILED: spec(
    S.INVALID_ARGUMENT,
    'etcdserver: authentication failed, invalid user ID or password',
  ),
  PERMISSION_DENIED: spec(S.PERMISSION_DENIED, 'etcdserver: permission denied'),
  AUTH_NOT_ENABLED: spec(S.FAILED_PRECONDITION, 'etcdserver: authentication is not enabled'),
  INVALID_AUTH_TOKEN: spec(S.UNAUTHENTICATED, 'etcdserver: invalid auth token'),

  // Raft and the server.
  NO_LEADER: spec(S.UNAVAILABLE, 'etcdserver: no leader'),
  NOT_LEADER: spec(S.FAILED_PRECONDITION, 'etcdserver: not leader'),
  LEADER_CHANGED: spec(S.UNAVAILABLE, 'etcdserver: leader changed'),
  NOT_CAPABLE: spec(S.UNAVAILABLE, 'etcdserver: not capable'),
  STOPPED: spec(S.UNAVAILABLE, 'etcdserver: server stopped'),
  TIMEOUT: spec(S.UNAVAILABLE, 'etcdserver: request timed out'),
  TIMEOUT_DUE_TO_LEADER_FAIL: spec(
    S.UNAVAILABLE,
    'etcdserver: request timed out, possibly due to previous leader failure',
  ),
  TIMEOUT_DUE_TO_CONNECTION_LOST: spec(
    S.UNAVAILABLE,
    'etcdserver: request timed out, possibly due to connection lost',
  ),
  UNHEALTHY: spec(S.UNAVAILABLE, 'etcdserver: unhealthy cluster'),
  CORRUPT: spec(S.DATA_LOSS, 'etcdserver: corrupt cluster'),
  NOT_SUPPORTED_FOR_LEARNER: spec(S.UNAVAILABLE, 'etcdserver: rpc not supported for learner'),
  BAD_LEADER_TRANSFEREE: spec(S.FAILED_PRECONDITION, 'etcdserver: bad leader transferee'),
} as const satisfies Record<string, EtcdErrorSpec>

export type EtcdErrorCode = keyof typeof ETCD_ERRORS

export function isEtcdErrorCode(code: string): code is EtcdErrorCode {
  return Object.hasOwn(ETCD_ERRORS, code)
}

/**
 * An error with one of etcd's meanings. Its message is always etcd's exact text (clients match
 * on it); `detail` carries raftdesk's explanation for logs and never reaches the wire.
 */
export class EtcdServerError extends RaftdeskError {
  readonly detail: string | undefined
  constructor(code: EtcdErrorCode, detail?: string) {
    super(code, ETCD_ERRORS[code].message)
    this.detail = detail
  }
}

/** Codes of the errors the gRPC layer itself raises for input it cannot accept. */
export const API_INPUT_CODES = {
  /** The bytes are not a protobuf message of the method's request type. */
  MALFORMED_REQUEST: 'MALFORMED_REQUEST',
  /** An int64/uint64 outside what raftdesk represents exactly (|v| < 2^53), or negative id. */
  INT64_OUT_OF_RANGE: 'INT64_OUT_OF_RANGE',
  /** An enum value this server does not know. */
  UNKNOWN_ENUM_VALUE: 'UNKNOWN_ENUM_VALUE',
  /** A txn nested deeper than the server accepts. */
  TXN_TOO_DEEP: 'TXN_TOO_DEEP',
} as const

/** What a grpc-js handler passes to its callback or emits on a stream. */
export interface GrpcStatusError {
  code: GrpcStatus
  details: string
}

/** Turns anything thrown by a handler or a backend into the status the client receives. */
export function toGrpcStatus(err: unknown): GrpcStatusError {
  if (err instanceof RaftdeskError) {
    if (isEtcdErrorCode(err.code)) {
      const known = ETCD_ERRORS[err.code]
      return { code: known.grpcCode, details: known.message }
    }
    return { code: statusForKind(err), details: err.message }
  }
  if (err instanceof Error) return { code: S.UNKNOWN, details: err.message }
  return { code: S.UNKNOWN, details: String(err) }
}

function statusForKind(err: RaftdeskError): GrpcStatus {
  if (err instanceof ValidationError) return S.INVALID_ARGUMENT
  if (err instanceof LimitError) return S.RESOURCE_EXHAUSTED
  if (err instanceof NotFoundError) return S.NOT_FOUND
  if (err instanceof ForbiddenError) return S.PERMISSION_DENIED
  return S.UNKNOWN
}

/** The etcd message for a code, for places that carry text rather than a status (watch). */
export function etcdMessage(code: EtcdErrorCode): string {
  return ETCD_ERRORS[code].message
}
