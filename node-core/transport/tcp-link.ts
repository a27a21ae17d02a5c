/**
 * One outbound link: the connection this node dials to send messages to one peer.
 *
 * States:
 *   idle        not started
 *   connecting  dialled, HELLO written, waiting for ACCEPT (at most handshakeTimeoutMs).
 *               Messages queue up, bounded.
 *   connected   queued messages are written, coalesced: all that is queued when the flush runs
 *               (scheduled with setImmediate after a send) goes out in one socket write, up to
 *               writeBytesMax. When the socket says its buffer is full we wait for 'drain';
 *               meanwhile the bounded queue absorbs sends, and drops once full.
 *   backoff     the last attempt failed (refused, timed out, lost); the queue was dropped and the
 *               peer reported unreachable. Sends are dropped (and reported) until the next dial,
 *               after backoffDelayMs(attempt): exponential, capped, jittered.
 *   stopped     removed or transport stopped; nothing is reported any more.
 *
 * A drop is never silent: it counts in stats.dropped, sets lastError, reports the peer through
 * onUnreachable, and logs once per run of consecutive drops.
 */
import type { Socket } from 'node:net'
import {
  describeError,
  HandshakeRefusedError,
  HandshakeTimeoutError,
  PeerUnavailableError,
  ProtocolError,
  QueueFullError,
} from './errors'
import { backoffDelayMs } from './faults'
import {
  decodeRefuse,
  encodeHello,
  FrameKind,
  FrameReader,
  HANDSHAKE_FRAME_BYTES_MAX,
  type Frame,
} from './protocol'
import type { PeerRecord, TcpContext } from './tcp-context'

type LinkState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'stopped'

export class OutboundLink {
  private state: LinkState = 'idle'
  private socket: Socket | undefined
  private timer: NodeJS.Timeout | undefined
  private flushImmediate: NodeJS.Immediate | undefined
  private queue: Buffer[] = []
  private queueBytes = 0
  private attempt = 0
  private waitingDrain = false
  private dropping = false

  constructor(
    private readonly ctx: TcpContext,
    private readonly peer: PeerRecord,
  ) {}

  get linkState(): LinkState {
    return this.state
  }

  get queuedMessages(): number {
    return this.queue.length
  }

  get queuedBytes(): number {
    return this.queueBytes
  }

  start(): void {
    if (this.state === 'idle') this.connect()
  }

  stop(): void {
    this.state = 'stopped'
    this.teardown()
    this.queue = []
    this.queueBytes = 0
    this.peer.stats.connected = false
  }

  /** A new address: drop the current connection (keeping the queue) and dial again at once. */
  readdress(): void {
    if (this.state === 'idle' || this.state === 'stopped') return
    this.teardown()
    this.attempt = 0
    this.peer.stats.connected = false
    this.connect()
  }

  /**
   * The peer just proved it is up (it dialled us and passed the handshake): a link waiting out a
   * backoff dials again at once. Without this, a restarted peer stays unreachable from here for
   * up to backoffMaxMs, long enough to stall an election that needs both directions.
   */
  peerIsUp(): void {
    if (this.state !== 'backoff') return
    clearTimeout(this.timer)
    this.timer = undefined
    this.attempt = 0
    this.connect()
  }

  /** Queues one encoded MESSAGE frame, or drops it (and reports) when it cannot be queued. */
  enqueue(frame: Buffer): void {
    const { queueMessagesMax, queueBytesMax } = this.ctx.limits
    if (this.state !== 'connecting' && this.state !== 'connected') {
      if (this.state === 'stopped') {
        this.peer.stats.dropped++ // sent after stop: counted, nobody left to report to
        return
      }
      this.drop(
        new PeerUnavailableError(
          `member ${this.peer.id} at ${this.peer.address} is not connected (${this.state})`,
        ),
      )
      return
    }
    if (this.queue.length >= queueMessagesMax || this.queueBytes + frame.length > queueBytesMax) {
      this.drop(
        new QueueFullError(
          `send queue to member ${this.peer.id} is full: ${this.queue.length}/${queueMessagesMax} ` +
            `messages, ${this.queueBytes}+${frame.length}/${queueBytesMax} bytes`,
        ),
      )
      return
    }
    this.queue.push(frame)
    this.queueBytes += frame.length
    this.dropping = false
    if (this.state === 'connected') this.scheduleFlush()
  }

  private drop(err: Error): void {
    this.peer.stats.dropped++
    this.ctx.recordError(this.peer, err)
    this.ctx.reportUnreachable(this.peer.id)
    if (!this.dropping) {
      this.dropping = true
      this.ctx.logger.warn('dropping messages to peer', {
        peer: this.peer.id,
        address: this.peer.address,
        ...describeError(err),
      })
    }
  }

  private connect(): void {
    this.state = 'connecting'
    const address = this.peer.address
    const socket = this.ctx.dial(address)
    this.socket = socket
    const reader = new FrameReader(HANDSHAKE_FRAME_BYTES_MAX)
    const timeoutMs = this.ctx.limits.handshakeTimeoutMs
    this.timer = setTimeout(() => {
      this.fail(
        socket,
        new HandshakeTimeoutError(timeoutMs, `link to member ${this.peer.id} at ${address}`),
      )
    }, timeoutMs)
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const f of reader.push(chunk)) {
          if (socket !== this.socket) return
          this.onFrame(socket, f)
        }
      } catch (err) {
        this.fail(socket, err)
      }
    })
    socket.on('drain', () => {
      if (socket !== this.socket) return
      this.waitingDrain = false
      this.flush()
    })
    socket.on('error', (err) => this.fail(socket, err))
    socket.on('close', () => {
      this.fail(
        socket,
        new PeerUnavailableError(`connection to member ${this.peer.id} at ${address} closed`),
      )
    })
    socket.setNoDelay(true)
    socket.write(
      encodeHello({
        purpose: 'messages',
        from: this.ctx.id,
        to: this.peer.id,
        clusterId: this.ctx.clusterId,
        token: this.ctx.token,
      }),
    )
  }

  private onFrame(socket: Socket, f: Frame): void {
    if (this.state === 'connecting' && f.kind === FrameKind.Accept) {
      clearTimeout(this.timer)
      this.timer = undefined
      this.state = 'connected'
      this.attempt = 0
      this.peer.stats.connected = true
      this.peer.stats.connects++
      this.ctx.logger.info('peer link up', { peer: this.peer.id, address: this.peer.address })
      this.scheduleFlush()
    } else if (this.state === 'connecting' && f.kind === FrameKind.Refuse) {
      const refusal = decodeRefuse(f.payload)
      if (refusal.reason === 'removed') this.ctx.reportRemoved(this.peer.id)
      this.fail(socket, refusal)
    } else {
      this.fail(
        socket,
        new ProtocolError(
          `unexpected frame kind ${f.kind} from member ${this.peer.id} (${this.state})`,
        ),
      )
    }
  }

  /** Ends the current attempt or connection: drop the queue, report, back off, redial later. */
  private fail(socket: Socket, err: unknown): void {
    if (socket !== this.socket || this.state === 'stopped') return
    const wasConnected = this.state === 'connected'
    this.teardown()
    this.peer.stats.connected = false
    const droppedMessages = this.queue.length
    if (droppedMessages > 0) {
      this.peer.stats.dropped += droppedMessages
      this.queue = []
      this.queueBytes = 0
    }
    this.ctx.recordError(this.peer, err)
    const retryInMs = backoffDelayMs(
      this.attempt,
      {
        baseMs: this.ctx.limits.backoffBaseMs,
        maxMs: this.ctx.limits.backoffMaxMs,
        jitterRatio: this.ctx.limits.backoffJitterRatio,
      },
      this.ctx.random,
    )
    this.attempt++
    this.state = 'backoff'
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.connect()
    }, retryInMs)
    const fields = {
      peer: this.peer.id,
      address: this.peer.address,
      ...describeError(err),
      wasConnected,
      droppedMessages,
      attempt: this.attempt,
      retryInMs,
    }
    if (err instanceof HandshakeRefusedError) {
      this.ctx.logger.error('peer refused our handshake', { ...fields, reason: err.reason })
    } else {
      this.ctx.logger.warn('peer link failed', fields)
    }
    if (wasConnected || droppedMessages > 0) this.ctx.reportUnreachable(this.peer.id)
  }

  private teardown(): void {
    const socket = this.socket
    this.socket = undefined
    socket?.destroy()
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.flushImmediate !== undefined) clearImmediate(this.flushImmediate)
    this.flushImmediate = undefined
    this.waitingDrain = false
  }

  private scheduleFlush(): void {
    if (this.flushImmediate !== undefined) return
    this.flushImmediate = setImmediate(() => {
      this.flushImmediate = undefined
      this.flush()
    })
  }

  /** Writes what is queued, coalesced into one buffer of at most writeBytesMax (or one frame). */
  private flush(): void {
    const socket = this.socket
    if (this.state !== 'connected' || socket === undefined || this.waitingDrain) return
    if (this.queue.length === 0) return
    const limit = this.ctx.limits.writeBytesMax
    let n = 0
    let bytes = 0
    while (n < this.queue.length && (n === 0 || bytes + this.queue[n]!.length <= limit)) {
      bytes += this.queue[n]!.length
      n++
    }
    const frames = n === this.queue.length ? this.queue : this.queue.slice(0, n)
    this.queue = n === this.queue.length ? [] : this.queue.slice(n)
    this.queueBytes -= bytes
    const buf = n === 1 ? frames[0]! : Buffer.concat(frames, bytes)
    const stats = this.peer.stats
    stats.writes++
    stats.sentMessages += n
    stats.sentBytes += bytes
    if (!socket.write(buf)) {
      this.waitingDrain = true
    } else if (this.queue.length > 0) {
      this.scheduleFlush()
    }
  }
}
