/**
 * How a thrown error becomes the gRPC status a client receives.
 *
 * etcd's errors (kernel/etcd-errors.ts, re-exported here) keep etcd's status code and exact text.
 * Other errors map by kind: ValidationError -> INVALID_ARGUMENT, LimitError ->
 * RESOURCE_EXHAUSTED, NotFoundError -> NOT_FOUND, ForbiddenError -> PERMISSION_DENIED, with the
 * error's own message; anything else -> UNKNOWN with its message, as etcd does for errors it has
 * no mapping for.
 */
import { status as GrpcStatus, type Metadata } from '@grpc/grpc-js'
import {
  ForbiddenError,
  LimitError,
  NotFoundError,
  RaftdeskError,
  ValidationError,
} from '../errors'
import { ETCD_ERRORS, isEtcdErrorCode } from '../kernel/etcd-errors'

export {
  ETCD_ERRORS,
  EtcdServerError,
  clientsRetry,
  etcdMessage,
  isEtcdErrorCode,
  type EtcdErrorCode,
} from '../kernel/etcd-errors'

const S = GrpcStatus

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
  /** Trailers: raftdesk's error code (ERROR_CODE_TRAILER), for members calling members. */
  metadata?: Metadata
}

/** Turns anything thrown by a handler or a backend into the status the client receives. */
export function toGrpcStatus(err: unknown): GrpcStatusError {
  if (err instanceof RaftdeskError) {
    if (isEtcdErrorCode(err.code)) {
      const known = ETCD_ERRORS[err.code]
      return { code: known.grpcCode as GrpcStatus, details: known.message }
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
