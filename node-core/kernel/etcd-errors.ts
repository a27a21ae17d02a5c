/**
 * etcd's server errors as raftdesk reports them: a stable code, the gRPC status code and etcd's
 * exact message. This is kernel code (no grpc-js): server/, mvcc/ and the simulator throw and
 * reason about these errors without importing the gRPC layer; api/errors.ts turns them into gRPC
 * statuses.
 *
 * Contract: a backend throws a RaftdeskError whose `code` is one of the EtcdErrorCode keys below,
 * for instance `new EtcdServerError('COMPACTED')`. The gRPC layer answers with etcd's status code
 * and etcd's exact message, because clients match on the message text: Go's clientv3
 * (rpctypes.Error) and the etcd3 npm client turn "etcdserver: mvcc: required revision has been
 * compacted" into their typed ErrCompacted, and etcdctl prints the text as is. Codes and messages
 * are those of etcd 3.4's api/v3rpc/rpctypes/error.go, the list clients know.
 */
import { RaftdeskError } from '../errors'

/** gRPC's status codes (the numbers are the protocol's; grpc-js's `status` enum has the same). */
export const GRPC_CODES = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const

export type GrpcCode = (typeof GRPC_CODES)[keyof typeof GRPC_CODES]

interface EtcdErrorSpec {
  readonly grpcCode: GrpcCode
  readonly message: string
}

function spec(grpcCode: GrpcCode, message: string): EtcdErrorSpec {
  return { grpcCode, message }
}

const S = GRPC_CODES

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

  // Authentication (mvcc/auth.ts decides; etcd 3.4's auth/store.go is the reference).
  ROOT_USER_NOT_EXIST: spec(S.FAILED_PRECONDITION, 'etcdserver: root user does not exist'),
  ROOT_ROLE_NOT_EXIST: spec(S.FAILED_PRECONDITION, 'etcdserver: root user does not have root role'),
  USER_ALREADY_EXIST: spec(S.FAILED_PRECONDITION, 'etcdserver: user name already exists'),
  USER_EMPTY: spec(S.INVALID_ARGUMENT, 'etcdserver: user name is empty'),
  USER_NOT_FOUND: spec(S.FAILED_PRECONDITION, 'etcdserver: user name not found'),
  ROLE_ALREADY_EXIST: spec(S.FAILED_PRECONDITION, 'etcdserver: role name already exists'),
  ROLE_NOT_FOUND: spec(S.FAILED_PRECONDITION, 'etcdserver: role name not found'),
  ROLE_EMPTY: spec(S.INVALID_ARGUMENT, 'etcdserver: role name is empty'),
  AUTH_FAILED: spec(
    S.INVALID_ARGUMENT,
    'etcdserver: authentication failed, invalid user ID or password',
  ),
  PERMISSION_DENIED: spec(S.PERMISSION_DENIED, 'etcdserver: permission denied'),
  ROLE_NOT_GRANTED: spec(S.FAILED_PRECONDITION, 'etcdserver: role is not granted to the user'),
  PERMISSION_NOT_GRANTED: spec(
    S.FAILED_PRECONDITION,
    'etcdserver: permission is not granted to the role',
  ),
  AUTH_NOT_ENABLED: spec(S.FAILED_PRECONDITION, 'etcdserver: authentication is not enabled'),
  INVALID_AUTH_TOKEN: spec(S.UNAUTHENTICATED, 'etcdserver: invalid auth token'),
  INVALID_AUTH_MGMT: spec(S.INVALID_ARGUMENT, 'etcdserver: invalid auth management'),
  AUTH_OLD_REVISION: spec(S.INVALID_ARGUMENT, 'etcdserver: revision of auth store is old'),
  // etcd 3.4 has no gRPC mapping for this one: clients get UNKNOWN with the auth package's text.
  NO_PASSWORD_USER: spec(
    S.UNKNOWN,
    'auth: authentication failed, password was given for no password user',
  ),

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
  TIMEOUT_WAIT_APPLIED_INDEX: spec(
    S.UNAVAILABLE,
    'etcdserver: request timed out, waiting for the applied index took too long',
  ),
  UNHEALTHY: spec(S.UNAVAILABLE, 'etcdserver: unhealthy cluster'),
  CORRUPT: spec(S.DATA_LOSS, 'etcdserver: corrupt cluster'),
  NOT_SUPPORTED_FOR_LEARNER: spec(S.UNAVAILABLE, 'etcdserver: rpc not supported for learner'),
  BAD_LEADER_TRANSFEREE: spec(S.FAILED_PRECONDITION, 'etcdserver: bad leader transferee'),
  // Not etcd's own errors, but what etcd 3.4 answers in these cases: raft's ErrProposalDropped
  // has no gRPC mapping (etcd sends it as UNKNOWN with its text); a write that waited out its
  // deadline before it could be proposed ends as the gRPC server's own DeadlineExceeded, and one
  // whose client went away meanwhile as its Canceled.
  PROPOSAL_DROPPED: spec(S.UNKNOWN, 'raft proposal dropped'),
  DEADLINE_EXCEEDED: spec(S.DEADLINE_EXCEEDED, 'context deadline exceeded'),
  CANCELED: spec(S.CANCELLED, 'context canceled'),
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
  declare readonly code: EtcdErrorCode
  readonly detail: string | undefined
  constructor(code: EtcdErrorCode, detail?: string) {
    super(code, ETCD_ERRORS[code].message)
    this.detail = detail
  }
}

/**
 * The metadata key under which raftdesk's own gRPC services send the error's code beside the
 * status, so that a member calling another maps errors by code, never by their text.
 */
export const ERROR_CODE_TRAILER = 'raftdesk-error-code'

/** The etcd message for a code, for places that carry text rather than a status (watch). */
export function etcdMessage(code: EtcdErrorCode): string {
  return ETCD_ERRORS[code].message
}

/**
 * The gRPC codes on which etcd clients call again by themselves, as if the first call had not
 * happened. The etcd3 npm client (lib/errors.js: its "recoverable" errors) retries any call,
 * writes included, on these, and counts them toward its per-host circuit breaker (three in a row
 * open it for 5 s). Go's clientv3 3.4 retries reads on UNAVAILABLE and writes only on its own
 * connection errors. So a write that may still commit must never be answered with one of these
 * before its deadline (at the deadline etcd, and raftdesk, answer "request timed out").
 */
const RETRIED_BY_CLIENTS: ReadonlySet<GrpcCode> = new Set([
  S.CANCELLED,
  S.UNKNOWN,
  S.DEADLINE_EXCEEDED,
  S.RESOURCE_EXHAUSTED,
  S.ABORTED,
  S.INTERNAL,
  S.UNAVAILABLE,
])

/** Whether etcd clients retry a call that failed with this error as if it had not happened. */
export function clientsRetry(code: EtcdErrorCode): boolean {
  return RETRIED_BY_CLIENTS.has(ETCD_ERRORS[code].grpcCode)
}
