// Topics' flow control: one message in flight per stream, later events merged into one pending
// message (a watch's beyond its bound counted as skipped), errors and closes ending the stream.
import { describe, expect, it } from 'vitest'
import type { TopicMessage, WatchBatch, WatchEvent } from '../../../contract'
import {
  openTopic,
  TOPIC_MERGE,
  TopicStream,
  WATCH_BATCH_EVENTS_MAX,
  type TopicHandlers,
  type TopicSink,
} from '../../../node-core/services/topics'

const enc = (s: string) => new TextEncoder().encode(s)
const put = (n: number): WatchEvent => ({
  type: 'put',
  key: enc(`k${n}`),
  value: enc(`v${n}`),
  modRevision: n,
})
const batch = (...ns: number[]): WatchBatch => ({ events: ns.map(put), skipped: 0 })
const revs = (m: TopicMessage<WatchBatch>) =>
  m.type === 'event' ? m.event.events.map((e) => e.modRevision) : m.type

describe('TopicStream', () => {
  it('sends one message, merges what arrives before its ack, then sends the merge', () => {
    const sent: TopicMessage<WatchBatch>[] = []
    const s = new TopicStream<WatchBatch>((m) => sent.push(m), TOPIC_MERGE['kv/watch'])
    s.emit(batch(1))
    s.emit(batch(2))
    s.emit(batch(3))
    expect(sent.map(revs)).toEqual([[1]])
    s.ack()
    expect(sent.map(revs)).toEqual([[1], [2, 3]])
    s.ack()
    expect(sent).toHaveLength(2)
    s.emit(batch(4))
    expect(sent.map(revs)).toEqual([[1], [2, 3], [4]])
  })

  it('keeps the newest events of a window that stays behind and counts the rest as skipped', () => {
    const sent: TopicMessage<WatchBatch>[] = []
    const s = new TopicStream<WatchBatch>((m) => sent.push(m), TOPIC_MERGE['kv/watch'])
    s.emit(batch(0))
    const total = WATCH_BATCH_EVENTS_MAX + 500
    for (let i = 1; i <= total; i++) s.emit(batch(i))
    s.ack()
    const second = sent[1]!
    expect(second.type).toBe('event')
    if (second.type !== 'event') return
    expect(second.event.events).toHaveLength(WATCH_BATCH_EVENTS_MAX)
    expect(second.event.skipped).toBe(500)
    expect(second.event.events[0]!.modRevision).toBe(501)
    expect(second.event.events.at(-1)!.modRevision).toBe(total)
  })

  it('sends nothing after an error or a close', () => {
    const sent: TopicMessage<WatchBatch>[] = []
    const s = new TopicStream<WatchBatch>((m) => sent.push(m), TOPIC_MERGE['kv/watch'])
    s.emit(batch(1))
    s.emit(batch(2))
    s.fail(new Error('gone'))
    s.ack()
    s.emit(batch(3))
    expect(sent.map(revs)).toEqual([[1], 'error'])
  })
})

describe('TopicStream.drained', () => {
  it('resolves only once the window has taken every message, or the stream closed', async () => {
    const sent: TopicMessage<WatchBatch>[] = []
    const s = new TopicStream<WatchBatch>((m) => sent.push(m), TOPIC_MERGE['kv/watch'])
    let drained = 0
    await s.drained().then(() => drained++)
    expect(drained).toBe(1)
    s.emit(batch(1))
    s.emit(batch(2))
    void s.drained().then(() => drained++)
    await Promise.resolve()
    s.ack() // the merge of 2 is now in flight
    await Promise.resolve()
    expect(drained).toBe(1)
    s.ack()
    await Promise.resolve()
    expect(drained).toBe(2)
    s.emit(batch(3))
    void s.drained().then(() => drained++)
    s.close()
    await Promise.resolve()
    expect(drained).toBe(3)
  })
})

describe('openTopic', () => {
  function fakeWatch() {
    const state: { sink: TopicSink<WatchBatch> | null; stopped: number } = {
      sink: null,
      stopped: 0,
    }
    const handlers: TopicHandlers = {
      'kv/watch': (_args, sink) => {
        state.sink = sink
        return () => state.stopped++
      },
      'kv/search': () => () => {},
      'bulk/copy': () => () => {},
      'bulk/export': () => () => {},
      'kv/diff': () => () => {},
      'app/menu': () => () => {},
      'app/links': () => () => {},
      'cluster/metrics': () => () => {},
      'raft/live': () => () => {},
      'join/live': () => () => {},
      'wal/verify': () => () => {},
      'snapshots/save': () => () => {},
    }
    return { state, handlers }
  }
  const args = [{ conn: 'local', key: enc('a/'), prefix: true }]
  const tick = () => new Promise((r) => setTimeout(r, 0))

  it('runs the handler with parsed arguments and stops it once when closed', async () => {
    const { state, handlers } = fakeWatch()
    const sent: TopicMessage<unknown>[] = []
    const open = openTopic(handlers, 'kv/watch', args, (m) => sent.push(m))
    await tick()
    state.sink!.emit(batch(7))
    expect(sent).toEqual([{ type: 'event', event: batch(7) }])
    open.close()
    open.close()
    expect(state.stopped).toBe(1)
    state.sink!.emit(batch(8))
    expect(sent).toHaveLength(1)
  })

  it('stops a handler that resolves after the renderer already closed the topic', async () => {
    const { state, handlers } = fakeWatch()
    const open = openTopic(handlers, 'kv/watch', args, () => {})
    open.close()
    await tick()
    expect(state.stopped).toBe(1)
  })

  it('turns a failing handler into one error message', async () => {
    const handlers: TopicHandlers = {
      'kv/watch': () => Promise.reject(new Error('compacted')),
      'kv/search': () => () => {},
      'bulk/copy': () => () => {},
      'bulk/export': () => () => {},
      'kv/diff': () => () => {},
      'app/menu': () => () => {},
      'app/links': () => () => {},
      'cluster/metrics': () => () => {},
      'raft/live': () => () => {},
      'join/live': () => () => {},
      'wal/verify': () => () => {},
      'snapshots/save': () => () => {},
    }
    const sent: TopicMessage<unknown>[] = []
    openTopic(handlers, 'kv/watch', args, (m) => sent.push(m))
    await tick()
    await tick()
    expect(sent).toEqual([
      { type: 'error', error: { name: 'Error', code: 'INTERNAL', message: 'compacted' } },
    ])
  })
})
