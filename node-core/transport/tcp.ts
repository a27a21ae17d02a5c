/**
 * The TCP peer transport (optionally TLS): PeerTransport over real sockets.
 *
 * Connections. One connection per peer pair and direction: to send to a peer this node dials it
 * (tcp-link.ts) and keeps the connection up, redialling with capped, jittered exponential
 * backoff; what peers send arrives on the connections they dialled. Snapshots travel on a
 * connection of their own (tcp-snapshot.ts). Frames and the handshake are in protocol.ts,
 * messages are encoded by codec.ts.
 *
 * Handshake checks, in order, on every inbound connection: frame kind and magic, protocol
 * version, cluster id, cluster token (compared in constant time), target member id (this node),
 * sender is a current peer (added with addPeer, not removed), and for snapshots the number of
 * streams under way. A failed check answers REFUSE with the reason, closes the connection, logs
 * a warning with code TRANSPORT_HANDSHAKE_REFUSED and the reason, and counts it in
 * stats().refusedConnections. A handshake that does not arrive within handshakeTimeoutMs is
 * refused ('timeout'). Before the handshake, frames are limited to 1 KiB.
 *
 * After the handshake every MESSAGE frame must decode (codec.ts), come from the handshake's
 * sender and be addressed to this node; a frame longer than frameBytesMax, a frame of another
 * kind or a message that does not decode closes that connection (logged with the error's code);
 * the transport and its other connections carry on. The sender redials.
 *
 * TLS (options.tls): the server asks for and verifies a client certificate (mutual TLS: peers
 * authenticate each other by the given CA), clients verify the server's certificate against
 * the CA and the address they dial. A client that does not speak TLS is refused by the TLS
 * handshake (logged, code TRANSPORT_TLS). Without TLS the token crosses the network in clear:
 * it guards against joining the wrong cluster, not against an eavesdropper.
 *
 * Link faults (setLinkFault) apply per message on the way out (before queueing) and on the way
 * in (before the handler), and once per snapshot stream; loss draws on the injected `random`.
 */
import { connect as netConnect, type Server, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { ValidationError } from '../errors'
import type { Message, NodeId } from '../raft/types'
import { encodedMessageBytes, writeMessage } from './codec'
import {
  describeError,
  FrameTooLargeError,
  PeerUnavailableError,
  SnapshotTransferError,
  TransportStoppedError,
} from './errors'
import { LinkFaults } from './faults'
import { FRAME_HEADER_BYTES, FrameKind } from './protocol'
import {
  assertMemberId,
  assertSendable,
  newPeerStats,
  parsePeerAddress,
  PeerReporter,
} from './shared'
import { resolveLimits, type PeerRecord, type TcpContext, type TcpLimits } from './tcp-context'
import { digest, InboundSide, type InboundPeer, type TcpTlsOptions } from './tcp-inbound'
import { OutboundLink } from './tcp-link'
import { SnapshotSend } from './tcp-snapshot'
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

export type { TcpLimits } from './tcp-context'
export { DEFAULT_TCP_LIMITS } from './tcp-context'

export type { TcpTlsOptions } from './tcp-inbound'

export interface TcpTransportOptions {
  id: NodeId
  clusterId: string
  /** Shared secret of the cluster, checked in the handshake (see the module comment on TLS). */
  token: string
  /** Listen address; defaults 127.0.0.1 and port 0 (any free port, see address()). */
  host?: string
  port?: number
  tls?: TcpTlsOptions
  logger?: Logger
  /** Uniform in [0, 1): backoff jitter and link-fault loss. Default Math.random. */
  random?: () => number
  /** Wall clock for lastError.atMs. Default Date.now. */
  now?: () => number
  limits?: Partial<TcpLimits>
}

interface TcpPeer extends InboundPeer {
  link: OutboundLink
  snapshotSend: SnapshotSend | undefined
  /** Messages held back by a delay fault, bounded like the queue. */
  delayed: number
}

export class TcpTransport implements PeerTransport {
  readonly id: NodeId
  private readonly tokenDigest: Buffer
  private readonly tlsOptions: TcpTlsOptions | undefined
  private readonly logger: Logger
  private readonly now: () => number
  private readonly limits: TcpLimits
  private readonly faults: LinkFaults
  private readonly unreachable: PeerReporter
  private readonly ctx: TcpContext
  private readonly peers = new Map<NodeId, TcpPeer>()
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly warnedUnknown = new Set<NodeId>()
  private readonly removal: PeerReporter
  private isRemoved: (id: NodeId) => boolean = () => false
  private server: Server | undefined
  private state: 'new' | 'starting' | 'started' | 'stopped' = 'new'
  private listenHost: string
  private listenPort: number
  private messageHandler: MessageHandler | undefined
  private snapshotHandler: SnapshotHandler | undefined
  private readonly inbound: InboundSide<TcpPeer>

  constructor(options: TcpTransportOptions) {
    assertMemberId(options.id, 'TcpTransport')
    this.id = options.id
    this.tokenDigest = digest(options.token)
    this.tlsOptions = options.tls
    this.logger = options.logger ?? silentLogger
    this.now = options.now ?? Date.now
    this.limits = resolveLimits(options.limits)
    const random = options.random ?? Math.random
    this.faults = new LinkFaults(random)
    this.listenHost = options.host ?? '127.0.0.1'
    this.listenPort = options.port ?? 0
    this.unreachable = new PeerReporter((err) =>
      this.logger.error('unreachable handler threw', describeError(err)),
    )
    this.removal = new PeerReporter((err) =>
      this.logger.error('removed handler threw', describeError(err)),
    )
    this.ctx = {
      id: this.id,
      clusterId: options.clusterId,
      token: options.token,
      limits: this.limits,
      logger: this.logger,
      random,
      dial: (address) => this.dial(address),
      recordError: (peer, err) => this.recordError(peer, err),
      reportUnreachable: (id) => this.unreachable.report(id),
      reportRemoved: (id) => this.reportRemoved(id),
    }
    this.inbound = new InboundSide<TcpPeer>({
      ctx: this.ctx,
      tokenDigest: this.tokenDigest,
      tls: this.tlsOptions,
      isStarted: () => this.state === 'started',
      peer: (id) => this.peers.get(id),
      isRemoved: (id) => this.isRemoved(id),
      faultCheck: (peer) => this.faults.check(peer, 'receive'),
      later: (ms, fn) => this.later(ms, fn),
      deliver: (msg) => this.deliver(msg),
      snapshotHandler: () => this.snapshotHandler,
    })
  }

  /** host:port this transport listens on (the real port when started with port 0). */
  address(): string {
    if (this.state !== 'started') throw new TransportStoppedError('address()')
    return this.listenHost.includes(':')
      ? `[${this.listenHost}]:${this.listenPort}`
      : `${this.listenHost}:${this.listenPort}`
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
    this.state = 'starting'
    const server = this.inbound.createServer()
    this.server = server
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(this.listenPort, this.listenHost, () => {
          server.off('error', reject)
          resolve()
        })
      })
    } catch (err) {
      // EADDRINUSE and the like: nothing was started, start() may be called again.
      this.state = 'new'
      this.server = undefined
      this.logger.error('peer transport cannot listen', {
        host: this.listenHost,
        port: this.listenPort,
        ...describeError(err),
      })
      throw err
    }
    server.on('error', (err) => this.logger.error('peer listener error', describeError(err)))
    const bound = server.address()
    if (bound !== null && typeof bound === 'object') this.listenPort = bound.port
    this.state = 'started'
    this.logger.info('peer transport listening', {
      id: this.id,
      address: this.address(),
      tls: !!this.tlsOptions,
    })
    for (const peer of this.peers.values()) peer.link.start()
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return
    const wasListening = this.state === 'started'
    this.state = 'stopped'
    for (const peer of this.peers.values()) {
      peer.link.stop()
      peer.snapshotSend?.abort(new TransportStoppedError(`snapshot to member ${peer.id}`))
    }
    this.inbound.closeAll(new TransportStoppedError('inbound connection'))
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    const server = this.server
    if (server !== undefined && wasListening) {
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
    this.logger.info('peer transport stopped', { id: this.id })
  }

  onMessage(handler: MessageHandler): void {
    this.messageHandler = handler
  }

  refuseRemoved(isRemoved: (id: NodeId) => boolean): void {
    this.isRemoved = isRemoved
  }

  onRemoved(handler: RemovedHandler): void {
    this.removal.setHandler(handler)
  }

  private reportRemoved(by: NodeId): void {
    this.logger.warn('a peer says this member was removed from the cluster', { peer: by })
    this.removal.report(by)
  }

  onUnreachable(handler: UnreachableHandler): void {
    this.unreachable.setHandler(handler)
  }

  onSnapshot(handler: SnapshotHandler): void {
    this.snapshotHandler = handler
  }

  addPeer(id: NodeId, address: string): void {
    assertMemberId(id, 'addPeer')
    if (id === this.id) throw new ValidationError('BAD_PEER', `addPeer: ${id} is this node`)
    if (this.peers.has(id))
      throw new ValidationError('PEER_EXISTS', `addPeer: member ${id} is already a peer`)
    parsePeerAddress(address)
    const record: PeerRecord = { id, address, stats: newPeerStats(id, address) }
    const peer: TcpPeer = Object.assign(record, {
      link: new OutboundLink(this.ctx, record),
      inbound: undefined,
      snapshotSend: undefined,
      delayed: 0,
    })
    this.peers.set(id, peer)
    this.warnedUnknown.delete(id)
    if (this.state === 'started') peer.link.start()
  }

  removePeer(id: NodeId): void {
    const peer = this.peers.get(id)
    if (peer === undefined) return
    this.peers.delete(id)
    peer.link.stop()
    peer.snapshotSend?.abort(new SnapshotTransferError(`member ${id} was removed`))
    this.inbound.closePeer(peer, new PeerUnavailableError(`member ${id} was removed`))
    this.faults.heal(id)
    this.logger.info('peer removed', { peer: id })
  }

  updatePeer(id: NodeId, address: string): void {
    const peer = this.peers.get(id)
    if (peer === undefined)
      throw new ValidationError('UNKNOWN_PEER', `updatePeer: member ${id} is not a peer`)
    parsePeerAddress(address)
    if (peer.address === address) return
    peer.address = address
    peer.stats.address = address
    peer.link.readdress()
  }

  setLinkFault(peer: NodeId, fault: LinkFault, direction: LinkDirection = 'both'): void {
    this.faults.set(peer, fault, direction)
    this.logger.info('link fault set', { peer, direction, ...fault })
  }

  healLink(peer?: NodeId): void {
    this.faults.heal(peer)
    this.logger.info('link healed', { peer: peer ?? 'all' })
  }

  send(msgs: readonly Message[]): void {
    for (const msg of msgs) {
      assertSendable(msg, this.id)
      const peer = this.peers.get(msg.to)
      if (peer === undefined) {
        this.dropUnknown(msg)
        continue
      }
      const size = encodedMessageBytes(msg)
      const frameBytes = FRAME_HEADER_BYTES + size
      if (frameBytes > this.limits.frameBytesMax) {
        const err = new FrameTooLargeError(frameBytes, this.limits.frameBytesMax)
        peer.stats.dropped++
        this.recordError(peer, err)
        this.logger.error('message too large to send', {
          peer: peer.id,
          type: msg.type,
          ...describeError(err),
        })
        this.unreachable.report(peer.id)
        continue
      }
      const frame = Buffer.allocUnsafe(frameBytes)
      frame.writeUInt32BE(size + 1, 0)
      frame[4] = FrameKind.Message
      writeMessage(msg, frame, FRAME_HEADER_BYTES, size)
      const verdict = this.faults.check(peer.id, 'send')
      if (verdict === 'drop' || verdict === 'lose') {
        peer.stats.faultDropped++
      } else if (verdict > 0) {
        this.delay(peer, verdict, () => peer.link.enqueue(frame))
      } else {
        peer.link.enqueue(frame)
      }
    }
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
    const peer = this.peers.get(to)
    const fail = (err: unknown): never => {
      if (peer !== undefined) {
        peer.stats.snapshotsFailed++
        this.recordError(peer, err)
      }
      this.logger.warn('snapshot send failed', { peer: to, ...describeError(err) })
      if (err instanceof SnapshotTransferError) throw err
      const wrapped = new SnapshotTransferError(
        `snapshot to member ${to} failed: ${describeError(err).message}`,
      )
      wrapped.cause = err
      throw wrapped
    }
    if (this.state !== 'started') return fail(new TransportStoppedError(`snapshot to member ${to}`))
    if (peer === undefined) return fail(new PeerUnavailableError(`member ${to} is not a peer`))
    if (peer.snapshotSend !== undefined) {
      return fail(new SnapshotTransferError(`a snapshot to member ${to} is already under way`))
    }
    const verdict = this.faults.check(to, 'send')
    if (verdict === 'drop' || verdict === 'lose') {
      peer.stats.faultDropped++
      return fail(
        new SnapshotTransferError(
          `snapshot to member ${to} ${verdict === 'drop' ? 'dropped' : 'lost'} by an injected link fault`,
        ),
      )
    }
    const send = new SnapshotSend(this.ctx, peer, msg)
    peer.snapshotSend = send
    try {
      if (verdict > 0) await new Promise<void>((resolve) => this.later(verdict, resolve))
      if (this.peers.get(to) !== peer || this.state !== 'started') {
        throw new SnapshotTransferError(`member ${to} was removed or the transport stopped`)
      }
      this.logger.info('sending snapshot', { peer: to, index: msg.snapshot?.metadata.index })
      await send.run(image)
      peer.stats.snapshotsSent++
      this.logger.info('snapshot sent', { peer: to, bytes: send.sentBytes })
    } catch (err) {
      fail(err)
    } finally {
      if (peer.snapshotSend === send) peer.snapshotSend = undefined
    }
  }

  stats(): TransportStats {
    const peers: PeerStats[] = []
    for (const p of this.peers.values()) {
      const s: PeerStats = {
        ...p.stats,
        queueMessages: p.link.queuedMessages,
        queueBytes: p.link.queuedBytes,
      }
      if (p.stats.lastError) s.lastError = { ...p.stats.lastError }
      peers.push(s)
    }
    peers.sort((a, b) => a.id - b.id)
    return { id: this.id, peers, refusedConnections: this.inbound.refused }
  }

  // -------------------------------------------------------------------------------------------
  // Outbound plumbing

  private dial(address: string): Socket {
    const { host, port } = parsePeerAddress(address)
    const t = this.tlsOptions
    const socket = t
      ? tlsConnect({ host, port, key: t.key, cert: t.cert, ca: t.ca })
      : netConnect({ host, port })
    socket.setKeepAlive(true, 10_000)
    return socket
  }

  private recordError(peer: PeerRecord, err: unknown): void {
    peer.stats.lastError = { ...describeError(err), atMs: this.now() }
  }

  private dropUnknown(msg: Message): void {
    if (!this.warnedUnknown.has(msg.to) && this.warnedUnknown.size < 1024) {
      this.warnedUnknown.add(msg.to)
      this.logger.warn('dropping message to unknown peer', {
        code: 'TRANSPORT_PEER_UNAVAILABLE',
        peer: msg.to,
        type: msg.type,
      })
    }
    this.unreachable.report(msg.to)
  }

  private deliver(msg: Message): void {
    try {
      this.messageHandler!(msg)
    } catch (err) {
      this.logger.error('message handler threw', {
        type: msg.type,
        from: msg.from,
        ...describeError(err),
      })
    }
  }

  /** Runs fn after ms, unless the transport stops first. */
  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t)
      fn()
    }, ms)
    this.timers.add(t)
  }

  private delay(peer: TcpPeer, ms: number, fn: () => void): void {
    if (peer.delayed >= this.limits.queueMessagesMax) {
      peer.stats.dropped++
      this.recordError(
        peer,
        new PeerUnavailableError(
          `${peer.delayed} messages to member ${peer.id} already held by a delay fault`,
        ),
      )
      this.unreachable.report(peer.id)
      return
    }
    peer.delayed++
    this.later(ms, () => {
      peer.delayed--
      if (this.peers.get(peer.id) === peer) fn()
    })
  }
}
