/**
 * What every etcd service handler shares: the backend, the limits, the logger, and the one way
 * a unary call is answered (decode check -> require-leader check -> handler -> status mapping).
 *
 * Limits (etcd's defaults where etcd has one):
 * - requestBytesMax: 1.5 MiB, etcd's --max-request-bytes. A write (Put, DeleteRange, Txn,
 *   Compact, LeaseGrant, LeaseRevoke) larger than this fails with "etcdserver: request is too
 *   large", as in etcd, whose check is on what it proposes to raft.
 * - grpcOverheadBytes: 512 KiB. grpc-js refuses any message above requestBytesMax + this with
 *   RESOURCE_EXHAUSTED before it is decoded (etcd's MaxRecvMsgSize is the same sum).
 * - txnOpsMax: 128, etcd's --max-txn-ops.
 * - watchersPerStreamMax, watchEarlyNotificationsMax, keepAliveQueueMax: raftdesk's bounds on
 *   per-stream state, so that no client can make the server buffer without limit.
 * - progressNotifyIntervalMs: 10 minutes, etcd's default progress-notification period.
 */
import type { handleUnaryCall, Metadata, ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js'
import { status as GrpcStatus } from '@grpc/grpc-js'
import { RaftdeskError } from '../errors'
import type { EtcdBackend } from './backend'
import type { RateLimiter } from './rate-limit'
import { EtcdServerError, toGrpcStatus, type GrpcStatusError } from './errors'
import type { DecodedRequest } from './proto'

export interface ApiLimits {
  requestBytesMax: number
  grpcOverheadBytes: number
  txnOpsMax: number
  watchersPerStreamMax: number
  watchEarlyNotificationsMax: number
  keepAliveQueueMax: number
  progressNotifyIntervalMs: number
}

export const DEFAULT_API_LIMITS: ApiLimits = {
  requestBytesMax: 1.5 * 1024 * 1024,
  grpcOverheadBytes: 512 * 1024,
  txnOpsMax: 128,
  watchersPerStreamMax: 10_000,
  watchEarlyNotificationsMax: 64,
  keepAliveQueueMax: 64,
  progressNotifyIntervalMs: 10 * 60 * 1000,
}

export type LogFields = Record<string, unknown>

export interface ApiLogger {
  debug(message: string, fields?: LogFields): void
  info(message: string, fields?: LogFields): void
  warn(message: string, fields?: LogFields): void
  error(message: string, fields?: LogFields): void
}

export const silentLogger: ApiLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
}

/** A long-lived stream the server ends itself when it shuts down. */
export interface ClosableStream {
  shutdown(status: GrpcStatusError): void
}

export interface ApiContext {
  backend: EtcdBackend
  limits: ApiLimits
  logger: ApiLogger
  /** Open Watch and LeaseKeepAlive streams; each removes itself when it ends. */
  streams: Set<ClosableStream>
  /** The per-client rate limit, when one is set (rate-limit.ts). */
  rateLimiter?: RateLimiter
}

/**
 * etcd's rule for learners: a learner member serves only Status and serializable Range; every
 * other call, and every stream, is refused with "etcdserver: rpc not supported for learner".
 */
export function checkLearner(ctx: ApiContext, method: string, request?: unknown): void {
  if (!ctx.backend.header().isLearner) return
  if (method === 'Status') return
  if (method === 'Range' && (request as { serializable?: boolean }).serializable) return
  throw new EtcdServerError('NOT_SUPPORTED_FOR_LEARNER', `${method} on a learner`)
}

/** What admit() knows of a call before its handler runs. */
export interface CallInfo {
  method: string
  metadata: Metadata
  /** The connection's peer address (grpc-js getPeer()), the rate limit's key without auth. */
  peer: string
  request?: unknown
}

/**
 * The checks every call and stream passes before its handler, in order: learner, per-client
 * rate limit, clientv3's require-leader. (Authentication comes before the rate limit, and quota
 * after require-leader, once they exist.)
 */
export function admit(ctx: ApiContext, call: CallInfo): void {
  checkLearner(ctx, call.method, call.request)
  ctx.rateLimiter?.take(call.peer)
  checkRequireLeader(ctx, call.metadata)
}

/**
 * admit() for a stream as it opens: false, with the refusal sent as the stream's status, when the
 * stream may not start.
 */
export function admitStream(
  ctx: ApiContext,
  method: string,
  call: { metadata: Metadata; getPeer(): string; emit(event: 'error', status: object): boolean },
): boolean {
  try {
    admit(ctx, { method, metadata: call.metadata, peer: call.getPeer() })
    return true
  } catch (err) {
    call.emit('error', statusFor(ctx, method, err))
    return false
  }
}

/** clientv3's WithRequireLeader: metadata "hasleader: true" asks to fail fast without a leader. */
export function checkRequireLeader(ctx: ApiContext, metadata: Metadata): void {
  const values = metadata.get('hasleader')
  if (values.length > 0 && String(values[0]) === 'true' && ctx.backend.header().leader === 0) {
    throw new EtcdServerError('NO_LEADER')
  }
}

/** Refuses a write whose encoded request exceeds etcd's request size limit. */
export function checkRequestSize(ctx: ApiContext, sizeBytes: number, method: string): void {
  if (sizeBytes > ctx.limits.requestBytesMax) {
    throw new EtcdServerError(
      'REQUEST_TOO_LARGE',
      `${method}: ${sizeBytes} bytes > requestBytesMax ${ctx.limits.requestBytesMax}`,
    )
  }
}

/** Maps an error to the status sent to the client, logging what the client will not see. */
export function statusFor(ctx: ApiContext, method: string, err: unknown): GrpcStatusError {
  const status = toGrpcStatus(err)
  if (err instanceof RaftdeskError) {
    const detail = err instanceof EtcdServerError ? err.detail : undefined
    ctx.logger.debug(`${method} failed`, { code: err.code, message: err.message, detail })
  } else {
    // Not a typed error: a bug in the backend or here. The client gets UNKNOWN with the text.
    ctx.logger.error(`${method} failed unexpectedly`, {
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    })
  }
  return status
}

export function malformedStatus(method: string, decoded: DecodedRequest): GrpcStatusError {
  return {
    code: GrpcStatus.INVALID_ARGUMENT,
    details:
      `raftdesk: ${method}: the request (${decoded.sizeBytes} bytes) is not a valid protobuf ` +
      `message: ${decoded.error ?? 'undecodable'}`,
  }
}

/**
 * A grpc-js unary handler around `handle`, which receives the decoded protobuf message and its
 * encoded size and returns the response object (or throws / rejects).
 */
export function unary<Pb>(
  ctx: ApiContext,
  method: string,
  handle: (request: Pb, sizeBytes: number, signal: AbortSignal) => Promise<object>,
): handleUnaryCall<DecodedRequest, object> {
  return (call: ServerUnaryCall<DecodedRequest, object>, callback: sendUnaryData<object>) => {
    const decoded = call.request
    if (decoded.error !== undefined || decoded.message === undefined) {
      ctx.logger.debug(`${method}: malformed request`, { error: decoded.error })
      callback(malformedStatus(method, decoded))
      return
    }
    let pending: Promise<object>
    try {
      admit(ctx, {
        method,
        metadata: call.metadata,
        peer: call.getPeer(),
        request: decoded.message,
      })
      // The client going away (cancel, deadline) aborts what has not started yet.
      const abort = new AbortController()
      call.once('cancelled', () => abort.abort())
      pending = handle(decoded.message as Pb, decoded.sizeBytes, abort.signal)
    } catch (err) {
      callback(statusFor(ctx, method, err))
      return
    }
    pending.then(
      (response) => callback(null, response),
      (err: unknown) => callback(statusFor(ctx, method, err)),
    )
  }
}
