/**
 * etcdserverpb.Watch: one bidirectional stream per client connection carries many watchers.
 *
 * Protocol, as etcd's v3rpc/watch.go speaks it (and clientv3, etcdctl and the etcd3 npm client
 * expect it):
 * - create_request: the watcher gets watch_id = the client's non-zero watch_id, or, for 0, the
 *   smallest unused id counting up from 0 on this stream. The answer is
 *   {created: true, watch_id, header.revision = the store's current revision}. A create that
 *   cannot be honoured (duplicate id, negative start revision, a backend refusal, a limit) is
 *   answered {created: true, canceled: true, watch_id: -1, cancel_reason}.
 *   An empty key means [0x00] (the smallest key); range_end "\0" means every key >= key.
 * - Events: {watch_id, events, header.revision = the batch's revision}, always after the
 *   watcher's created response. With fragment set, a response larger than the request limit
 *   (+ gRPC overhead) is split into several, all but the last with fragment: true.
 * - Compaction: {watch_id, compact_revision, canceled: true}; the watcher is gone.
 * - Backend cancel: {watch_id, canceled: true, cancel_reason}; the watcher is gone.
 * - cancel_request: {watch_id, canceled: true} for a known id; unknown ids are ignored.
 * - progress_request: one {watch_id: -1, header.revision = R} once every watcher of the stream
 *   has delivered everything up to R (deferred while a watcher is behind). With no watchers, R
 *   is the current revision.
 * - progress_notify watchers get {watch_id, header.revision} every progressNotifyIntervalMs in
 *   which they were sent no events, when they are caught up.
 *
 * Flow control: when grpc-js reports the stream's write buffer full (write() returns false),
 * every watcher of the stream is paused (the backend keeps their place, see WatchHandle) and the
 * stream stops reading requests; both resume on 'drain'. The server thus holds at most one
 * buffer's worth of responses per stream; catching up is the backend's business.
 */
import type {
  ServerDuplexStream,
  UntypedServiceImplementation,
  handleBidiStreamingCall,
} from '@grpc/grpc-js'
import type { Event } from '../mvcc/types'
import type { WatchHandle, WatchNotification } from '../server/port'
import { id64, int64, outInt, pbEvent, pbHeader, watchFilter } from './codec'
import {
  admitStream,
  malformedStatus,
  statusFor,
  type ApiContext,
  type ClosableStream,
  type Call,
} from './context'
import { etcdMessage, toGrpcStatus, type GrpcStatusError } from './errors'
import { RaftdeskError } from '../errors'
import type { DecodedRequest } from './proto'
import type { PbWatchCreateRequest, PbWatchRequest } from './wire'

/** The watch_id of responses that speak for the whole stream (progress) or for no watcher. */
export const INVALID_WATCH_ID = -1

/** etcd's mvcc error text for a client-chosen id that is taken; clients show it as is. */
const DUPLICATE_WATCH_ID = 'mvcc: duplicate watch ID provided on the WatchStream'

export interface WatchServiceOptions {
  /** Encodes a WatchResponse object, to measure responses for fragmentation. */
  encodeResponse: (response: object) => Buffer
}

interface StreamWatcher {
  readonly id: number
  handle: WatchHandle | undefined
  /** The created response has been written; events may follow. */
  announced: boolean
  /** Notifications that arrived before the created response (a backend contract breach). */
  early: WatchNotification[]
  readonly progressNotify: boolean
  readonly fragment: boolean
  /** Events were sent since the last progress tick (then no progress notification is due). */
  sentSinceTick: boolean
  done: boolean
}

export class WatchSession implements ClosableStream {
  private readonly watchers = new Map<number, StreamWatcher>()
  private nextWatchId = 0
  /** The write buffer is full: watchers are paused and requests are not read until 'drain'. */
  private blocked = false
  private progressRequested = false
  private progressTimer: NodeJS.Timeout | undefined
  private closed = false

  constructor(
    private readonly ctx: ApiContext,
    private readonly call: ServerDuplexStream<DecodedRequest, object>,
    private readonly options: WatchServiceOptions,
    /** Who opened the stream (its token when it opened, as etcd reads it from the stream). */
    private readonly admitted: Call,
  ) {}

  start(): void {
    this.ctx.streams.add(this)
    this.call.on('data', (req: DecodedRequest) => this.guard('request', () => this.onRequest(req)))
    // Like etcd, a client that half-closes keeps receiving until it cancels the call.
    this.call.on('cancelled', () => this.close())
    this.call.on('error', () => this.close())
    this.call.on('close', () => this.close())
    this.call.on('drain', () => this.guard('drain', () => this.onDrain()))
  }

  /** Ends the stream with `status` (server shutdown) and releases every watcher. */
  shutdown(status: GrpcStatusError): void {
    if (this.closed) return
    this.close()
    this.call.emit('error', status)
  }

  /**
   * Runs `fn`; an exception (a bug here or in the backend) ends this stream with its status
   * instead of escaping into grpc-js, a timer or the backend's watch hub.
   */
  private guard(what: string, fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.shutdown(statusFor(this.ctx, `Watch ${what}`, err))
    }
  }

  private onRequest(req: DecodedRequest): void {
    if (this.closed) return
    if (req.error !== undefined || req.message === undefined) {
      // etcd ignores request kinds it does not know; bytes that are not a WatchRequest at all
      // are a broken client, and the stream ends with INVALID_ARGUMENT.
      this.shutdown(malformedStatus('Watch', req))
      return
    }
    const pb = req.message as PbWatchRequest
    switch (pb.requestUnion) {
      case 'createRequest':
        return this.onCreate(pb.createRequest!)
      case 'cancelRequest':
        return this.onCancel(pb.cancelRequest!.watchId)
      case 'progressRequest':
        this.progressRequested = true
        return this.maybeSendProgress()
      default:
        this.ctx.logger.debug('Watch: request with nothing set, ignored')
    }
  }

  private currentHeader() {
    const info = this.ctx.backend.header()
    return pbHeader(info, info.revision)
  }

  private refuseCreate(reason: string): void {
    this.send({
      header: this.currentHeader(),
      watchId: INVALID_WATCH_ID,
      created: true,
      canceled: true,
      cancelReason: reason,
    })
  }

  private pickWatchId(requested: number): number | undefined {
    if (requested !== 0) return this.watchers.has(requested) ? undefined : requested
    while (this.watchers.has(this.nextWatchId)) this.nextWatchId++
    return this.nextWatchId++
  }

  private onCreate(pb: PbWatchCreateRequest): void {
    let startRevision: number
    let requestedId: number
    let filters
    try {
      startRevision = int64(pb.startRevision, 'WatchCreateRequest.start_revision')
      requestedId = id64(pb.watchId, 'WatchCreateRequest.watch_id')
      filters = pb.filters.map((f) => watchFilter(f, 'WatchCreateRequest.filters'))
    } catch (err) {
      return this.refuseCreate(toGrpcStatus(err).details)
    }
    if (startRevision < 0) return this.refuseCreate(etcdMessage('COMPACTED'))
    const limit = this.ctx.limits.watchersPerStreamMax
    if (this.watchers.size >= limit) {
      return this.refuseCreate(`raftdesk: too many watchers on one stream (limit ${limit})`)
    }
    const id = this.pickWatchId(requestedId)
    if (id === undefined) return this.refuseCreate(DUPLICATE_WATCH_ID)

    const watcher: StreamWatcher = {
      id,
      handle: undefined,
      announced: false,
      early: [],
      progressNotify: pb.progressNotify,
      fragment: pb.fragment,
      sentSinceTick: false,
      done: false,
    }
    this.watchers.set(id, watcher)
    try {
      watcher.handle = this.ctx.backend.watch(
        {
          key: pb.key.length === 0 ? new Uint8Array([0]) : pb.key,
          rangeEnd: pb.rangeEnd.length === 0 ? undefined : pb.rangeEnd,
          startRevision,
          prevKv: pb.prevKv,
          filters,
          progressNotify: pb.progressNotify,
          fragment: pb.fragment,
        },
        // The sink runs inside the backend's watch hub: it must never throw into it.
        (n) => this.guard('notification', () => this.onNotification(watcher, n)),
        this.admitted.who ? { who: this.admitted.who } : {},
      )
    } catch (err) {
      this.watchers.delete(id)
      watcher.done = true
      return this.refuseCreate(cancelReason(statusFor(this.ctx, 'Watch.create', err), err))
    }
    this.send({ header: this.currentHeader(), watchId: id, created: true })
    watcher.announced = true
    if (this.blocked) watcher.handle.pause()
    if (watcher.progressNotify) this.startProgressTimer()
    const early = watcher.early.splice(0)
    for (const n of early) this.onNotification(watcher, n)
  }

  private onCancel(rawId: string): void {
    let id: number
    try {
      id = int64(rawId, 'WatchCancelRequest.watch_id')
    } catch {
      return
    }
    const watcher = this.watchers.get(id)
    if (!watcher) return
    this.remove(watcher)
    this.send({ header: this.currentHeader(), watchId: id, canceled: true })
  }

  private remove(watcher: StreamWatcher): void {
    watcher.done = true
    this.watchers.delete(watcher.id)
    watcher.handle?.cancel()
  }

  private onNotification(watcher: StreamWatcher, n: WatchNotification): void {
    if (watcher.done || this.closed) return
    if (!watcher.announced) {
      this.ctx.logger.warn('Watch: backend notified a watcher before watch() returned', {
        watchId: watcher.id,
      })
      watcher.early.push(n)
      if (watcher.early.length > this.ctx.limits.watchEarlyNotificationsMax) {
        watcher.early.length = 0
        watcher.done = true
        watcher.handle?.cancel()
      }
      return
    }
    switch (n.type) {
      case 'events':
        if (n.events.length === 0) return
        this.sendEvents(watcher, n.revision, n.events)
        watcher.sentSinceTick = true
        this.maybeSendProgress()
        return
      case 'compacted':
        this.remove(watcher)
        this.send({
          header: this.currentHeader(),
          watchId: watcher.id,
          compactRevision: outInt(n.compactRevision, 'WatchResponse.compact_revision'),
          canceled: true,
        })
        return
      case 'canceled':
        this.remove(watcher)
        this.send({
          header: this.currentHeader(),
          watchId: watcher.id,
          canceled: true,
          cancelReason: n.reason,
        })
        this.maybeSendProgress()
        return
    }
  }

  private sendEvents(watcher: StreamWatcher, revision: number, events: Event[]): void {
    const header = pbHeader(this.ctx.backend.header(), revision)
    const pbEvents = events.map(pbEvent)
    if (!watcher.fragment) {
      this.send({ header, watchId: watcher.id, events: pbEvents })
      return
    }
    for (const part of this.fragments(header, watcher.id, pbEvents)) this.send(part)
  }

  /** Splits events so that each response stays under the limit (one event at least each). */
  private fragments(header: object, watchId: number, events: object[]): object[] {
    const limitBytes = this.ctx.limits.requestBytesMax + this.ctx.limits.grpcOverheadBytes
    const encode = this.options.encodeResponse
    const whole = { header, watchId, events }
    if (events.length < 2 || encode(whole).length < limitBytes) return [whole]
    const baseBytes = encode({ header, watchId, fragment: true }).length
    const parts: object[] = []
    let current: object[] = []
    let currentBytes = baseBytes
    for (const event of events) {
      // A repeated field element costs its tag, its length prefix and its body.
      const eventBytes = encode({ events: [event] }).length
      if (current.length > 0 && currentBytes + eventBytes >= limitBytes) {
        parts.push({ header, watchId, events: current, fragment: true })
        current = []
        currentBytes = baseBytes
      }
      current.push(event)
      currentBytes += eventBytes
    }
    parts.push({ header, watchId, events: current, fragment: false })
    return parts
  }

  private maybeSendProgress(): void {
    if (!this.progressRequested || this.blocked || this.closed) return
    let revision = Number.POSITIVE_INFINITY
    for (const watcher of this.watchers.values()) {
      const r = watcher.handle?.progressRevision()
      if (r === undefined) return // a watcher is behind: answer once it has caught up
      revision = Math.min(revision, r)
    }
    if (revision === Number.POSITIVE_INFINITY) revision = this.ctx.backend.header().revision
    this.progressRequested = false
    this.send({
      header: pbHeader(this.ctx.backend.header(), revision),
      watchId: INVALID_WATCH_ID,
    })
  }

  private startProgressTimer(): void {
    if (this.progressTimer || this.closed) return
    this.progressTimer = setInterval(
      () => this.guard('progress tick', () => this.onProgressTick()),
      this.ctx.limits.progressNotifyIntervalMs,
    )
    this.progressTimer.unref()
  }

  private onProgressTick(): void {
    if (this.closed) return
    for (const watcher of this.watchers.values()) {
      if (!watcher.progressNotify) continue
      const due = !watcher.sentSinceTick
      watcher.sentSinceTick = false
      if (!due || this.blocked) continue
      const revision = watcher.handle?.progressRevision()
      if (revision === undefined) continue
      this.send({ header: pbHeader(this.ctx.backend.header(), revision), watchId: watcher.id })
    }
  }

  private send(response: object): void {
    if (this.closed) return
    if (this.call.write(response) || this.blocked) return
    this.blocked = true
    this.call.pause()
    for (const watcher of this.watchers.values()) watcher.handle?.pause()
  }

  private onDrain(): void {
    if (!this.blocked || this.closed) return
    this.blocked = false
    for (const watcher of this.watchers.values()) watcher.handle?.resume()
    this.call.resume()
    this.maybeSendProgress()
  }

  private close(): void {
    if (this.closed) return
    this.closed = true
    this.ctx.streams.delete(this)
    if (this.progressTimer) clearInterval(this.progressTimer)
    for (const watcher of this.watchers.values()) {
      watcher.done = true
      watcher.handle?.cancel()
    }
    this.watchers.clear()
  }
}

/** gRPC's names of the status codes, as Go prints them in an error's text. */
const GO_CODE_NAMES: Record<number, string> = {
  3: 'InvalidArgument',
  7: 'PermissionDenied',
  16: 'Unauthenticated',
}

/**
 * The cancel reason of a watch the backend refused. etcd puts the whole gRPC error text there for
 * auth refusals ("rpc error: code = PermissionDenied desc = etcdserver: permission denied"), which
 * clients and etcdctl print as is; other refusals carry the message alone.
 */
function cancelReason(status: GrpcStatusError, err: unknown): string {
  const auth =
    err instanceof RaftdeskError &&
    ['PERMISSION_DENIED', 'INVALID_AUTH_TOKEN', 'AUTH_OLD_REVISION', 'USER_EMPTY'].includes(
      err.code,
    )
  const name = GO_CODE_NAMES[status.code]
  return auth && name ? `rpc error: code = ${name} desc = ${status.details}` : status.details
}

export function watchService(
  ctx: ApiContext,
  options: WatchServiceOptions,
): UntypedServiceImplementation {
  const Watch: handleBidiStreamingCall<DecodedRequest, object> = (call) => {
    void admitStream(ctx, 'Watch', call).then((admitted) => {
      if (admitted) new WatchSession(ctx, call, options, admitted).start()
    })
  }
  return { Watch }
}
