/**
 * Snapshot streaming over its own connection (protocol.ts gives the frames).
 *
 * Sender (SnapshotSend): dial, HELLO with purpose 'snapshot', wait for ACCEPT, send the MsgSnap
 * as SNAP_HEADER, then pull the image from its async iterable one piece at a time, cut it into
 * SNAP_CHUNK frames of at most snapshotChunkBytes, and write each only once the receiver has
 * granted credit for it (and the socket has drained): the sender never holds more than one
 * chunk, and never runs more than snapshotWindowBytes ahead of the receiver's consumer. Then
 * SNAP_END with the totals, and wait for SNAP_RESULT.
 *
 * Receiver (SnapshotReceiver, fed frames by the inbound connection): on SNAP_HEADER it calls the
 * snapshot handler with the message and an ImageStream, and grants the first window; each chunk
 * the consumer takes is granted again. The transfer succeeds when the handler resolves after
 * reading the image to its end; anything else answers SNAP_RESULT failed with the reason.
 */
import type { Socket } from 'node:net'
import { LimitError } from '../errors'
import type { Message } from '../raft/types'
import { decodeMessage, encodedMessageBytes, writeMessage } from './codec'
import {
  describeError,
  HandshakeTimeoutError,
  ProtocolError,
  SnapshotTransferError,
} from './errors'
import {
  decodeCredit,
  decodeRefuse,
  decodeSnapChunk,
  decodeSnapEnd,
  decodeSnapResult,
  encodeCredit,
  encodeHello,
  encodeSnapEnd,
  encodeSnapResult,
  FRAME_HEADER_BYTES,
  FrameKind,
  FrameReader,
  HANDSHAKE_FRAME_BYTES_MAX,
  snapChunkHeader,
  type Frame,
  type SnapResult,
} from './protocol'
import type { PeerRecord, TcpContext, TcpLimits } from './tcp-context'
import type { Logger, SnapshotHandler } from './types'

export function encodeMessageFrame(kind: FrameKind, msg: Message): Buffer {
  const size = encodedMessageBytes(msg)
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + size)
  frame.writeUInt32BE(size + 1, 0)
  frame[4] = kind
  writeMessage(msg, frame, FRAME_HEADER_BYTES, size)
  return frame
}

// ---------------------------------------------------------------------------------------------
// Sender

export class SnapshotSend {
  private socket: Socket | undefined
  private accepted = false
  private credit = 0
  private drained = true
  private result: SnapResult | undefined
  private error: Error | undefined
  private wake: (() => void) | undefined
  /** Image bytes sent so far. */
  sentBytes = 0

  constructor(
    private readonly ctx: TcpContext,
    private readonly peer: PeerRecord,
    private readonly msg: Message,
  ) {}

  /** Ends the transfer with `err` (transport stopping, peer removed). */
  abort(err: Error): void {
    this.error ??= err
    this.socket?.destroy()
    this.notify()
  }

  async run(image: () => AsyncIterable<Uint8Array>): Promise<void> {
    const limits = this.ctx.limits
    const header = encodeMessageFrame(FrameKind.SnapHeader, this.msg)
    if (header.length > limits.frameBytesMax) {
      throw new SnapshotTransferError(
        `MsgSnap of ${header.length} bytes exceeds the frame limit ${limits.frameBytesMax} ` +
          `(the image belongs in the stream, not in snapshot.data)`,
      )
    }
    const socket = this.open()
    try {
      await this.until(() => this.accepted)
      socket.setTimeout(limits.snapshotIdleTimeoutMs)
      await this.write(header)
      let chunks = 0
      for await (const piece of image()) {
        if (!(piece instanceof Uint8Array)) {
          throw new SnapshotTransferError(
            'the snapshot image yielded something other than a Uint8Array',
          )
        }
        for (let off = 0; off < piece.byteLength; off += limits.snapshotChunkBytes) {
          const chunk = piece.subarray(off, off + limits.snapshotChunkBytes)
          if (this.sentBytes + chunk.byteLength > limits.snapshotBytesMax) {
            throw new LimitError(
              'TRANSPORT_SNAPSHOT_TOO_LARGE',
              `snapshot image exceeds ${limits.snapshotBytesMax} bytes`,
            )
          }
          await this.until(() => this.credit >= chunk.byteLength)
          this.credit -= chunk.byteLength
          socket.cork()
          socket.write(snapChunkHeader(chunk))
          const ok = socket.write(chunk)
          socket.uncork()
          if (!ok) {
            this.drained = false
            await this.until(() => this.drained)
          }
          this.sentBytes += chunk.byteLength
          chunks++
        }
      }
      await this.write(encodeSnapEnd({ totalBytes: this.sentBytes, chunks }))
      await this.until(() => this.result !== undefined)
    } finally {
      // The receiver has answered (or the transfer failed): nothing more to say either way.
      this.socket = undefined
      socket.destroy()
    }
  }

  private open(): Socket {
    const socket = this.ctx.dial(this.peer.address)
    this.socket = socket
    const reader = new FrameReader(HANDSHAKE_FRAME_BYTES_MAX)
    const handshakeMs = this.ctx.limits.handshakeTimeoutMs
    socket.setNoDelay(true)
    socket.setTimeout(handshakeMs)
    socket.on('timeout', () => {
      const err = this.accepted
        ? new SnapshotTransferError(
            `snapshot stream to member ${this.peer.id} idle for ${this.ctx.limits.snapshotIdleTimeoutMs} ms`,
          )
        : new HandshakeTimeoutError(handshakeMs, `snapshot stream to member ${this.peer.id}`)
      this.abort(err)
    })
    socket.on('data', (data: Buffer) => {
      try {
        for (const f of reader.push(data)) this.onFrame(f)
      } catch (err) {
        this.abort(err as Error)
      }
    })
    socket.on('drain', () => {
      this.drained = true
      this.notify()
    })
    socket.on('error', (err) => {
      this.error ??= err
      this.notify()
    })
    socket.on('close', () => {
      if (this.result === undefined) {
        this.error ??= new SnapshotTransferError(
          `snapshot stream to member ${this.peer.id} closed after ${this.sentBytes} image bytes`,
        )
      }
      this.notify()
    })
    socket.write(
      encodeHello({
        purpose: 'snapshot',
        from: this.ctx.id,
        to: this.peer.id,
        clusterId: this.ctx.clusterId,
        token: this.ctx.token,
      }),
    )
    return socket
  }

  private onFrame(f: Frame): void {
    if (!this.accepted) {
      if (f.kind === FrameKind.Accept) this.accepted = true
      else if (f.kind === FrameKind.Refuse) this.error ??= decodeRefuse(f.payload)
      else throw new ProtocolError(`unexpected frame kind ${f.kind} before the snapshot handshake`)
    } else if (f.kind === FrameKind.Credit) {
      this.credit += decodeCredit(f.payload)
    } else if (f.kind === FrameKind.SnapResult) {
      this.result = decodeSnapResult(f.payload)
    } else {
      throw new ProtocolError(`unexpected frame kind ${f.kind} on a snapshot stream`)
    }
    this.notify()
  }

  private notify(): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  /** Waits until cond() holds; throws the receiver's failure or the stream's error first. */
  private async until(cond: () => boolean): Promise<void> {
    for (;;) {
      if (this.result !== undefined && !this.result.ok) {
        throw new SnapshotTransferError(
          `member ${this.peer.id} failed to save the snapshot: ${this.result.detail}`,
        )
      }
      if (this.error !== undefined) throw this.error
      if (cond()) return
      await new Promise<void>((resolve) => (this.wake = resolve))
    }
  }

  private async write(frame: Buffer): Promise<void> {
    if (!this.socket!.write(frame)) {
      this.drained = false
      await this.until(() => this.drained)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Receiver

/**
 * The image as the snapshot handler sees it: an async iterable of chunks, readable once. It
 * holds at most the receive window; taking a chunk grants the sender credit for another.
 */
export class ImageStream implements AsyncIterable<Uint8Array> {
  private readonly chunks: Uint8Array[] = []
  private ended = false
  private error: Error | undefined
  private waiter:
    { resolve: (r: IteratorResult<Uint8Array>) => void; reject: (e: Error) => void } | undefined
  private iterated = false
  /** True once the consumer has been told the image ended (it read everything). */
  consumedToEnd = false
  consumedBytes = 0
  bufferedBytes = 0

  constructor(private readonly onConsumed: (bytes: number) => void) {}

  push(chunk: Uint8Array): void {
    if (this.waiter !== undefined) {
      const w = this.waiter
      this.waiter = undefined
      this.take(chunk)
      w.resolve({ value: chunk, done: false })
    } else {
      this.chunks.push(chunk)
      this.bufferedBytes += chunk.byteLength
    }
  }

  end(): void {
    this.ended = true
    if (this.waiter !== undefined && this.chunks.length === 0) {
      const w = this.waiter
      this.waiter = undefined
      this.consumedToEnd = true
      w.resolve({ value: undefined, done: true })
    }
  }

  fail(err: Error): void {
    if (this.consumedToEnd || this.error !== undefined) return
    this.error = err
    if (this.waiter !== undefined) {
      const w = this.waiter
      this.waiter = undefined
      w.reject(err)
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.iterated) throw new SnapshotTransferError('a snapshot image can be read only once')
    this.iterated = true
    return {
      next: () => this.next(),
      return: async () => {
        this.chunks.length = 0
        this.bufferedBytes = 0
        return { value: undefined, done: true }
      },
    }
  }

  private take(chunk: Uint8Array): void {
    this.consumedBytes += chunk.byteLength
    this.onConsumed(chunk.byteLength)
  }

  private next(): Promise<IteratorResult<Uint8Array>> {
    const chunk = this.chunks.shift()
    if (chunk !== undefined) {
      this.bufferedBytes -= chunk.byteLength
      this.take(chunk)
      return Promise.resolve({ value: chunk, done: false })
    }
    if (this.error !== undefined) return Promise.reject(this.error)
    if (this.ended) {
      this.consumedToEnd = true
      return Promise.resolve({ value: undefined, done: true })
    }
    if (this.waiter !== undefined) {
      return Promise.reject(new SnapshotTransferError('concurrent next() on a snapshot image'))
    }
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }))
  }
}

export interface SnapshotReceiverContext {
  readonly id: number
  readonly limits: TcpLimits
  readonly logger: Logger
  readonly handler: SnapshotHandler | undefined
  /** Whether an inbound link fault drops or loses this snapshot. */
  faulted(): boolean
}

type ReceiverState = 'header' | 'streaming' | 'ended' | 'done'

export class SnapshotReceiver {
  private state: ReceiverState = 'header'
  private stream: ImageStream | undefined
  private grantedBytes = 0
  private receivedBytes = 0
  private chunks = 0

  constructor(
    private readonly ctx: SnapshotReceiverContext,
    private readonly socket: Socket,
    private readonly peer: PeerRecord,
  ) {
    socket.setTimeout(ctx.limits.snapshotIdleTimeoutMs)
    socket.on('timeout', () => {
      this.fail(
        new SnapshotTransferError(
          `snapshot stream from member ${peer.id} idle for ${ctx.limits.snapshotIdleTimeoutMs} ms`,
        ),
      )
      socket.destroy()
    })
  }

  /** Handles one frame; throws on a protocol violation (the caller then closes the socket). */
  onFrame(f: Frame): void {
    if (this.state === 'header' && f.kind === FrameKind.SnapHeader) {
      this.onHeader(decodeMessage(f.payload))
    } else if (this.state === 'streaming' && f.kind === FrameKind.SnapChunk) {
      const data = decodeSnapChunk(f.payload)
      this.receivedBytes += data.byteLength
      this.chunks++
      if (this.receivedBytes > this.grantedBytes) {
        throw new ProtocolError(
          `snapshot sender overran its credit: ${this.receivedBytes} > ${this.grantedBytes} bytes`,
        )
      }
      if (this.receivedBytes > this.ctx.limits.snapshotBytesMax) {
        throw new LimitError(
          'TRANSPORT_SNAPSHOT_TOO_LARGE',
          `snapshot image exceeds ${this.ctx.limits.snapshotBytesMax} bytes`,
        )
      }
      this.stream!.push(data)
    } else if (this.state === 'streaming' && f.kind === FrameKind.SnapEnd) {
      const end = decodeSnapEnd(f.payload)
      if (end.totalBytes !== this.receivedBytes || end.chunks !== this.chunks) {
        throw new ProtocolError(
          `snapshot end says ${end.totalBytes} bytes in ${end.chunks} chunks, ` +
            `received ${this.receivedBytes} bytes in ${this.chunks}`,
        )
      }
      this.state = 'ended'
      this.stream!.end()
    } else if (this.state !== 'done') {
      throw new ProtocolError(
        `unexpected frame kind ${f.kind} on a snapshot stream (${this.state})`,
      )
    }
  }

  /** The connection broke or was closed for bad input: the consumer sees this error. */
  fail(err: unknown): void {
    if (this.state === 'done') return
    const { message } = describeError(err)
    this.stream?.fail(
      err instanceof SnapshotTransferError
        ? err
        : new SnapshotTransferError(
            `snapshot stream from member ${this.peer.id} broke after ${this.receivedBytes} bytes: ${message}`,
          ),
    )
    if (this.stream === undefined) this.state = 'done'
  }

  private onHeader(msg: Message): void {
    if (msg.type !== 'MsgSnap' || msg.from !== this.peer.id || msg.to !== this.ctx.id) {
      throw new ProtocolError(
        `snapshot stream header is ${msg.type} ${msg.from}->${msg.to}, expected MsgSnap ` +
          `${this.peer.id}->${this.ctx.id}`,
      )
    }
    const handler = this.ctx.handler
    if (handler === undefined) {
      this.finish({ ok: false, detail: `member ${this.ctx.id} has no snapshot handler` })
      return
    }
    if (this.ctx.faulted()) {
      this.finish({ ok: false, detail: 'dropped by an injected link fault' })
      return
    }
    this.state = 'streaming'
    const stream = new ImageStream((bytes) => this.grant(bytes))
    this.stream = stream
    this.grant(this.ctx.limits.snapshotWindowBytes)
    this.ctx.logger.info('receiving snapshot', {
      peer: this.peer.id,
      index: msg.snapshot?.metadata.index,
      term: msg.snapshot?.metadata.term,
    })
    Promise.resolve()
      .then(() => handler(msg, stream))
      .then(
        () =>
          this.finish(
            stream.consumedToEnd
              ? { ok: true, detail: `saved ${this.receivedBytes} bytes` }
              : {
                  ok: false,
                  detail: `the handler returned after reading ${stream.consumedBytes} bytes, before the image ended`,
                },
          ),
        (err: unknown) => this.finish({ ok: false, detail: describeError(err).message }),
      )
  }

  private grant(bytes: number): void {
    if (this.state === 'done' || this.socket.destroyed) return
    this.grantedBytes += bytes
    this.socket.write(encodeCredit(bytes))
  }

  private finish(result: SnapResult): void {
    if (this.state === 'done') return
    this.state = 'done'
    if (result.ok) this.peer.stats.snapshotsReceived++
    const fields = { peer: this.peer.id, bytes: this.receivedBytes, detail: result.detail }
    if (result.ok) this.ctx.logger.info('snapshot received', fields)
    else
      this.ctx.logger.warn('snapshot receive failed', {
        code: 'TRANSPORT_SNAPSHOT_FAILED',
        ...fields,
      })
    if (!this.socket.destroyed) {
      this.socket.end(encodeSnapResult(result))
      // The sender closes once it has the result; one that does not is cut off shortly.
      this.socket.setTimeout(1000)
    }
  }
}
