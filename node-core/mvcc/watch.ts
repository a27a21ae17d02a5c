/**
 * The watch hub: watchers on a key or a range, from a start revision, fed with the store's
 * events in revision order.
 *
 * Contract:
 * - A watcher is an async iterator of WatchResponse. Responses come in revision order and never
 *   split a revision: each holds all matching events of one or more whole revisions.
 * - startRevision 0 (or absent) watches from the next revision. A start revision at or below the
 *   current revision first replays history from disk ("unsynced", catching up), then switches to
 *   live events ("synced") without a gap or a duplicate. A start revision above the current one
 *   waits for it. A start revision below the compacted revision ends the watcher with a
 *   CompactedError carrying the compacted revision (etcd: start < compacted is refused).
 * - Live events are delivered when the batch that produced them is durable (the store calls
 *   publish() after its disk write).
 * - Each watcher buffers responses its consumer has not taken yet, up to bufferEventsMax events
 *   and bufferBytesMax bytes. A catching-up watcher simply pauses reading history while its
 *   buffer is full. A live watcher whose buffer would overflow is, by default
 *   (slowWatchers: 'cancel'), ended with a WatchFellBehindError that says from which revision to
 *   re-watch: events are never dropped silently. Responses already buffered are delivered before
 *   the error is thrown. With slowWatchers: 'resync' it goes back to catching up from history
 *   instead (etcd's unsynced watchers): it keeps its place, and fails only if compaction removes
 *   history it has not read yet (CompactedError). (A batch that alone exceeds the limits is
 *   still accepted into an empty buffer, otherwise a big transaction could never be watched.)
 * - When the hub ends a watcher (compacted, fell behind, store closed) the iterator throws that
 *   typed error after the buffered responses; when the consumer cancels, it simply finishes.
 * - requestProgress(): a synced watcher gets a response with no events and the current revision
 *   (etcd's progress notification: "you have seen everything up to here").
 * - After the store is replaced by a snapshot image, every watcher catches up again from the
 *   new history, from the first revision it has not seen.
 */
import {
  CompactedError,
  StoreClosedError,
  WatchersLimitError,
  WatchFellBehindError,
} from './errors'
import { inRange, keyRange, type KeyRange, type KeyString } from './keys'
import type { Event, KeyValue } from './types'

export interface WatchRequest {
  key: Uint8Array
  rangeEnd?: Uint8Array
  /** 0 or absent: from the next revision. */
  startRevision?: number
  prevKv?: boolean
  /** etcd's filters: leave out put events / delete events. */
  noPut?: boolean
  noDelete?: boolean
}

export interface WatchResponse {
  /** Events in revision order; empty for a progress notification. */
  events: Event[]
  /** The store's revision when the response was made (etcd's header revision). */
  revision: number
}

export interface WatchLimits {
  /** Watchers open at once on one store. */
  watchersMax: number
  /** Events a watcher may hold for its consumer. */
  bufferEventsMax: number
  /** Bytes (keys and values, plus a fixed allowance per event) a watcher may hold. */
  bufferBytesMax: number
}

export const DEFAULT_WATCH_LIMITS: WatchLimits = {
  watchersMax: 10_000,
  bufferEventsMax: 10_000,
  bufferBytesMax: 16 * 1024 * 1024,
}

export interface WatchOptions extends WatchLimits {
  /** What happens to a live watcher whose buffer would overflow (see the module comment). */
  slowWatchers: 'cancel' | 'resync'
}

/** What the hub needs from the store. */
export interface HistorySource {
  /** The published (durable, readable) revision. */
  readonly revision: number
  readonly compactedRevision: number
  /**
   * Events of whole revisions in [fromRev, toRev] for keys in `range`, in revision order: at
   * least one revision, stopping at a revision boundary once about `eventsMax` events are
   * collected. `throughRev` is the last revision fully read. Events carry prevKv when asked.
   * Rejects with CompactedError if fromRev has been compacted.
   */
  readHistory(
    range: KeyRange,
    fromRev: number,
    toRev: number,
    eventsMax: number,
    prevKv: boolean,
  ): Promise<{ events: Event[]; throughRev: number }>
  /** The key-value that `key` had just before revision `modRevision`, if still readable. */
  prevKvOf(key: KeyString, modRevision: number): KeyValue | undefined
}

/** A change as the store publishes it: the event and its key as a byte string. */
export interface Change {
  key: KeyString
  event: Event
}

const EVENT_OVERHEAD_BYTES = 64

function eventBytes(ev: Event): number {
  let n = EVENT_OVERHEAD_BYTES + ev.kv.key.length + ev.kv.value.length
  if (ev.prevKv) n += ev.prevKv.key.length + ev.prevKv.value.length
  return n
}

type WatcherState = 'unsynced' | 'synced' | 'ended'

interface Queued {
  resp: WatchResponse
  events: number
  bytes: number
}

export class Watcher implements AsyncIterableIterator<WatchResponse> {
  readonly id: number
  readonly range: KeyRange
  readonly prevKv: boolean
  readonly noPut: boolean
  readonly noDelete: boolean
  /** The first revision this watcher has not been given (or considered) yet. */
  nextRev: number
  state: WatcherState = 'unsynced'
  private readonly hub: WatchHub
  private readonly queue: Queued[] = []
  private queuedEvents = 0
  private queuedBytes = 0
  /** Why the hub ended the watcher (thrown once the queue is drained); null: cancelled. */
  private endReason: Error | null = null
  private endThrown = false
  private waiting: {
    resolve: (r: IteratorResult<WatchResponse>) => void
    reject: (e: Error) => void
  } | null = null
  private drainWaiters: Array<() => void> = []

  constructor(hub: WatchHub, id: number, req: WatchRequest, nextRev: number) {
    this.hub = hub
    this.id = id
    this.range = keyRange(req.key, req.rangeEnd)
    this.prevKv = req.prevKv === true
    this.noPut = req.noPut === true
    this.noDelete = req.noDelete === true
    this.nextRev = nextRev
  }

  /** The error the hub ended this watcher with, if any. */
  get reason(): Error | null {
    return this.endReason
  }

  get buffered(): { events: number; bytes: number; responses: number } {
    return { events: this.queuedEvents, bytes: this.queuedBytes, responses: this.queue.length }
  }

  get empty(): boolean {
    return this.queue.length === 0
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  /**
   * The next response; waits for one. After the hub ended the watcher: the buffered responses,
   * then one rejection with the reason, then done. After cancel(): done.
   */
  next(): Promise<IteratorResult<WatchResponse>> {
    if (this.waiting !== null) {
      return Promise.reject(
        new Error(`watcher ${this.id}: next() called while a next() is pending`),
      )
    }
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject }
      this.flush()
    })
  }

  /** Consumer's cancel (also what `break` out of a for-await does): ends quietly. */
  return(): Promise<IteratorResult<WatchResponse>> {
    this.cancel()
    return Promise.resolve({ done: true, value: undefined })
  }

  /** Ends the watcher from the consumer's side and drops what it had buffered. */
  cancel(): void {
    this.queue.length = 0
    this.queuedEvents = 0
    this.queuedBytes = 0
    this.end(null)
    this.endThrown = true
    this.flush()
  }

  /**
   * R such that every matching event of a revision <= R has been taken by the consumer, or
   * undefined while the watcher is behind (catching up, or responses still buffered).
   */
  progressRevision(): number | undefined {
    if (this.state !== 'synced' || this.queue.length > 0) return undefined
    return this.hub.source.revision
  }

  /** Asks for a progress notification; returns false if none was queued (not synced, or full). */
  requestProgress(): boolean {
    if (this.state !== 'synced' || this.full(0, EVENT_OVERHEAD_BYTES)) return false
    this.push({ events: [], revision: this.hub.source.revision }, 0, EVENT_OVERHEAD_BYTES)
    return true
  }

  /** Ends the watcher (reason null: cancelled by its consumer). Idempotent. */
  end(reason: Error | null): void {
    if (this.state === 'ended') return
    this.state = 'ended'
    this.endReason = reason
    this.hub.forget(this)
    this.flush()
    for (const wake of this.drainWaiters.splice(0)) wake()
  }

  /** True if adding `events` events of `bytes` bytes would break a buffer limit. */
  full(events: number, bytes: number): boolean {
    const { bufferEventsMax, bufferBytesMax } = this.hub.limits
    return this.queuedEvents + events > bufferEventsMax || this.queuedBytes + bytes > bufferBytesMax
  }

  /** Resolves once the buffer is at most half full (or the watcher ended). */
  drained(): Promise<void> {
    if (this.state === 'ended' || !this.overHalf()) return Promise.resolve()
    return new Promise((resolve) => this.drainWaiters.push(resolve))
  }

  push(resp: WatchResponse, events: number, bytes: number): void {
    if (this.state === 'ended') return
    this.queue.push({ resp, events, bytes })
    this.queuedEvents += events
    this.queuedBytes += bytes
    this.flush()
  }

  private overHalf(): boolean {
    const { bufferEventsMax, bufferBytesMax } = this.hub.limits
    return this.queuedEvents * 2 > bufferEventsMax || this.queuedBytes * 2 > bufferBytesMax
  }

  /** Settles a pending next() with a queued response, or with the end. */
  private flush(): void {
    const waiting = this.waiting
    if (waiting === null) return
    const item = this.queue.shift()
    if (item !== undefined) {
      this.queuedEvents -= item.events
      this.queuedBytes -= item.bytes
      if (!this.overHalf()) for (const wake of this.drainWaiters.splice(0)) wake()
      this.waiting = null
      waiting.resolve({ done: false, value: item.resp })
      return
    }
    if (this.state !== 'ended') return
    this.waiting = null
    if (this.endReason !== null && !this.endThrown) {
      this.endThrown = true
      waiting.reject(this.endReason)
      return
    }
    waiting.resolve({ done: true, value: undefined })
  }
}

export class WatchHub {
  readonly limits: WatchOptions
  readonly source: HistorySource
  private nextId = 1
  private closed = false
  /** Synced watchers on a single key, by key. */
  private readonly byKey = new Map<KeyString, Set<Watcher>>()
  /** Synced watchers on a range. */
  private readonly ranged = new Set<Watcher>()
  /** Every open watcher (synced or catching up). */
  private readonly all = new Set<Watcher>()
  /** Catch-up reads per step; at most half a buffer so that a step always fits. */
  private readonly catchUpEventsMax: number

  constructor(source: HistorySource, options: Partial<WatchOptions> = {}) {
    this.source = source
    this.limits = { ...DEFAULT_WATCH_LIMITS, slowWatchers: 'cancel', ...options }
    this.catchUpEventsMax = Math.max(1, Math.min(1000, Math.floor(this.limits.bufferEventsMax / 2)))
  }

  get size(): number {
    return this.all.size
  }

  watch(req: WatchRequest): Watcher {
    if (this.closed) throw new StoreClosedError()
    if (this.all.size >= this.limits.watchersMax)
      throw new WatchersLimitError(this.limits.watchersMax)
    const start = req.startRevision ?? 0
    if (!Number.isSafeInteger(start) || start < 0) {
      throw new RangeError(`watch: start revision ${start} must be a non-negative integer`)
    }
    const current = this.source.revision
    const w = new Watcher(this, this.nextId++, req, start === 0 ? current + 1 : start)
    this.all.add(w)
    if (w.nextRev > current) this.addSynced(w)
    else this.startCatchUp(w)
    return w
  }

  /**
   * Hands the changes of one durable batch to the synced watchers. `changes` are in revision
   * order; `revision` is the store's revision after the batch.
   */
  publish(changes: Change[], revision: number): void {
    if (changes.length > 0 && (this.byKey.size > 0 || this.ranged.size > 0)) {
      const matched = new Map<Watcher, Event[]>()
      const prevKvs = new Map<Event, KeyValue | null>()
      const add = (w: Watcher, change: Change) => {
        const ev = change.event
        if (ev.kv.modRevision < w.nextRev) return
        if ((ev.type === 'put' && w.noPut) || (ev.type === 'delete' && w.noDelete)) return
        let list = matched.get(w)
        if (list === undefined) matched.set(w, (list = []))
        list.push(w.prevKv ? this.withPrevKv(change, prevKvs) : ev)
      }
      for (const change of changes) {
        const single = this.byKey.get(change.key)
        if (single !== undefined) for (const w of single) add(w, change)
        for (const w of this.ranged) if (inRange(w.range, change.key)) add(w, change)
      }
      for (const [w, events] of matched) this.deliver(w, events, revision)
    }
    for (const set of this.byKey.values())
      for (const w of set) w.nextRev = Math.max(w.nextRev, revision + 1)
    for (const w of this.ranged) w.nextRev = Math.max(w.nextRev, revision + 1)
  }

  /** A progress notification to every synced watcher with nothing queued (etcd's ticker). */
  notifyProgress(): void {
    for (const w of this.all) if (w.state === 'synced' && w.empty) w.requestProgress()
  }

  /**
   * The store's data was replaced (restore from a snapshot image): every watcher catches up
   * again from the first revision it has not seen, reading the new history.
   */
  resync(): void {
    for (const w of [...this.all]) {
      if (w.state !== 'synced') continue
      this.removeSynced(w)
      if (w.nextRev > this.source.revision) this.addSynced(w)
      else this.startCatchUp(w)
    }
  }

  /** Ends every watcher with StoreClosedError and refuses new ones. */
  close(): void {
    this.closed = true
    for (const w of [...this.all]) w.end(new StoreClosedError())
  }

  /** Called by a watcher when it ends. */
  forget(w: Watcher): void {
    this.all.delete(w)
    this.removeSynced(w)
  }

  private deliver(w: Watcher, events: Event[], revision: number): void {
    const bytes = events.reduce((n, ev) => n + eventBytes(ev), EVENT_OVERHEAD_BYTES)
    if (!w.empty && w.full(events.length, bytes) && this.limits.slowWatchers === 'resync') {
      // Keep its place: it reads these events (and what follows) from history once drained.
      this.removeSynced(w)
      w.nextRev = events[0]!.kv.modRevision
      this.startCatchUp(w)
      return
    }
    if (!w.empty && w.full(events.length, bytes)) {
      const b = w.buffered
      w.end(
        new WatchFellBehindError(
          events[0]!.kv.modRevision,
          `${b.events} events / ${b.bytes} bytes buffered, limits ${this.limits.bufferEventsMax} / ${this.limits.bufferBytesMax}`,
        ),
      )
      return
    }
    w.push({ events, revision }, events.length, bytes)
  }

  private withPrevKv(change: Change, cache: Map<Event, KeyValue | null>): Event {
    const ev = change.event
    let prev = cache.get(ev)
    if (prev === undefined) {
      prev = this.source.prevKvOf(change.key, ev.kv.modRevision) ?? null
      cache.set(ev, prev)
    }
    return prev === null ? ev : { ...ev, prevKv: prev }
  }

  private addSynced(w: Watcher): void {
    w.state = 'synced'
    if (w.range.single) {
      let set = this.byKey.get(w.range.start)
      if (set === undefined) this.byKey.set(w.range.start, (set = new Set()))
      set.add(w)
    } else {
      this.ranged.add(w)
    }
  }

  private removeSynced(w: Watcher): void {
    if (w.range.single) {
      const set = this.byKey.get(w.range.start)
      if (set !== undefined && set.delete(w) && set.size === 0) this.byKey.delete(w.range.start)
    } else {
      this.ranged.delete(w)
    }
  }

  private startCatchUp(w: Watcher): void {
    w.state = 'unsynced'
    this.catchUp(w).catch((err: unknown) => {
      w.end(err instanceof Error ? err : new Error(String(err)))
    })
  }

  /**
   * Replays history to an unsynced watcher, a chunk at a time and only while its buffer has
   * room, until it has seen the published revision; then makes it synced in the same
   * synchronous step, so that the next publish() reaches it and nothing falls in between.
   */
  private async catchUp(w: Watcher): Promise<void> {
    for (;;) {
      await w.drained()
      if (w.state !== 'unsynced') return
      const current = this.source.revision
      const compacted = this.source.compactedRevision
      if (w.nextRev < compacted) {
        w.end(new CompactedError(compacted))
        return
      }
      if (w.nextRev > current) {
        this.addSynced(w)
        return
      }
      const { events, throughRev } = await this.source.readHistory(
        w.range,
        w.nextRev,
        current,
        this.catchUpEventsMax,
        w.prevKv,
      )
      // The watcher may have ended, or been restarted by a resync, while we read.
      if (w.state !== 'unsynced') return
      const wanted = events.filter(
        (ev) => !((ev.type === 'put' && w.noPut) || (ev.type === 'delete' && w.noDelete)),
      )
      if (wanted.length > 0) {
        const bytes = wanted.reduce((n, ev) => n + eventBytes(ev), EVENT_OVERHEAD_BYTES)
        w.push({ events: wanted, revision: current }, wanted.length, bytes)
      }
      w.nextRev = Math.max(w.nextRev, throughRev + 1)
    }
  }
}
