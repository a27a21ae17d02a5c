/**
 * Topics: live streams the renderer opens and closes (contract/index.ts `Topics`), the same way
 * over Electron IPC and over the web-mode WebSocket.
 *
 * Flow control is here, once, for both transports: a stream sends one message and then waits
 * for the renderer's acknowledgement. Events that arrive meanwhile are merged into the one
 * pending message by the topic's `merge` (a watch appends, up to a bound past which the oldest
 * are counted as skipped), so a window that falls behind receives fewer, larger messages and
 * the server holds at most one pending message per stream.
 */
import type {
  BulkProgress,
  DiffProgress,
  EventOf,
  ExportChunk,
  RaftLive,
  SearchProgress,
  Topic,
  TopicArgsOf,
  TopicMessage,
  WatchBatch,
} from '../../contract'
import { ValidationError, toWireError } from '../errors'
import { topicSchemas } from './schemas'

/** Where a topic's handler puts what it produces. */
export interface TopicSink<E> {
  emit(event: E): void
  /** Ends the stream with an error (the handler's close function still runs). */
  fail(err: unknown): void
  /**
   * Resolves once the window has taken everything emitted (or the stream closed): a producer
   * that reads at its own pace (an export) waits for it instead of piling up a merge.
   */
  drained(): Promise<void>
}

/** Starts producing into `sink`; resolves with the function that stops it. */
export type TopicHandlers = {
  [T in Topic]: (
    args: TopicArgsOf<T>[0],
    sink: TopicSink<EventOf<T>>,
  ) => (() => void) | Promise<() => void>
}

/** Raft events kept in one live message while the window is behind (the newest). */
export const RAFT_EVENTS_PER_MESSAGE_MAX = 2_000

/** Events kept in one watch message while the window is behind; older ones are skipped. */
export const WATCH_BATCH_EVENTS_MAX = 2_000

/** How two pending events of a topic become one. */
export const TOPIC_MERGE: { [T in Topic]: (a: EventOf<T>, b: EventOf<T>) => EventOf<T> } = {
  // A person clicks one menu item at a time; two before the window took the first are rare, and
  // the later one is what they want now.
  'app/menu': (_a, b) => b,
  // A link is opened by hand; two before the window took the first: the later one wins.
  'app/links': (_a, b) => b,
  // The cluster as it is now; every event recorded meanwhile travels (the newest, bounded).
  // Progress is cumulative: the latest says it all.
  'wal/verify': (_a, b) => b,
  'snapshots/save': (_a, b) => b,
  'join/live': (_a, b) => b,
  // Readings are cumulative: the newer one stands for both.
  'cluster/metrics': (_a, b) => b,
  'raft/live': (a: RaftLive, b: RaftLive): RaftLive => ({
    cluster: b.cluster,
    events: a.events.concat(b.events).slice(-RAFT_EVENTS_PER_MESSAGE_MAX),
    samples: a.samples.concat(b.samples),
  }),
  'kv/watch': (a: WatchBatch, b: WatchBatch): WatchBatch => {
    const events = a.events.concat(b.events)
    const over = Math.max(0, events.length - WATCH_BATCH_EVENTS_MAX)
    return { events: over > 0 ? events.slice(over) : events, skipped: a.skipped + b.skipped + over }
  },
  // Progress is the latest; matches found meanwhile all travel in the next message.
  'kv/search': (a: SearchProgress, b: SearchProgress): SearchProgress => ({
    ...b,
    matches: a.matches.concat(b.matches),
    truncated: a.truncated || b.truncated,
  }),
  'kv/diff': (a: DiffProgress, b: DiffProgress): DiffProgress => ({
    ...b,
    changes: a.changes.concat(b.changes),
    truncated: a.truncated || b.truncated,
  }),
  'bulk/copy': (a: BulkProgress, b: BulkProgress): BulkProgress => ({
    ...b,
    samples: a.samples.concat(b.samples),
  }),
  // An export waits for each chunk to be taken (drained()), so at most two ever meet here.
  'bulk/export': (a: ExportChunk, b: ExportChunk): ExportChunk => {
    const data = new Uint8Array(a.data.byteLength + b.data.byteLength)
    data.set(a.data)
    data.set(b.data, a.data.byteLength)
    return { ...b, data }
  },
}

/** One open stream: at most one message in flight and one pending. */
export class TopicStream<E> {
  private pending: E | undefined
  private inFlight = false
  private closed = false
  private waiting: (() => void)[] = []

  constructor(
    private readonly send: (message: TopicMessage<E>) => void,
    private readonly merge: (a: E, b: E) => E,
  ) {}

  get isClosed(): boolean {
    return this.closed
  }

  emit(event: E): void {
    if (this.closed) return
    this.pending = this.pending === undefined ? event : this.merge(this.pending, event)
    this.flush()
  }

  /** The renderer handled the last message. */
  ack(): void {
    this.inFlight = false
    this.flush()
  }

  fail(err: unknown): void {
    if (this.closed) return
    this.closed = true
    this.pending = undefined
    this.send({ type: 'error', error: toWireError(err) })
    this.wake()
  }

  close(): void {
    this.closed = true
    this.pending = undefined
    this.wake()
  }

  drained(): Promise<void> {
    if (this.closed || (!this.inFlight && this.pending === undefined)) return Promise.resolve()
    return new Promise((resolve) => this.waiting.push(resolve))
  }

  private wake(): void {
    const waiting = this.waiting
    this.waiting = []
    for (const w of waiting) w()
  }

  private flush(): void {
    if (!this.closed && !this.inFlight && this.pending === undefined) this.wake()
    if (this.closed || this.inFlight || this.pending === undefined) return
    const event = this.pending
    this.pending = undefined
    this.inFlight = true
    this.send({ type: 'event', event })
  }
}

export function isTopic(value: unknown): value is Topic {
  return typeof value === 'string' && Object.hasOwn(topicSchemas, value)
}

/** An open topic as a transport holds it. */
export interface OpenTopic {
  ack(): void
  close(): void
}

/**
 * Validates and opens a topic; every message goes to `send`. A refusal (unknown topic, bad
 * arguments, a handler that throws) arrives as one error message, never as a throw.
 */
export function openTopic(
  handlers: TopicHandlers,
  topic: unknown,
  rawArgs: unknown[],
  send: (message: TopicMessage<unknown>) => void,
): OpenTopic {
  let stop: (() => void) | null = null
  let stream: TopicStream<unknown>
  const close = () => {
    stream.close()
    const s = stop
    stop = null
    s?.()
  }
  if (!isTopic(topic)) {
    stream = new TopicStream(send, (_a, b) => b)
    stream.fail(new ValidationError('UNKNOWN_TOPIC', `unknown topic ${JSON.stringify(topic)}`))
    return { ack: () => {}, close }
  }
  stream = new TopicStream(send, TOPIC_MERGE[topic] as (a: unknown, b: unknown) => unknown)
  const parsed = topicSchemas[topic].safeParse(rawArgs)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    stream.fail(
      new ValidationError(
        'BAD_ARGUMENT',
        `${topic}: invalid arguments: ${issue?.message ?? 'does not match'}`,
      ),
    )
    return { ack: () => {}, close }
  }
  const sink: TopicSink<unknown> = {
    emit: (event) => stream.emit(event),
    fail: (err) => {
      stream.fail(err)
      close()
    },
    drained: () => stream.drained(),
  }
  const handler = handlers[topic] as (args: unknown, sink: TopicSink<unknown>) => unknown
  Promise.resolve()
    .then(() => handler((parsed.data as unknown[])[0], sink) as (() => void) | Promise<() => void>)
    .then(
      (stopFn) => {
        if (stream.isClosed) stopFn()
        else stop = stopFn
      },
      (err: unknown) => stream.fail(err),
    )
  return { ack: () => stream.ack(), close }
}
