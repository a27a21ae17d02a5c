/**
 * An in-memory PeerTransport, for unit tests of the server and for running several nodes in one
 * process. A MemoryNetwork hub connects any number of endpoints by member id.
 *
 * It keeps the TCP transport's contract (types.ts) where it matters to a caller:
 * - every message goes through the binary codec (so what arrives is a decoded copy, and what
 *   does not encode throws in send(), as it would over TCP);
 * - delivery is asynchronous (setImmediate; per link in order), never inside send();
 * - a message to an unknown peer, to an endpoint that is not started, or to one that does not
 *   know the sender is dropped, counted and reported unreachable; so is one beyond the bound
 *   of messages in flight per link (queueMessagesMax);
 * - link faults (setLinkFault / healLink) behave the same: per message, on the way out and on the
 *   way in, loss drawn from the injected random;
 * - sendSnapshot hands the receiver's handler a pull-based iterable over the sender's image (so
 *   backpressure is natural) and settles as the handler does; a handler that resolves before
 *   reading the image to its end fails the transfer. Chunks are passed as they are, not copied.
 *
 * Addresses are informational here (stats); endpoints are found by member id. The deterministic
 * simulator may deliver messages itself in virtual time instead of using this hub.
 */
import { ValidationError } from '../errors'
import type { Message, NodeId } from '../raft/types'
import { decodeMessage, encodeMessage } from './codec'
import {
  describeError,
  FrameTooLargeError,
  PeerUnavailableError,
  QueueFullError,
  SnapshotTransferError,
  TransportStoppedError,
} from './errors'
import { LinkFaults } from './faults'
import { assertMemberId, assertSendable, newPeerStats, PeerReporter } from './shared'
import {
  silentLogger,
  type LinkDirection,
  type LinkFault,
  type Logger,
  type MessageHandler,
  type PeerStats,
  type PeerTransport,
  type RemovedHandler,
  type SnapshotHandler,
  type TransportStats,
  type UnreachableHandler,
} from './types'

export interface MemoryNetworkOptions {
  /** Uniform in [0, 1), for link-fault loss. Default Math.random. */
  random?: () => number
  /** Messages in flight per link (sent, not yet delivered) before drops. Default 4096. */
  queueMessagesMax?: number
  /** Largest encoded message. Default 8 MiB, as the TCP transport's frame limit. */
  messageBytesMax?: number
  /** Wall clock for lastError.atMs. Default Date.now. */
  now?: () => number
}

export class MemoryNetwork {
  readonly random: () => number
  readonly queueMessagesMax: number
  readonly messageBytesMax: number
  readonly now: () => number
  private readonly endpoints = new Map<NodeId, MemoryTransport>()

  constructor(options: MemoryNetworkOptions = {}) {
    this.random = options.random ?? Math.random
    this.queueMessagesMax = options.queueMessagesMax ?? 4096
    this.messageBytesMax = options.messageBytesMax ?? 8 * 1024 * 1024
    this.now = options.now ?? Date.now
  }

  /** A new transport for member `id` on this network (started separately). */
  endpoint(id: NodeId, options: { logger?: Logger } = {}): MemoryTransport {
    return new MemoryTransport(this, id, options.logger ?? silentLogger)
  }

  /** The started endpoint of member `id`, if any. */
  lookup(id: NodeId): MemoryTransport | undefined {
    return this.endpoints.get(id)
  }

  /** @internal */
  register(t: MemoryTransport): void {
    if (this.endpoints.has(t.id)) {
      throw new ValidationError('ENDPOINT_EXISTS', `member ${t.id} is already on this network`)
    }
    this.endpoints.set(t.id, t)
  }

  /** @internal */
  unregister(t: MemoryTransport): void {
    if (this.endpoints.get(t.id) === t) this.endpoints.delete(t.id)
  }
}

interface MemoryPeer {
  readonly id: NodeId
  address: string
  readonly stats: PeerStats
  inflight: number
  snapshotBusy: boolean
}

export class MemoryTransport implements PeerTransport {
  private readonly peers = new Map<NodeId, MemoryPeer>()
  private readonly faults: LinkFaults
  private readonly unreachable: PeerReporter
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly immediates = new Set<NodeJS.Immediate>()
  private state: 'new' | 'started' | 'stopped' = 'new'
  private messageHandler: MessageHandler | undefined
  private snapshotHandler: SnapshotHandler | undefined
  private readonly warnedUnknown = new Set<NodeId>()
  private readonly removal: PeerReporter
  private isRemoved: (id: NodeId) => boolean = () => false

  constructor(
    private readonly network: MemoryNetwork,
    readonly id: NodeId,
    private readonly logger: Logger,
  ) {
    assertMemberId(id, 'MemoryTransport')
    this.faults = new LinkFaults(network.random)
    this.unreachable = new PeerReporter((err) =>
      this.logger.error('unreachable handler threw', describeError(err)),
    )
    this.removal = new PeerReporter((err) =>
      this.logger.error('removed handler threw', describeError(err)),
    )
  }

  get started(): boolean {
    return this.state === 'started'
  }

  async start(): Promise<void> {
    if (this.state !== 'new')
      throw new ValidationError('TRANSPORT_STATE', `start() when ${this.state}`)
    if (this.messageHandler === undefined) {
      throw new ValidationError(
        'TRANSPORT_STATE',
        'start() before onMessage(): messages would be lost',
      )
    }
    this.network.register(this)
    this.state = 'started'
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return
    this.state = 'stopped'
    this.network.unregister(this)
    for (const t of this.timers) clearTimeout(t)
    for (const i of this.immediates) clearImmediate(i)
    this.timers.clear()
    this.immediates.clear()
  }

  onMessage(handler: MessageHandler): void {
    this.messageHandler = handler
  }

  onUnreachable(handler: UnreachableHandler): void {
    this.unreachable.setHandler(handler)
  }

  refuseRemoved(isRemoved: (id: NodeId) => boolean): void {
    this.isRemoved = isRemoved
  }

  onRemoved(handler: RemovedHandler): void {
    this.removal.setHandler(handler)
  }

  /** @internal Whether this endpoint refuses member `id` as removed. */
  refuses(id: NodeId): boolean {
    return this.isRemoved(id)
  }

  onSnapshot(handler: SnapshotHandler): void {
    this.snapshotHandler = handler
  }

  addPeer(id: NodeId, address: string): void {
    assertMemberId(id, 'addPeer')
    if (id === this.id) throw new ValidationError('BAD_PEER', `addPeer: ${id} is this node`)
    if (this.peers.has(id))
      throw new ValidationError('PEER_EXISTS', `addPeer: member ${id} is already a peer`)
    this.peers.set(id, {
      id,
      address,
      stats: newPeerStats(id, address),
      inflight: 0,
      snapshotBusy: false,
    })
    this.warnedUnknown.delete(id)
  }

  removePeer(id: NodeId): void {
    this.peers.delete(id)
    this.faults.heal(id)
  }

  updatePeer(id: NodeId, address: string): void {
    const peer = this.peers.get(id)
    if (peer === undefined)
      throw new ValidationError('UNKNOWN_PEER', `updatePeer: member ${id} is not a peer`)
    peer.address = address
    peer.stats.address = address
  }

  setLinkFault(peer: NodeId, fault: LinkFault, direction: LinkDirection = 'both'): void {
    this.faults.set(peer, fault, direction)
  }

  healLink(peer?: NodeId): void {
    this.faults.heal(peer)
  }

  /** True when `from` is a peer of this started endpoint (what a TCP handshake would check). */
  accepts(from: NodeId): boolean {
    return this.state === 'started' && this.peers.has(from)
  }

  send(msgs: readonly Message[]): void {
    for (const msg of msgs) {
      assertSendable(msg, this.id)
      const bytes = encodeMessage(msg)
      const peer = this.peers.get(msg.to)
      if (peer === undefined) {
        if (!this.warnedUnknown.has(msg.to) && this.warnedUnknown.size < 1024) {
          this.warnedUnknown.add(msg.to)
          this.logger.warn('dropping message to unknown peer', {
            code: 'TRANSPORT_PEER_UNAVAILABLE',
            peer: msg.to,
          })
        }
        this.unreachable.report(msg.to)
        continue
      }
      if (this.state !== 'started') {
        this.drop(peer, new TransportStoppedError(`send to member ${peer.id}`))
        continue
      }
      if (bytes.byteLength > this.network.messageBytesMax) {
        this.drop(peer, new FrameTooLargeError(bytes.byteLength, this.network.messageBytesMax))
        continue
      }
      if (peer.inflight >= this.network.queueMessagesMax) {
        this.drop(
          peer,
          new QueueFullError(`${peer.inflight} messages to member ${peer.id} in flight`),
        )
        continue
      }
      const verdict = this.faults.check(peer.id, 'send')
      if (verdict === 'drop' || verdict === 'lose') {
        peer.stats.faultDropped++
        continue
      }
      peer.inflight++
      peer.stats.sentMessages++
      peer.stats.sentBytes += bytes.byteLength
      peer.stats.writes++
      this.after(verdict, () => {
        peer.inflight--
        this.arrive(peer, bytes)
      })
    }
  }

  /** The sender's half of a delivery: find the receiver, or drop and report. */
  private arrive(peer: MemoryPeer, bytes: Uint8Array): void {
    if (this.peers.get(peer.id) !== peer) return // removed meanwhile
    const target = this.network.lookup(peer.id)
    if (target?.refuses(this.id)) {
      // As TCP refuses the handshake of a removed member: dropped, and this node is told.
      peer.stats.dropped++
      this.removal.report(peer.id)
      return
    }
    if (target === undefined || !target.accepts(this.id)) {
      const why =
        target === undefined ? 'is not on the network' : `does not accept member ${this.id}`
      this.drop(peer, new PeerUnavailableError(`member ${peer.id} ${why}`))
      return
    }
    target.receive(this.id, bytes)
  }

  /** The receiver's half: inbound faults, stats, decode, handler. */
  private receive(from: NodeId, bytes: Uint8Array): void {
    const peer = this.peers.get(from)!
    peer.stats.receivedMessages++
    peer.stats.receivedBytes += bytes.byteLength
    const verdict = this.faults.check(from, 'receive')
    if (verdict === 'drop' || verdict === 'lose') {
      peer.stats.faultDropped++
      return
    }
    const deliver = () => {
      const msg = decodeMessage(bytes)
      try {
        this.messageHandler!(msg)
      } catch (err) {
        this.logger.error('message handler threw', { type: msg.type, from, ...describeError(err) })
      }
    }
    if (verdict > 0) this.after(verdict, deliver)
    else deliver()
  }

  async sendSnapshot(
    to: NodeId,
    msg: Message,
    image: () => AsyncIterable<Uint8Array>,
  ): Promise<void> {
    assertSendable(msg, this.id)
    if (msg.type !== 'MsgSnap' || msg.to !== to) {
      throw new ValidationError(
        'BAD_SNAPSHOT_MESSAGE',
        `sendSnapshot(${to}) with ${msg.type} to ${msg.to}`,
      )
    }
    const bytes = encodeMessage(msg)
    const peer = this.peers.get(to)
    if (peer === undefined) throw new SnapshotTransferError(`member ${to} is not a peer`)
    if (peer.snapshotBusy)
      throw new SnapshotTransferError(`a snapshot to member ${to} is already under way`)
    peer.snapshotBusy = true
    try {
      const out = this.faults.check(to, 'send')
      if (out === 'drop' || out === 'lose') {
        peer.stats.faultDropped++
        throw new SnapshotTransferError(
          `snapshot to member ${to} ${out === 'drop' ? 'dropped' : 'lost'} by an injected link fault`,
        )
      }
      await new Promise<void>((resolve) => this.after(out, resolve))
      const target = this.network.lookup(to)
      if (this.state !== 'started') throw new TransportStoppedError(`snapshot to member ${to}`)
      if (target === undefined || !target.accepts(this.id)) {
        throw new SnapshotTransferError(`member ${to} is not reachable on the network`)
      }
      await target.receiveSnapshot(this.id, bytes, image)
      peer.stats.snapshotsSent++
    } catch (err) {
      peer.stats.snapshotsFailed++
      peer.stats.lastError = { ...describeError(err), atMs: this.network.now() }
      if (err instanceof SnapshotTransferError) throw err
      const wrapped = new SnapshotTransferError(
        `snapshot to member ${to} failed: ${describeError(err).message}`,
      )
      wrapped.cause = err
      throw wrapped
    } finally {
      peer.snapshotBusy = false
    }
  }

  private async receiveSnapshot(
    from: NodeId,
    bytes: Uint8Array,
    image: () => AsyncIterable<Uint8Array>,
  ): Promise<void> {
    const peer = this.peers.get(from)!
    const handler = this.snapshotHandler
    if (handler === undefined)
      throw new SnapshotTransferError(`member ${this.id} has no snapshot handler`)
    const verdict = this.faults.check(from, 'receive')
    if (verdict === 'drop' || verdict === 'lose') {
      peer.stats.faultDropped++
      throw new SnapshotTransferError(
        `member ${this.id} failed to save the snapshot: dropped by an injected link fault`,
      )
    }
    let consumedToEnd = false
    let iterated = false
    const isStarted = () => this.state === 'started'
    const stream: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]() {
        if (iterated) throw new SnapshotTransferError('a snapshot image can be read only once')
        iterated = true
        const source = image()[Symbol.asyncIterator]()
        return {
          async next() {
            if (!isStarted()) throw new SnapshotTransferError('the receiving transport stopped')
            const r = await source.next()
            if (r.done) consumedToEnd = true
            return r
          },
          async return() {
            await source.return?.()
            return { value: undefined, done: true }
          },
        }
      },
    }
    try {
      await handler(decodeMessage(bytes), stream)
    } catch (err) {
      throw new SnapshotTransferError(
        `member ${this.id} failed to save the snapshot: ${describeError(err).message}`,
      )
    }
    if (!consumedToEnd) {
      throw new SnapshotTransferError(
        `member ${this.id} failed to save the snapshot: the handler returned before the image ended`,
      )
    }
    peer.stats.snapshotsReceived++
  }

  stats(): TransportStats {
    const peers: PeerStats[] = []
    for (const p of this.peers.values()) {
      const target = this.network.lookup(p.id)
      const s: PeerStats = {
        ...p.stats,
        connected: this.state === 'started' && target !== undefined && target.accepts(this.id),
        queueMessages: p.inflight,
      }
      if (p.stats.lastError) s.lastError = { ...p.stats.lastError }
      peers.push(s)
    }
    peers.sort((a, b) => a.id - b.id)
    return { id: this.id, peers, refusedConnections: 0 }
  }

  private drop(peer: MemoryPeer, err: Error): void {
    peer.stats.dropped++
    peer.stats.lastError = { ...describeError(err), atMs: this.network.now() }
    this.unreachable.report(peer.id)
  }

  /** Runs fn on a later turn of the event loop (after delayMs when > 0), unless stopped. */
  private after(delayMs: number, fn: () => void): void {
    if (delayMs > 0) {
      const t = setTimeout(() => {
        this.timers.delete(t)
        fn()
      }, delayMs)
      this.timers.add(t)
    } else {
      const i = setImmediate(() => {
        this.immediates.delete(i)
        fn()
      })
      this.immediates.add(i)
    }
  }
}
