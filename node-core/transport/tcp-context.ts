/**
 * What the TCP transport's parts (outbound links, snapshot streams) share: the node's identity,
 * its limits, and a few services of the transport. Also the limits' defaults and their checks.
 */
import type { Socket } from 'node:net'
import { ValidationError } from '../errors'
import type { NodeId } from '../raft/types'
import { HANDSHAKE_FRAME_BYTES_MAX, SNAP_CHUNK_OVERHEAD_BYTES } from './protocol'
import type { Logger, PeerStats } from './types'

export interface TcpLimits {
  /** Largest frame (4-byte length included) read or written after the handshake. */
  frameBytesMax: number
  /** Messages queued per peer before send() drops and reports the peer unreachable. */
  queueMessagesMax: number
  /** Bytes queued per peer, likewise. */
  queueBytesMax: number
  /** Bytes coalesced into one socket write (at least one frame is always written). */
  writeBytesMax: number
  /** Time for a dial plus handshake, and for an inbound handshake to arrive. */
  handshakeTimeoutMs: number
  backoffBaseMs: number
  backoffMaxMs: number
  /** Fraction of a backoff delay that the injected random may take off. */
  backoffJitterRatio: number
  /** Image bytes per SNAP_CHUNK frame. */
  snapshotChunkBytes: number
  /** How far (bytes) a snapshot sender may run ahead of the receiver's consumer. */
  snapshotWindowBytes: number
  /** Largest image accepted or sent. */
  snapshotBytesMax: number
  /** A snapshot stream with no traffic for this long fails. */
  snapshotIdleTimeoutMs: number
  /** Snapshot streams received at once; more are refused ('busy'). */
  snapshotsInboundMax: number
  /** Inbound TCP connections at once (server.maxConnections). */
  inboundConnectionsMax: number
}

export const DEFAULT_TCP_LIMITS: Readonly<TcpLimits> = {
  frameBytesMax: 8 * 1024 * 1024,
  queueMessagesMax: 4096,
  queueBytesMax: 64 * 1024 * 1024,
  writeBytesMax: 1024 * 1024,
  handshakeTimeoutMs: 5000,
  backoffBaseMs: 50,
  backoffMaxMs: 5000,
  backoffJitterRatio: 0.5,
  snapshotChunkBytes: 256 * 1024,
  snapshotWindowBytes: 4 * 1024 * 1024,
  snapshotBytesMax: 64 * 1024 * 1024 * 1024,
  snapshotIdleTimeoutMs: 30_000,
  snapshotsInboundMax: 4,
  inboundConnectionsMax: 256,
}

export function resolveLimits(partial: Partial<TcpLimits> | undefined): TcpLimits {
  const l: TcpLimits = { ...DEFAULT_TCP_LIMITS, ...partial }
  for (const [k, v] of Object.entries(l)) {
    const ratio = k === 'backoffJitterRatio'
    if (typeof v !== 'number' || !(ratio ? v >= 0 && v <= 1 : Number.isSafeInteger(v) && v > 0)) {
      throw new ValidationError('BAD_TRANSPORT_LIMIT', `transport limit ${k} is invalid: ${v}`)
    }
  }
  const need = (ok: boolean, what: string) => {
    if (!ok) throw new ValidationError('BAD_TRANSPORT_LIMIT', `transport limits: ${what}`)
  }
  need(
    l.frameBytesMax >= HANDSHAKE_FRAME_BYTES_MAX,
    `frameBytesMax ${l.frameBytesMax} < handshake frame ${HANDSHAKE_FRAME_BYTES_MAX}`,
  )
  need(
    l.snapshotChunkBytes + SNAP_CHUNK_OVERHEAD_BYTES <= l.frameBytesMax,
    `snapshotChunkBytes ${l.snapshotChunkBytes} + ${SNAP_CHUNK_OVERHEAD_BYTES} > frameBytesMax ${l.frameBytesMax}`,
  )
  need(
    l.snapshotWindowBytes >= l.snapshotChunkBytes,
    `snapshotWindowBytes ${l.snapshotWindowBytes} < snapshotChunkBytes ${l.snapshotChunkBytes}`,
  )
  need(
    l.backoffMaxMs >= l.backoffBaseMs,
    `backoffMaxMs ${l.backoffMaxMs} < backoffBaseMs ${l.backoffBaseMs}`,
  )
  return l
}

export interface PeerRecord {
  readonly id: NodeId
  address: string
  readonly stats: PeerStats
}

export interface TcpContext {
  readonly id: NodeId
  readonly clusterId: string
  readonly token: string
  readonly limits: TcpLimits
  readonly logger: Logger
  readonly random: () => number
  /** Opens a (TLS if configured) connection to host:port; the socket buffers writes until up. */
  dial(address: string): Socket
  /** Sets the peer's lastError (code, message, time). */
  recordError(peer: PeerRecord, err: unknown): void
  reportUnreachable(id: NodeId): void
  /** The peer `id` refused this node as removed from the cluster. */
  reportRemoved(id: NodeId): void
}
