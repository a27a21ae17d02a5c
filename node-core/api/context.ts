/**
 * What every etcd service handler shares: the backend, the limits, the logger, and the one chain
 * every call passes, unary or stream (CALL_CHAIN): decode check -> learner -> authentication ->
 * rate limit -> require-leader -> quota -> handler -> status mapping.
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
import type { Logger } from '../kernel/logger'
import { createHash, timingSafeEqual } from 'node:crypto'
import type { handleUnaryCall, Metadata, ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js'
import { Metadata as GrpcMetadata, status as GrpcStatus } from '@grpc/grpc-js'
import { ERROR_CODE_TRAILER } from '../kernel/etcd-errors'
import { ForbiddenError } from '../errors'
import { RaftdeskError } from '../errors'
import type { AuthInfo } from '../mvcc/auth'
import type { CallOptions, EtcdBackend } from '../server/port'
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

/** A long-lived stream the server ends itself when it shuts down. */
export interface ClosableStream {
  shutdown(status: GrpcStatusError): void
}

export interface ApiContext {
  backend: EtcdBackend
  limits: ApiLimits
  logger: Logger
  /** Open Watch and LeaseKeepAlive streams; each removes itself when it ends. */
  streams: Set<ClosableStream>
  /** The per-client rate limit, when one is set (rate-limit.ts). */
  rateLimiter?: RateLimiter
  /**
   * With --client-cert-auth: the user named by the call's verified client certificate (its
   * common name), for calls without a token.
   */
  certUser?: (call: Call) => AuthInfo | undefined
  /** The cluster token raftdesk's Admin calls must carry (absent: no Admin service). */
  clusterToken?: () => string
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

/**
 * One call as the chain and its handler see it, free of grpc-js types beyond the metadata. It is
 * also the backend's CallOptions: the abort signal and who sent it travel to the write.
 */
export interface Call extends CallOptions {
  method: string
  metadata: Metadata
  /** The connection's peer address (grpc-js getPeer()), the rate limit's key without auth. */
  peer: string
  request?: unknown
  /** Encoded size of the request message (etcd's request size limit). */
  sizeBytes: number
  /** When the client stops waiting (its gRPC deadline), bounded by callDeadlineMsMax. */
  deadlineMs: number
  signal: AbortSignal
  /** Set by the authentication step from the call's token. */
  who?: AuthInfo
  /** The handler is done: a later 'cancelled' from grpc-js is not the client going away. */
  answered: () => void
  /** The client's verified certificate over TLS (read only when client-cert auth asks). */
  peerCertificate?: () => { subject?: { CN?: unknown } } | undefined
}

/**
 * The calls whose token etcd 3.4 resolves (AuthInfoFromCtx): everything that goes through raft,
 * reads, watches and the admin-only maintenance calls. The others (Authenticate itself, Status,
 * member calls, lease keep-alive and time-to-live) ignore a token, so a stale one cannot fail
 * them.
 */
const TOKEN_METHODS: ReadonlySet<string> = new Set([
  'Range',
  'Put',
  'DeleteRange',
  'Txn',
  'Compact',
  'Watch',
  'LeaseGrant',
  'LeaseRevoke',
  'Alarm',
  'Hash',
  'HashKV',
  'Defragment',
  'Snapshot',
  'MoveLeader',
  // The Auth service, but Authenticate.
  'AuthEnable',
  'AuthDisable',
  'AuthStatus',
  'UserAdd',
  'UserGet',
  'UserList',
  'UserDelete',
  'UserChangePassword',
  'UserGrantRole',
  'UserRevokeRole',
  'RoleAdd',
  'RoleGet',
  'RoleList',
  'RoleDelete',
  'RoleGrantPermission',
  'RoleRevokePermission',
])

/** Methods of raftdesk's Admin service are named with this prefix in the chain. */
export const ADMIN_METHOD_PREFIX = 'Admin.'

/** etcd's metadata keys for the token: gRPC clients send "token", the gateway "authorization". */
function tokenOf(metadata: Metadata): string | undefined {
  const value = metadata.get('token')[0] ?? metadata.get('authorization')[0]
  return value === undefined ? undefined : String(value)
}

function sameSecret(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest()
  const db = createHash('sha256').update(b).digest()
  return timingSafeEqual(da, db)
}

/**
 * The authentication step: raftdesk's Admin calls prove they know the cluster token; etcd calls
 * are whoever their token (or client certificate) names (INVALID_AUTH_TOKEN if nobody).
 */
function authenticateCall(ctx: ApiContext, call: Call): Promise<void> | void {
  if (call.method.startsWith(ADMIN_METHOD_PREFIX)) {
    const token = (call.request as { token?: unknown } | undefined)?.token
    const expected = ctx.clusterToken?.()
    if (expected === undefined || typeof token !== 'string' || !sameSecret(token, expected)) {
      throw new ForbiddenError('WRONG_CLUSTER_TOKEN', 'raftdesk: wrong cluster token')
    }
    return
  }
  if (!TOKEN_METHODS.has(call.method)) return
  const token = tokenOf(call.metadata)
  if (token !== undefined) {
    return ctx.backend.authInfo(token, call.deadlineMs).then((who) => {
      call.who = who
      call.token = token
    })
  }
  if (ctx.certUser) {
    const who = ctx.certUser(call)
    if (who) call.who = who
  }
}

/** The longest a call waits in the chain (for a token's entry to apply) without a deadline. */
const CALL_DEADLINE_MS_MAX = 10_000

type Step = (ctx: ApiContext, call: Call) => void | Promise<void>

/**
 * The checks every call and stream passes before its handler, in this order. Each step is small
 * and throws etcd's error to refuse.
 */
export const CALL_CHAIN: ReadonlyArray<{ name: string; run: Step }> = [
  { name: 'learner', run: (ctx, call) => checkLearner(ctx, call.method, call.request) },
  { name: 'authentication', run: authenticateCall },
  {
    name: 'rate limit',
    run: (ctx, call) => ctx.rateLimiter?.take(call.who ? `user ${call.who.user}` : call.peer),
  },
  { name: 'require leader', run: (ctx, call) => checkRequireLeader(ctx, call.metadata) },
  {
    name: 'quota',
    run: (ctx, call) => {
      const cost = quotaCost(call)
      if (cost > 0) ctx.backend.checkQuota(cost)
    },
  },
]

interface PbOpsOfTxn {
  success?: Array<{ requestPut?: unknown; requestTxn?: PbOpsOfTxn }>
  failure?: Array<{ requestPut?: unknown; requestTxn?: PbOpsOfTxn }>
}

function pbTxnHasPut(t: PbOpsOfTxn): boolean {
  return [...(t.success ?? []), ...(t.failure ?? [])].some(
    (o) =>
      (o.requestPut !== undefined && o.requestPut !== null) ||
      (o.requestTxn ? pbTxnHasPut(o.requestTxn) : false),
  )
}

/**
 * What a call may add to the store, for the quota (etcd's quota.go: puts, txns with a put, lease
 * grants; everything else costs nothing and passes even when the store is full).
 */
function quotaCost(call: Call): number {
  switch (call.method) {
    case 'Put':
    case 'LeaseGrant':
      return Math.max(1, call.sizeBytes)
    case 'Txn':
      return pbTxnHasPut(call.request as PbOpsOfTxn) ? Math.max(1, call.sizeBytes) : 0
    default:
      return 0
  }
}

/** Runs the chain; only steps that have to wait (a token) cost a turn of the event loop. */
export async function admit(ctx: ApiContext, call: Call): Promise<void> {
  for (const step of CALL_CHAIN) {
    const waiting = step.run(ctx, call)
    if (waiting) await waiting
  }
}

/** Why a call's signal aborts: its client cancelled it, ended its stream or went away. */
const CLIENT_WENT_AWAY = Object.freeze({ reason: 'the client went away' })

/** A Call for a grpc-js call object (unary or stream) as it arrives. */
export function callOf(
  method: string,
  grpcCall: {
    metadata: Metadata
    getPeer(): string
    getDeadline(): Date | number
    once(event: 'cancelled', listener: () => void): unknown
    getAuthContext?(): { sslPeerCertificate?: { subject?: { CN?: unknown } } } | null
  },
  request?: unknown,
  sizeBytes = 0,
): Call {
  const abort = new AbortController()
  let answered = false
  // grpc-js also emits 'cancelled' once a call has been answered; aborting then would only cost
  // a DOMException per call.
  grpcCall.once('cancelled', () => {
    // With a reason of our own: abort() without one builds a DOMException (a stack trace) for
    // every stream that ends, which showed as 3% of a member's time under lease keep-alives.
    if (!answered) abort.abort(CLIENT_WENT_AWAY)
  })
  const deadline = grpcCall.getDeadline()
  const deadlineNum = deadline instanceof Date ? deadline.getTime() : deadline
  const capMs = Date.now() + CALL_DEADLINE_MS_MAX
  return {
    method,
    metadata: grpcCall.metadata,
    peer: grpcCall.getPeer(),
    request,
    sizeBytes,
    deadlineMs: Number.isFinite(deadlineNum) ? Math.min(deadlineNum, capMs) : capMs,
    signal: abort.signal,
    answered: () => {
      answered = true
    },
    peerCertificate: () => grpcCall.getAuthContext?.()?.sslPeerCertificate,
  }
}

/**
 * admit() for a stream as it opens: the Call (with who sent it) when the stream may start;
 * undefined, with the refusal sent as the stream's status, when it may not.
 */
export async function admitStream(
  ctx: ApiContext,
  method: string,
  grpcCall: Parameters<typeof callOf>[1] & { emit(event: 'error', status: object): boolean },
): Promise<Call | undefined> {
  const call = callOf(method, grpcCall)
  try {
    await admit(ctx, call)
    return call
  } catch (err) {
    grpcCall.emit('error', statusFor(ctx, method, err))
    return undefined
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

/**
 * Maps an error to the status sent to the client, logging what the client will not see. A typed
 * error's code rides in the trailers (ERROR_CODE_TRAILER), so a member calling another member
 * maps the answer by code; etcd clients ignore the extra trailer.
 */
export function statusFor(ctx: ApiContext, method: string, err: unknown): GrpcStatusError {
  const status = toGrpcStatus(err)
  if (err instanceof RaftdeskError) {
    status.metadata = new GrpcMetadata()
    status.metadata.set(ERROR_CODE_TRAILER, err.code)
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
  handle: (request: Pb, call: Call) => Promise<object>,
): handleUnaryCall<DecodedRequest, object> {
  return (grpcCall: ServerUnaryCall<DecodedRequest, object>, callback: sendUnaryData<object>) => {
    const decoded = grpcCall.request
    if (decoded.error !== undefined || decoded.message === undefined) {
      ctx.logger.debug(`${method}: malformed request`, { error: decoded.error })
      callback(malformedStatus(method, decoded))
      return
    }
    // The client going away (cancel, deadline) aborts what has not started yet (call.signal).
    const call = callOf(method, grpcCall, decoded.message, decoded.sizeBytes)
    admit(ctx, call)
      .then(() => handle(decoded.message as Pb, call))
      .then(
        (response) => {
          call.answered()
          callback(null, response)
        },
        (err: unknown) => {
          call.answered()
          callback(statusFor(ctx, method, err))
        },
      )
  }
}
