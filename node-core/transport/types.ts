/**
 * The contract between a node server and its peer transport, shared by the TCP transport
 * (tcp.ts) and the in-memory one (memory.ts).
 *
 * The server owns one transport. After each Ready it calls send(ready.messages); it steps what
 * onMessage delivers into its RawNode, reports onUnreachable ids with reportUnreachable, and
 * sends MsgSnap through sendSnapshot, whose promise settles once the receiver has saved the image
 * (then reportSnapshot(finish) or, on rejection, reportSnapshot(failure)).
 *
 * Guarantees:
 * - send() never blocks and never throws for network conditions. A message that cannot be
 *   queued (queue full, peer unknown, peer in backoff after a failed connection) is dropped,
 *   counted in stats().peers[i].dropped, and its peer reported through onUnreachable.
 *   send() throws ValidationError only for programmer errors (a local message type, a message
 *   not from this node or addressed to it, a message that does not encode).
 * - Callbacks (onMessage, onUnreachable, onSnapshot) never run inside send(): they run later on
 *   the event loop, so a handler may call send() or step raft without re-entrancy.
 * - Messages from one peer arrive in the order it sent them, unless a link fault delays them.
 *   Raft tolerates loss, duplication and reordering; the transport adds only loss.
 */
import type { Message, NodeId } from '../raft/types'

export type { Logger } from '../kernel/logger'

/** Which messages a link fault applies to, seen from the transport it is set on. */
export type LinkDirection = 'send' | 'receive' | 'both'

/**
 * A fault on the link between this node and one peer, for the cluster's fault tools. Faults are
 * checked per message (and once per snapshot stream), in this order: drop, loss, delay.
 */
export interface LinkFault {
  /** Cut the link: every message is dropped. */
  drop?: boolean
  /** Added one-way latency, in milliseconds. */
  delayMs?: number
  /** Probability in [0, 1] that a message is lost, drawn from the transport's injected random. */
  lossRate?: number
}

export interface PeerStats {
  id: NodeId
  address: string
  /** The outbound link has a connection whose handshake was accepted. */
  connected: boolean
  sentMessages: number
  sentBytes: number
  /** Socket writes (each carries every message queued at that moment, up to a bound). */
  writes: number
  receivedMessages: number
  receivedBytes: number
  queueMessages: number
  queueBytes: number
  /** Dropped by the transport (queue full, no connection) and reported unreachable. */
  dropped: number
  /** Dropped or lost on purpose by an injected link fault (not reported unreachable). */
  faultDropped: number
  snapshotsSent: number
  snapshotsFailed: number
  snapshotsReceived: number
  /** Successful handshakes on the outbound link since start (1 = never reconnected). */
  connects: number
  lastError?: { code: string; message: string; atMs: number }
}

export interface TransportStats {
  id: NodeId
  peers: PeerStats[]
  /** Inbound connections refused or closed for bad input (handshake, frame, codec errors). */
  refusedConnections: number
}

export type MessageHandler = (msg: Message) => void
export type UnreachableHandler = (id: NodeId) => void
export type RemovedHandler = (by: NodeId) => void
/**
 * Receives a MsgSnap and its image. Resolve once the image is saved (the sender's promise then
 * resolves); reject to fail the transfer. The iterable throws SnapshotTransferError if the stream
 * breaks; a handler that resolves before reading the image to its end fails the transfer.
 */
export type SnapshotHandler = (msg: Message, image: AsyncIterable<Uint8Array>) => Promise<void>

export interface PeerTransport {
  readonly id: NodeId
  start(): Promise<void>
  /** Closes every connection and timer; pending sendSnapshot promises reject. Idempotent. */
  stop(): Promise<void>
  send(msgs: readonly Message[]): void
  /** Throws ValidationError on a malformed address or an id already added. */
  addPeer(id: NodeId, address: string): void
  removePeer(id: NodeId): void
  updatePeer(id: NodeId, address: string): void
  onMessage(handler: MessageHandler): void
  onUnreachable(handler: UnreachableHandler): void
  /**
   * How to tell a member removed from the cluster for good (one whose committed removal this
   * node applied). Its messages are no longer taken; it is told it was removed instead (TCP: its
   * handshake is refused with reason 'removed'), so that it can stop, as etcd tells a removed
   * member. A removed member often never learns of its removal from raft: the leader may drop it
   * from the configuration before it has heard that the removal committed.
   */
  refuseRemoved(isRemoved: (id: NodeId) => boolean): void
  /** Called when a peer says this node was removed from the cluster (`by`: that peer). */
  onRemoved(handler: RemovedHandler): void
  /**
   * Streams a MsgSnap with its image (produced lazily by `image`, pulled as the receiver
   * consumes). Resolves when the receiver acknowledged; rejects with SnapshotTransferError
   * otherwise. At most one at a time per peer.
   */
  sendSnapshot(to: NodeId, msg: Message, image: () => AsyncIterable<Uint8Array>): Promise<void>
  onSnapshot(handler: SnapshotHandler): void
  /** Sets (replaces) the fault on the link to `peer`, for `direction` (default 'both'). */
  setLinkFault(peer: NodeId, fault: LinkFault, direction?: LinkDirection): void
  /** Removes the faults on the link to `peer`, or on every link. */
  healLink(peer?: NodeId): void
  stats(): TransportStats
}

export { silentLogger } from '../kernel/logger'
