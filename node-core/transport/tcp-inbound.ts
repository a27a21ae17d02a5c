/**
 * The TCP transport's inbound side: the listener, the handshake a dialling peer must pass
 * (cluster id, token, target, not removed, known, snapshot slots), then the messages or the
 * snapshot stream it carries, and every way such a connection is refused or closed. The
 * outbound side is tcp-link.ts; tcp.ts owns both and the peer table.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer as netCreateServer, type Server, type Socket } from 'node:net'
import { createServer as tlsCreateServer } from 'node:tls'
import { isLocalMessage, type Message, type NodeId } from '../raft/types'
import { decodeMessage } from './codec'
import {
  describeError,
  HandshakeRefusedError,
  HandshakeTimeoutError,
  PeerUnavailableError,
  ProtocolError,
} from './errors'
import {
  ACCEPT_FRAME,
  decodeHello,
  encodeRefuse,
  FRAME_HEADER_BYTES,
  FrameKind,
  FrameReader,
  HANDSHAKE_FRAME_BYTES_MAX,
  type Frame,
} from './protocol'
import type { PeerRecord, TcpContext } from './tcp-context'
import { SnapshotReceiver } from './tcp-snapshot'
import type { SnapshotHandler } from './types'

/** The TLS material of the listener (and of the dialler: the same on both sides). */
export interface TcpTlsOptions {
  /** PEM private key and certificate of this node, presented to peers both ways. */
  key: string | Buffer
  cert: string | Buffer
  /** PEM CA certificate(s) that peers' certificates must chain to. */
  ca: string | Buffer
}

/** A peer as the inbound side sees it: its record, its current connection, its outbound link. */
export interface InboundPeer extends PeerRecord {
  /** The current inbound messages connection from this peer (the newest wins). */
  inbound: InboundConn | undefined
  link: { peerIsUp(): void }
}

/** What the inbound side needs from the transport that owns it. */
export interface InboundHost<P extends InboundPeer> {
  readonly ctx: TcpContext
  readonly tokenDigest: Buffer
  readonly tls: TcpTlsOptions | undefined
  isStarted(): boolean
  peer(id: NodeId): P | undefined
  isRemoved(id: NodeId): boolean
  /** The receive-side link fault's verdict for a message or chunk from `peer`. */
  faultCheck(peer: NodeId): 'drop' | 'lose' | number
  /** Runs fn after ms, unless the transport stops first. */
  later(ms: number, fn: () => void): void
  deliver(msg: Message): void
  snapshotHandler(): SnapshotHandler | undefined
}

export interface InboundConn {
  readonly socket: Socket
  readonly remote: string
  readonly reader: FrameReader
  state: 'handshake' | 'messages' | 'snapshot' | 'closed'
  /** The member id the HELLO claimed (for logs), before it is accepted. */
  claimed?: NodeId
  peer?: InboundPeer
  timer?: NodeJS.Timeout
  snapshot?: SnapshotReceiver
}

/** A function, so that TypeScript does not keep a narrowing across calls that change state. */
function isClosed(conn: InboundConn): boolean {
  return conn.state === 'closed'
}

export function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest()
}

export class InboundSide<P extends InboundPeer> {
  /** Connections refused or closed for bad input, since the start. */
  refused = 0
  private snapshotsIn = 0
  private readonly conns = new Set<InboundConn>()
  /** Every accepted TCP socket, including those still in a TLS handshake or being refused. */
  private readonly rawSockets = new Set<Socket>()

  constructor(private readonly host: InboundHost<P>) {}

  /** Closes the connections from one peer (it was removed). */
  closePeer(peer: P, err: Error): void {
    for (const conn of this.conns) if (conn.peer === peer) this.closeInbound(conn, err)
  }

  /** Closes every connection and destroys every accepted socket (the transport stops). */
  closeAll(err: Error): void {
    for (const conn of this.conns) this.closeInbound(conn, err)
    for (const socket of this.rawSockets) socket.destroy()
  }

  createServer(): Server {
    const onSocket = (socket: Socket) => this.onConnection(socket)
    const t = this.host.tls
    const server = t
      ? tlsCreateServer(
          {
            key: t.key,
            cert: t.cert,
            ca: t.ca,
            requestCert: true,
            rejectUnauthorized: true,
            handshakeTimeout: this.host.ctx.limits.handshakeTimeoutMs,
          },
          onSocket,
        )
      : netCreateServer(onSocket)
    server.maxConnections = this.host.ctx.limits.inboundConnectionsMax
    server.on('connection', (socket: Socket) => {
      this.rawSockets.add(socket)
      socket.on('close', () => this.rawSockets.delete(socket))
    })
    if (t) {
      server.on('tlsClientError', (err: Error, socket: Socket) => {
        this.refused++
        this.host.ctx.logger.warn('peer connection refused: TLS handshake failed', {
          code: 'TRANSPORT_TLS',
          cause: describeError(err).code,
          message: err.message,
          remote: `${socket.remoteAddress}:${socket.remotePort}`,
        })
      })
    }
    server.on('drop', (data?: { remoteAddress?: string; remotePort?: number }) => {
      this.refused++
      this.host.ctx.logger.warn('peer connection dropped: too many connections', {
        code: 'TRANSPORT_TOO_MANY_CONNECTIONS',
        limit: this.host.ctx.limits.inboundConnectionsMax,
        remote: `${data?.remoteAddress}:${data?.remotePort}`,
      })
    })
    return server
  }

  private onConnection(socket: Socket): void {
    if (!this.host.isStarted()) {
      socket.destroy()
      return
    }
    const conn: InboundConn = {
      socket,
      remote: `${socket.remoteAddress}:${socket.remotePort}`,
      reader: new FrameReader(HANDSHAKE_FRAME_BYTES_MAX),
      state: 'handshake',
    }
    this.conns.add(conn)
    socket.setNoDelay(true)
    socket.setKeepAlive(true, 10_000)
    const timeoutMs = this.host.ctx.limits.handshakeTimeoutMs
    conn.timer = setTimeout(() => {
      this.refuse(
        conn,
        new HandshakeRefusedError(
          'timeout',
          new HandshakeTimeoutError(timeoutMs, `connection from ${conn.remote}`).message,
        ),
      )
    }, timeoutMs)
    socket.on('data', (chunk: Buffer) => this.onInboundData(conn, chunk))
    socket.on('error', (err) => this.closeInbound(conn, err))
    socket.on('close', () =>
      this.closeInbound(conn, new PeerUnavailableError(`connection from ${conn.remote} closed`)),
    )
  }

  private onInboundData(conn: InboundConn, chunk: Buffer): void {
    if (conn.state === 'closed') return
    try {
      for (const f of conn.reader.push(chunk)) {
        if (isClosed(conn)) return
        this.onInboundFrame(conn, f)
      }
    } catch (err) {
      this.rejectInbound(conn, err)
    }
  }

  private onInboundFrame(conn: InboundConn, f: Frame): void {
    switch (conn.state) {
      case 'handshake':
        return this.onHello(conn, f)
      case 'messages':
        if (f.kind !== FrameKind.Message) {
          throw new ProtocolError(`unexpected frame kind ${f.kind} on a messages connection`)
        }
        return this.onMessageFrame(conn.peer as P, f.payload)
      case 'snapshot':
        return conn.snapshot!.onFrame(f)
    }
  }

  private onHello(conn: InboundConn, f: Frame): void {
    if (f.kind !== FrameKind.Hello) {
      throw new HandshakeRefusedError('malformed', `first frame has kind ${f.kind}, not HELLO`)
    }
    const h = decodeHello(f.payload)
    conn.claimed = h.from
    const peer = this.admit(h)
    clearTimeout(conn.timer)
    conn.timer = undefined
    conn.peer = peer
    conn.socket.write(ACCEPT_FRAME)
    conn.reader.setFrameBytesMax(this.host.ctx.limits.frameBytesMax)
    if (h.purpose === 'messages') {
      conn.state = 'messages'
      const old = peer.inbound
      peer.inbound = conn
      if (old !== undefined)
        this.closeInbound(
          old,
          new PeerUnavailableError(`replaced by a newer connection from member ${peer.id}`),
        )
      this.host.ctx.logger.info('peer connected in', { peer: peer.id, remote: conn.remote })
      peer.link.peerIsUp()
    } else {
      conn.state = 'snapshot'
      this.snapshotsIn++
      conn.snapshot = new SnapshotReceiver(
        {
          id: this.host.ctx.id,
          limits: this.host.ctx.limits,
          logger: this.host.ctx.logger,
          handler: this.host.snapshotHandler(),
          faulted: () => {
            const v = this.host.faultCheck(peer.id)
            if (v === 'drop' || v === 'lose') peer.stats.faultDropped++
            return v === 'drop' || v === 'lose'
          },
        },
        conn.socket,
        peer,
      )
    }
  }

  /**
   * The handshake's checks: the right cluster, token and target, a known member that was not
   * removed, and a free slot for a snapshot stream. Returns the peer the HELLO is from.
   */
  private admit(h: ReturnType<typeof decodeHello>): P {
    if (h.clusterId !== this.host.ctx.clusterId) {
      throw new HandshakeRefusedError(
        'cluster-id',
        `member ${h.from} is in cluster ${JSON.stringify(h.clusterId)}, this node in ${JSON.stringify(this.host.ctx.clusterId)}`,
      )
    }
    if (!timingSafeEqual(digest(h.token), this.host.tokenDigest)) {
      throw new HandshakeRefusedError('token', `member ${h.from} presented a wrong cluster token`)
    }
    if (h.to !== this.host.ctx.id) {
      throw new HandshakeRefusedError(
        'target',
        `member ${h.from} dialled member ${h.to}, this is member ${this.host.ctx.id}`,
      )
    }
    if (this.host.isRemoved(h.from)) {
      throw new HandshakeRefusedError('removed', `member ${h.from} was removed from the cluster`)
    }
    const peer = this.host.peer(h.from)
    if (peer === undefined) {
      throw new HandshakeRefusedError(
        'unknown-sender',
        `member ${h.from} is not a peer of member ${this.host.ctx.id}`,
      )
    }
    if (h.purpose === 'snapshot' && this.snapshotsIn >= this.host.ctx.limits.snapshotsInboundMax) {
      throw new HandshakeRefusedError(
        'busy',
        `${this.snapshotsIn} snapshot streams already under way`,
      )
    }
    return peer
  }

  private onMessageFrame(peer: P, payload: Uint8Array): void {
    const msg = decodeMessage(payload)
    if (msg.from !== peer.id || msg.to !== this.host.ctx.id || isLocalMessage(msg.type)) {
      throw new ProtocolError(
        `${msg.type} ${msg.from}->${msg.to} on the connection from member ${peer.id} to ${this.host.ctx.id}`,
      )
    }
    peer.stats.receivedMessages++
    peer.stats.receivedBytes += FRAME_HEADER_BYTES + payload.byteLength
    const verdict = this.host.faultCheck(peer.id)
    if (verdict === 'drop' || verdict === 'lose') {
      peer.stats.faultDropped++
    } else if (verdict > 0) {
      this.host.later(verdict, () => this.host.deliver(msg))
    } else {
      this.host.deliver(msg)
    }
  }

  /** Answers REFUSE with the reason and closes (the handshake failed). */
  private refuse(conn: InboundConn, err: HandshakeRefusedError): void {
    if (conn.state === 'closed') return
    this.refused++
    this.host.ctx.logger.warn('peer connection refused', {
      ...describeError(err),
      reason: err.reason,
      remote: conn.remote,
      claimedPeer: conn.claimed,
    })
    const socket = conn.socket
    this.closeInbound(conn, undefined)
    if (!socket.destroyed) {
      socket.end(encodeRefuse(err.reason, err.message))
      // The refused side closes once it has read the reason; if it does not, cut it off.
      socket.setTimeout(1000, () => socket.destroy())
    }
  }

  /** Closes a connection that broke the protocol after (or while) shaking hands. */
  private rejectInbound(conn: InboundConn, err: unknown): void {
    if (conn.state === 'closed') return
    if (conn.state === 'handshake' && err instanceof HandshakeRefusedError) {
      this.refuse(conn, err)
      return
    }
    this.refused++
    const fields = {
      ...describeError(err),
      remote: conn.remote,
      peer: conn.peer?.id ?? conn.claimed,
      during: conn.state,
    }
    this.host.ctx.logger.warn('peer connection closed: bad input', fields)
    if (conn.peer !== undefined) this.host.ctx.recordError(conn.peer, err)
    this.closeInbound(conn, err)
    conn.socket.destroy()
  }

  /** Forgets an inbound connection (idempotent) and destroys it unless it is being refused. */
  private closeInbound(conn: InboundConn, err: unknown): void {
    if (conn.state === 'closed') return
    const wasSnapshot = conn.state === 'snapshot'
    conn.state = 'closed'
    this.conns.delete(conn)
    clearTimeout(conn.timer)
    conn.timer = undefined
    if (conn.peer?.inbound === conn) conn.peer.inbound = undefined
    if (wasSnapshot) {
      this.snapshotsIn--
      conn.snapshot!.fail(err)
    }
    if (err !== undefined) conn.socket.destroy()
  }
}
