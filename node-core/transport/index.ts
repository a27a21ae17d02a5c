/**
 * The peer transport: what a node server needs to exchange raft messages and snapshots with its
 * peers. See types.ts for the contract, tcp.ts and memory.ts for the two implementations,
 * codec.ts and protocol.ts for the wire formats.
 */
export type {
  LinkDirection,
  LinkFault,
  Logger,
  MessageHandler,
  PeerStats,
  PeerTransport,
  SnapshotHandler,
  TransportStats,
  UnreachableHandler,
} from './types'
export { silentLogger } from './types'
export { TcpTransport, DEFAULT_TCP_LIMITS } from './tcp'
export type { TcpLimits, TcpTlsOptions, TcpTransportOptions } from './tcp'
export { MemoryNetwork, MemoryTransport } from './memory'
export type { MemoryNetworkOptions } from './memory'
export { decodeMessage, encodeMessage, encodedMessageBytes } from './codec'
export {
  CodecError,
  FrameTooLargeError,
  HandshakeRefusedError,
  HandshakeTimeoutError,
  PeerUnavailableError,
  ProtocolError,
  QueueFullError,
  SnapshotTransferError,
  TransportStoppedError,
  type RefusalReason,
} from './errors'
export { parsePeerAddress } from './shared'
export { PROTOCOL_VERSION } from './protocol'
