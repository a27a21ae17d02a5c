/**
 * Typed errors of the peer transport, each with a stable code (they reach logs, the UI's peer
 * table through stats().lastError, and the server through rejected promises).
 *
 *   TRANSPORT_CODEC              a raft message that cannot be encoded or a buffer that does not
 *                                decode (truncated, corrupted, out-of-range value)
 *   TRANSPORT_PROTOCOL           a well-formed frame that breaks the protocol (wrong kind at this
 *                                point, a message whose from/to disagrees with the handshake)
 *   TRANSPORT_FRAME_TOO_LARGE    a frame length above the limit (the connection is closed)
 *   TRANSPORT_HANDSHAKE_REFUSED  a handshake refused by either side, with a RefusalReason
 *   TRANSPORT_HANDSHAKE_TIMEOUT  a handshake that did not complete in time
 *   TRANSPORT_QUEUE_FULL         a peer's bounded send queue was full: the message was dropped
 *   TRANSPORT_PEER_UNAVAILABLE   no usable connection (unknown peer, waiting out a backoff, lost)
 *   TRANSPORT_SNAPSHOT_FAILED    a snapshot stream that did not complete and get acknowledged
 *   TRANSPORT_STOPPED            the transport was stopped while the operation was under way
 */
import { ForbiddenError, LimitError, RaftdeskError, ValidationError } from '../errors'

export class CodecError extends ValidationError {
  constructor(message: string) {
    super('TRANSPORT_CODEC', message)
  }
}

export class ProtocolError extends ValidationError {
  constructor(message: string) {
    super('TRANSPORT_PROTOCOL', message)
  }
}

export class FrameTooLargeError extends LimitError {
  constructor(
    readonly frameBytes: number,
    readonly frameBytesMax: number,
  ) {
    super('TRANSPORT_FRAME_TOO_LARGE', `frame of ${frameBytes} bytes exceeds ${frameBytesMax}`)
  }
}

/** Why a handshake was refused. The numeric codes are part of the wire format (REFUSE frame). */
export const REFUSAL_REASONS = [
  'malformed', // not a handshake frame, bad magic, or fields that do not parse
  'version', // protocol version not spoken by the receiver
  'cluster-id', // the sender belongs to another cluster
  'target', // the sender dialled a member id that is not the receiver's
  'token', // the cluster token does not match
  'unknown-sender', // the sender's member id is not a peer of the receiver (or was removed)
  'timeout', // the handshake did not arrive in time
  'busy', // too many concurrent snapshot streams
  'stopping', // the receiver is shutting down
  'removed', // the sender was removed from the cluster (it should stop)
] as const

export type RefusalReason = (typeof REFUSAL_REASONS)[number]

export class HandshakeRefusedError extends ForbiddenError {
  constructor(
    readonly reason: RefusalReason,
    detail: string,
  ) {
    super('TRANSPORT_HANDSHAKE_REFUSED', `handshake refused (${reason}): ${detail}`)
  }
}

export class HandshakeTimeoutError extends RaftdeskError {
  constructor(timeoutMs: number, what: string) {
    super('TRANSPORT_HANDSHAKE_TIMEOUT', `${what}: no handshake within ${timeoutMs} ms`)
  }
}

export class QueueFullError extends LimitError {
  constructor(message: string) {
    super('TRANSPORT_QUEUE_FULL', message)
  }
}

export class PeerUnavailableError extends RaftdeskError {
  constructor(message: string) {
    super('TRANSPORT_PEER_UNAVAILABLE', message)
  }
}

export class SnapshotTransferError extends RaftdeskError {
  constructor(message: string) {
    super('TRANSPORT_SNAPSHOT_FAILED', message)
  }
}

export class TransportStoppedError extends RaftdeskError {
  constructor(what: string) {
    super('TRANSPORT_STOPPED', `${what}: the transport is stopped`)
  }
}

/** The error's code and message, for logs and stats (anything thrown becomes a plain pair). */
export function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof RaftdeskError) return { code: err.code, message: err.message }
  if (err instanceof Error) {
    const sysCode = (err as NodeJS.ErrnoException).code
    return { code: typeof sysCode === 'string' ? sysCode : 'INTERNAL', message: err.message }
  }
  return { code: 'INTERNAL', message: String(err) }
}
