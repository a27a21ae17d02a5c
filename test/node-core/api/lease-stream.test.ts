// The LeaseKeepAlive stream: renewals answered in order with the granted TTL, etcd's TTL 0 for a
// lease that does not exist, and the stream ended with a clear status on bad input or a backend
// failure.
import * as grpc from '@grpc/grpc-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EtcdServerError } from '../../../node-core/api/errors'
import { FakeBackend } from './fake-backend'
import {
  call,
  etcdClients,
  startFakeServer,
  waitFor,
  type EtcdClients,
  type FakeServer,
} from './harness'

interface KeepAliveResponse {
  header: { revision: string }
  ID: string
  TTL: string
}

let nowMs = 1_000_000
let fake: FakeServer
let clients: EtcdClients

beforeAll(async () => {
  fake = await startFakeServer({ backend: new FakeBackend({ nowMs: () => nowMs }) })
  clients = etcdClients(fake.endpoint)
})

afterAll(async () => {
  clients?.close()
  await fake?.close()
})

function keepAliveStream() {
  const stream: grpc.ClientDuplexStream<object, KeepAliveResponse> =
    clients.lease['LeaseKeepAlive']()
  const received: KeepAliveResponse[] = []
  let status: grpc.StatusObject | undefined
  stream.on('data', (r: KeepAliveResponse) => received.push(r))
  stream.on('status', (s: grpc.StatusObject) => (status = s))
  stream.on('error', () => {})
  return {
    stream,
    received,
    status: () => status,
    async take(n: number) {
      await waitFor(() => received.length >= n || status !== undefined, `${n} keep-alive answers`)
      return received.splice(0, n)
    },
    async ended() {
      await waitFor(() => status !== undefined, 'the keep-alive stream to end')
      return status!
    },
  }
}

async function grant(ttl: number): Promise<string> {
  return (await call<{ ID: string }>(clients.lease, 'LeaseGrant', { TTL: ttl })).ID
}

describe('LeaseKeepAlive', () => {
  it('renews in order, answering the granted TTL and pushing the deadline', async () => {
    const a = await grant(10)
    const b = await grant(20)
    const ka = keepAliveStream()
    nowMs += 8_000
    for (const id of [a, b, a, b, a]) ka.stream.write({ ID: id })
    const answers = await ka.take(5)
    expect(answers.map((r) => [r.ID, r.TTL])).toEqual([
      [a, '10'],
      [b, '20'],
      [a, '10'],
      [b, '20'],
      [a, '10'],
    ])
    expect(answers[0]!.header.revision).toBe(String(fake.backend.revision))
    nowMs += 8_000 // 16 s after the grant, 8 s after the renewal: still alive
    const ttl = await call<{ TTL: string }>(clients.lease, 'LeaseTimeToLive', { ID: a })
    expect(ttl.TTL).toBe('2')
    ka.stream.cancel()
  })

  it('answers TTL 0 for a lease that does not exist and keeps the stream open', async () => {
    const ka = keepAliveStream()
    ka.stream.write({ ID: 424242 })
    expect((await ka.take(1))[0]).toMatchObject({ ID: '424242', TTL: '0' })
    const id = await grant(5)
    ka.stream.write({ ID: id })
    expect((await ka.take(1))[0]).toMatchObject({ ID: id, TTL: '5' })
    expect(ka.status()).toBeUndefined()
    ka.stream.cancel()
  })

  it('answers TTL 0 for a lease that expired before the renewal came', async () => {
    const id = await grant(3)
    nowMs += 4_000
    const ka = keepAliveStream()
    ka.stream.write({ ID: id })
    expect((await ka.take(1))[0]).toMatchObject({ ID: id, TTL: '0' })
    ka.stream.cancel()
  })

  it('renews 63-bit ids exactly: an id one below a granted one is not found', async () => {
    const id = '9223372036854775807'
    await call(clients.lease, 'LeaseGrant', { TTL: 30, ID: id })
    const ka = keepAliveStream()
    ka.stream.write({ ID: id })
    ka.stream.write({ ID: '9223372036854775806' })
    const [renewed, missing] = await ka.take(2)
    expect(renewed).toMatchObject({ ID: id, TTL: '30' })
    expect(missing).toMatchObject({ ID: '9223372036854775806', TTL: '0' })
    ka.stream.cancel()
  })

  it("ends the stream with the backend's status on any other failure", async () => {
    const id = await grant(5)
    fake.backend.failures.set('leaseKeepAlive', new EtcdServerError('NO_LEADER'))
    const ka = keepAliveStream()
    ka.stream.write({ ID: id })
    const status = await ka.ended()
    expect([status.code, status.details]).toEqual([
      grpc.status.UNAVAILABLE,
      'etcdserver: no leader',
    ])
    expect(fake.server.openStreamCount()).toBe(0)
  })

  it('ends the stream (a bug) when the backend answers a TTL that is not an integer', async () => {
    const id = await grant(5)
    const original = fake.backend.leaseKeepAlive.bind(fake.backend)
    fake.backend.leaseKeepAlive = async () => 2.5
    try {
      const ka = keepAliveStream()
      ka.stream.write({ ID: id })
      const status = await ka.ended()
      expect(status.code).toBe(grpc.status.UNKNOWN)
      expect(status.details).toMatch(/LeaseKeepAliveResponse\.TTL = 2\.5/)
    } finally {
      fake.backend.leaseKeepAlive = original
    }
  })

  it('finishes with OK once the client half-closes and its renewals are answered', async () => {
    const id = await grant(5)
    const ka = keepAliveStream()
    ka.stream.write({ ID: id })
    ka.stream.write({ ID: id })
    ka.stream.end()
    const status = await ka.ended()
    expect(status.code).toBe(grpc.status.OK)
    expect(ka.received).toHaveLength(2)
  })

  it('ends open keep-alive streams with "server stopped" when the server closes', async () => {
    const server = await startFakeServer()
    const own = etcdClients(server.endpoint)
    try {
      const stream: grpc.ClientDuplexStream<object, KeepAliveResponse> =
        own.lease['LeaseKeepAlive']()
      const status = new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve))
      stream.on('error', () => {})
      const first = new Promise((resolve) => stream.once('data', resolve))
      stream.write({ ID: 1 })
      await first
      expect(server.server.openStreamCount()).toBe(1)
      await server.close()
      const ended = await status
      expect([ended.code, ended.details]).toEqual([
        grpc.status.UNAVAILABLE,
        'etcdserver: server stopped',
      ])
    } finally {
      own.close()
    }
  })
})
