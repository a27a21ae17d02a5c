// The Watch stream protocol through a raw gRPC client: watch ids, created/canceled/compacted
// responses, events in order after their created response, progress requests and
// notifications, fragmentation, and flow control (a client that stops reading pauses the
// backend's watchers instead of making the server buffer).
import * as grpc from '@grpc/grpc-js'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  call,
  etcdClients,
  startFakeServer,
  waitFor,
  type AnyClient,
  type EtcdClients,
  type FakeServer,
} from './harness'

const v = (s: string) => Buffer.from(s)

interface WatchResponse {
  header: { revision: string }
  watchId: string
  created: boolean
  canceled: boolean
  compactRevision: string
  cancelReason: string
  fragment: boolean
  events: {
    type: string
    kv: { key: Buffer; value: Buffer; modRevision: string }
    prevKv: { value: Buffer } | null
  }[]
}

/** A watch stream with a queue of responses. */
class WatchClient {
  readonly stream: grpc.ClientDuplexStream<object, WatchResponse>
  readonly received: WatchResponse[] = []
  private waiters: (() => void)[] = []
  status: grpc.StatusObject | undefined

  constructor(client: AnyClient, metadata = new grpc.Metadata()) {
    this.stream = client['Watch'](metadata)
    this.stream.on('data', (r: WatchResponse) => {
      this.received.push(r)
      this.wake()
    })
    this.stream.on('status', (s: grpc.StatusObject) => {
      this.status = s
      this.wake()
    })
    this.stream.on('error', () => {})
  }

  private wake(): void {
    const waiters = this.waiters
    this.waiters = []
    waiters.forEach((w) => w())
  }

  write(req: object): void {
    this.stream.write(req)
  }

  /** Waits for the next response (consuming it). */
  async next(timeoutMs = 3000): Promise<WatchResponse> {
    const deadline = Date.now() + timeoutMs
    while (this.received.length === 0) {
      if (this.status) throw new Error(`stream ended: ${this.status.code} ${this.status.details}`)
      if (Date.now() > deadline) throw new Error('no watch response within the timeout')
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve)
        setTimeout(resolve, 50)
      })
    }
    return this.received.shift()!
  }

  /** Asserts nothing arrives for a short while. */
  async nothingFor(ms: number): Promise<void> {
    await new Promise((r) => setTimeout(r, ms))
    expect(this.received).toEqual([])
  }

  async ended(): Promise<grpc.StatusObject> {
    await waitFor(() => this.status !== undefined, 'the watch stream to end')
    return this.status!
  }

  close(): void {
    this.stream.cancel()
  }
}

let fake: FakeServer
let clients: EtcdClients
const open: WatchClient[] = []

function watchClient(metadata?: grpc.Metadata, target: EtcdClients = clients): WatchClient {
  const w = new WatchClient(target.watch, metadata)
  open.push(w)
  return w
}

async function put(key: string, value: string): Promise<number> {
  await call(clients.kv, 'Put', { key: v(key), value: v(value) })
  return fake.backend.revision
}

beforeAll(async () => {
  fake = await startFakeServer()
  clients = etcdClients(fake.endpoint)
})

afterEach(async () => {
  open.splice(0).forEach((w) => w.close())
  await waitFor(() => fake.backend.watchers.size === 0, 'watchers to be released')
})

afterAll(async () => {
  clients?.close()
  await fake?.close()
})

describe('watch ids', () => {
  it('counts server-assigned ids from 0, honours client ids and skips them', async () => {
    const w = watchClient()
    const created = async (req: object) => {
      w.write({ createRequest: { key: v('k'), ...req } })
      const r = await w.next()
      expect(r.created).toBe(true)
      return r
    }
    expect((await created({})).watchId).toBe('0')
    expect((await created({ watchId: 1 })).watchId).toBe('1')
    expect((await created({})).watchId).toBe('2')
    expect((await created({ watchId: 7 })).watchId).toBe('7')
    const dup = await created({ watchId: 7 })
    expect(dup).toMatchObject({
      watchId: '-1',
      canceled: true,
      cancelReason: 'mvcc: duplicate watch ID provided on the WatchStream',
    })
    expect(fake.backend.watchers.size).toBe(4)
  })

  it('stamps the created response with the current revision', async () => {
    const rev = await put('stamp', '1')
    const w = watchClient()
    w.write({ createRequest: { key: v('stamp') } })
    expect((await w.next()).header.revision).toBe(String(rev))
  })
})

describe('events', () => {
  it('delivers puts and deletes with prev_kv, honouring filters', async () => {
    await put('e1', 'old')
    const w = watchClient()
    w.write({ createRequest: { key: v('e'), rangeEnd: v('f'), prevKv: true } })
    w.write({ createRequest: { key: v('e'), rangeEnd: v('f'), filters: ['NOPUT'] } })
    const ids = [(await w.next()).watchId, (await w.next()).watchId]
    const putRev = await put('e1', 'new')
    await call(clients.kv, 'DeleteRange', { key: v('e1') })
    const seen = [await w.next(), await w.next(), await w.next()]
    const forFirst = seen.filter((r) => r.watchId === ids[0])
    const forSecond = seen.filter((r) => r.watchId === ids[1])
    expect(forFirst.map((r) => r.events[0]!.type)).toEqual(['PUT', 'DELETE'])
    expect(forFirst[0]!.header.revision).toBe(String(putRev))
    expect(forFirst[0]!.events[0]!.prevKv!.value.toString()).toBe('old')
    expect(forFirst[1]!.events[0]!.prevKv!.value.toString()).toBe('new')
    expect(forSecond.map((r) => r.events[0]!.type)).toEqual(['DELETE'])
    expect(forSecond[0]!.events[0]!.prevKv).toBeNull()
  })

  it('maps an empty key to "\\0" and hands the backend a normalised request', async () => {
    const w = watchClient()
    w.write({ createRequest: { rangeEnd: v('\0'), startRevision: 0, fragment: true } })
    await w.next()
    expect(fake.backend.watchRequests.at(-1)).toEqual({
      key: new Uint8Array([0]),
      rangeEnd: v('\0'),
      startRevision: 0,
      prevKv: false,
      filters: [],
      progressNotify: false,
      fragment: true,
    })
  })

  it('replays history from a start revision in one batch', async () => {
    const first = await put('h', '1')
    await put('h', '2')
    await put('h', '3')
    const w = watchClient()
    w.write({ createRequest: { key: v('h'), startRevision: first } })
    expect((await w.next()).created).toBe(true)
    const batch = await w.next()
    expect(batch.events.map((e) => e.kv.value.toString())).toEqual(['1', '2', '3'])
    expect(batch.header.revision).toBe(String(fake.backend.revision))
  })

  it('cancels on request and stops delivering', async () => {
    const w = watchClient()
    w.write({ createRequest: { key: v('c') } })
    const id = (await w.next()).watchId
    w.write({ cancelRequest: { watchId: id } })
    expect(await w.next()).toMatchObject({ watchId: id, canceled: true, created: false })
    expect(fake.backend.watchers.size).toBe(0)
    await put('c', 'after')
    w.write({ cancelRequest: { watchId: 99 } }) // unknown: ignored, as etcd does
    await w.nothingFor(100)
  })
})

describe('compaction and backend cancel', () => {
  it('answers a compacted start revision with compact_revision and canceled', async () => {
    const early = await put('z', '1')
    await put('z', '2')
    const compactAt = await put('z', '3')
    await call(clients.kv, 'Compact', { revision: compactAt })
    const w = watchClient()
    w.write({ createRequest: { key: v('z'), startRevision: early } })
    const created = await w.next()
    expect(created.created).toBe(true)
    expect(await w.next()).toMatchObject({
      watchId: created.watchId,
      canceled: true,
      compactRevision: String(compactAt),
    })
    expect(fake.backend.watchers.size).toBe(0)
  })

  it('refuses a negative start revision as compacted, like etcd', async () => {
    const w = watchClient()
    w.write({ createRequest: { key: v('n'), startRevision: -5 } })
    expect(await w.next()).toMatchObject({
      created: true,
      canceled: true,
      watchId: '-1',
      cancelReason: 'etcdserver: mvcc: required revision has been compacted',
    })
  })

  it('refuses a watch the backend cannot create, with its reason', async () => {
    const { LimitError } = await import('../../../node-core/errors')
    fake.backend.failures.set('watch', new LimitError('WATCHERS_FULL', 'too many watchers (10)'))
    const w = watchClient()
    w.write({ createRequest: { key: v('x') } })
    expect(await w.next()).toMatchObject({
      created: true,
      canceled: true,
      watchId: '-1',
      cancelReason: 'too many watchers (10)',
    })
  })

  it('passes a backend cancel on with its reason', async () => {
    const w = watchClient()
    w.write({ createRequest: { key: v('b') } })
    const id = (await w.next()).watchId
    fake.backend.cancelAllWatchers('slow watcher')
    expect(await w.next()).toMatchObject({
      watchId: id,
      canceled: true,
      cancelReason: 'slow watcher',
    })
  })
})

describe('progress', () => {
  it('answers a progress request with watch_id -1 at the current revision', async () => {
    const rev = await put('p', '1')
    const w = watchClient()
    w.write({ progressRequest: {} })
    expect(await w.next()).toMatchObject({ watchId: '-1', header: { revision: String(rev) } })
    w.write({ createRequest: { key: v('p') } })
    await w.next()
    w.write({ progressRequest: {} })
    expect(await w.next()).toMatchObject({ watchId: '-1', header: { revision: String(rev) } })
  })

  it('defers the progress answer until every watcher has caught up', async () => {
    const w = watchClient()
    w.write({ createRequest: { key: v('q') } })
    await w.next()
    const [watcher] = [...fake.backend.watchers]
    watcher!.pause()
    const rev = await put('q', 'held')
    w.write({ progressRequest: {} })
    await w.nothingFor(100)
    watcher!.resume()
    const event = await w.next()
    expect(event.events[0]!.kv.value.toString()).toBe('held')
    expect(await w.next()).toMatchObject({ watchId: '-1', header: { revision: String(rev) } })
  })

  it('sends progress notifications to idle progress_notify watchers', async () => {
    const server = await startFakeServer({ limits: { progressNotifyIntervalMs: 50 } })
    const own = etcdClients(server.endpoint)
    try {
      const w = new WatchClient(own.watch)
      w.write({ createRequest: { key: v('idle'), progressNotify: true } })
      w.write({ createRequest: { key: v('quiet') } })
      const id = (await w.next()).watchId
      await w.next()
      const notice = await w.next()
      expect(notice).toMatchObject({
        watchId: id,
        header: { revision: String(server.backend.revision) },
        events: [],
        canceled: false,
      })
      w.close()
    } finally {
      own.close()
      await server.close()
    }
  })
})

describe('fragmentation', () => {
  it('splits a large revision into fragments when asked, keeping every event', async () => {
    const server = await startFakeServer({
      limits: { requestBytesMax: 4096, grpcOverheadBytes: 1024 },
    })
    const own = etcdClients(server.endpoint)
    try {
      const w = new WatchClient(own.watch)
      w.write({ createRequest: { key: v('f'), rangeEnd: v('g'), fragment: true } })
      w.write({ createRequest: { key: v('f'), rangeEnd: v('g') } })
      const fragmentedId = (await w.next()).watchId
      await w.next()
      // Ten 1000-byte values in one revision: about 10 kB of events against a 5 kB limit.
      await server.backend.txn({
        compare: [],
        success: Array.from({ length: 10 }, (_, i) => ({
          requestPut: { key: v(`f${i}`), value: Buffer.alloc(1000, 0x30 + i) },
        })),
        failure: [],
      })
      const parts: WatchResponse[] = []
      let whole: WatchResponse | undefined
      while (!whole || parts.length === 0 || parts.at(-1)!.fragment) {
        const r = await w.next()
        if (r.watchId === fragmentedId) parts.push(r)
        else whole = r
      }
      expect(parts.length).toBeGreaterThanOrEqual(2)
      expect(parts.slice(0, -1).every((p) => p.fragment)).toBe(true)
      expect(parts.at(-1)!.fragment).toBe(false)
      const keys = parts.flatMap((p) => p.events.map((e) => e.kv.key.toString()))
      expect(keys).toEqual(Array.from({ length: 10 }, (_, i) => `f${i}`))
      expect(whole.fragment).toBe(false)
      expect(whole.events).toHaveLength(10)
      w.close()
    } finally {
      own.close()
      await server.close()
    }
  })
})

describe('flow control', () => {
  it('pauses the backend watcher while the client does not read, and loses nothing', async () => {
    const w = watchClient()
    w.write({ createRequest: { key: v('flow'), rangeEnd: v('flox') } })
    await w.next()
    const [watcher] = [...fake.backend.watchers]
    w.stream.pause()
    const count = 300
    const value = Buffer.alloc(16 * 1024, 0x41)
    for (let i = 0; i < count; i++) {
      await fake.backend.put({ key: v(`flow${String(i).padStart(4, '0')}`), value })
    }
    await waitFor(() => watcher!.pauseCount > 0, 'the server to pause the watcher')
    expect(watcher!.queue.length).toBeGreaterThan(0)
    // The server holds at most one buffer's worth: most batches wait in the backend.
    expect(watcher!.delivered).toBeLessThan(count)
    w.stream.resume()
    const keys: string[] = []
    while (keys.length < count) {
      const r = await w.next()
      keys.push(...r.events.map((e) => e.kv.key.toString()))
    }
    expect(keys).toEqual(
      Array.from({ length: count }, (_, i) => `flow${String(i).padStart(4, '0')}`),
    )
    expect(watcher!.paused).toBe(false)
  })
})

describe('stream life', () => {
  it('releases the backend watchers when the client goes away', async () => {
    const w = watchClient()
    w.write({ createRequest: { key: v('a') } })
    w.write({ createRequest: { key: v('b') } })
    await w.next()
    await w.next()
    expect(fake.backend.watchers.size).toBe(2)
    w.close()
    await waitFor(() => fake.backend.watchers.size === 0, 'watchers to be released')
  })

  it('refuses a require-leader stream without a leader', async () => {
    const md = new grpc.Metadata()
    md.set('hasleader', 'true')
    fake.backend.leader = 0
    try {
      const w = watchClient(md)
      const status = await w.ended()
      expect([status.code, status.details]).toEqual([
        grpc.status.UNAVAILABLE,
        'etcdserver: no leader',
      ])
    } finally {
      fake.backend.leader = fake.backend.memberId
    }
  })

  it('ends only the stream when the backend hands it a broken event (a bug), not the server', async () => {
    const w = watchClient()
    w.write({ createRequest: { key: v('bug') } })
    await w.next()
    const [watcher] = [...fake.backend.watchers]
    const kv = {
      key: v('bug'),
      createRevision: 1,
      modRevision: 2 ** 60,
      version: 1,
      value: v('x'),
      lease: 0n,
    }
    watcher!.enqueue({ type: 'events', revision: 3, events: [{ type: 'put', kv }] })
    const status = await w.ended()
    expect(status.code).toBe(grpc.status.UNKNOWN)
    expect(status.details).toMatch(/kv\.mod_revision = \d+, which is not a safe integer/)
    await put('bug', 'still serving')
  })

  it('ends open streams with "server stopped" on close', async () => {
    const server = await startFakeServer()
    const own = etcdClients(server.endpoint)
    try {
      const w = new WatchClient(own.watch)
      w.write({ createRequest: { key: v('s') } })
      await w.next()
      expect(server.server.openStreamCount()).toBe(1)
      await server.close()
      const status = await w.ended()
      expect([status.code, status.details]).toEqual([
        grpc.status.UNAVAILABLE,
        'etcdserver: server stopped',
      ])
      expect(server.backend.watchers.size).toBe(0)
    } finally {
      own.close()
    }
  })
})
