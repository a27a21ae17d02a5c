// The per-client token bucket: a client over its rate is refused with etcd's "too many requests",
// another client is not affected, tokens come back with time, and the table of clients is bounded.
import * as grpc from '@grpc/grpc-js'
import { describe, expect, it } from 'vitest'
import { RateLimiter } from '../../../node-core/api/rate-limit'
import { call, callError, etcdClients, startFakeServer } from './harness'

describe('RateLimiter', () => {
  it('lets a burst through, refuses the next call, and refills at the rate', () => {
    let now = 0
    const limiter = new RateLimiter({ rps: 10, burst: 3, nowMs: () => now })
    for (let i = 0; i < 3; i++) limiter.take('a')
    expect(() => limiter.take('a')).toThrow('etcdserver: too many requests')
    limiter.take('b') // another client has its own bucket
    now += 100 // one token back at 10/s
    limiter.take('a')
    expect(() => limiter.take('a')).toThrow('etcdserver: too many requests')
    now += 10_000 // long idle: full again, never more than the burst
    for (let i = 0; i < 3; i++) limiter.take('a')
    expect(() => limiter.take('a')).toThrow('etcdserver: too many requests')
  })

  it('keeps at most clientsMax buckets, forgetting the least recently used', () => {
    const limiter = new RateLimiter({ rps: 1, burst: 1, clientsMax: 2, nowMs: () => 0 })
    limiter.take('a')
    limiter.take('b')
    expect(() => limiter.take('a')).toThrow() // a is used again (and refused): most recent
    limiter.take('c') // evicts b
    expect(limiter.clients).toBe(2)
    expect(() => limiter.take('a')).toThrow() // a was kept: still empty
    limiter.take('b') // b was forgotten: a fresh bucket
  })

  it('refuses settings that cannot work', () => {
    expect(() => new RateLimiter({ rps: 0, burst: 1 })).toThrow(/rps must be a positive/)
    expect(() => new RateLimiter({ rps: 5, burst: 0 })).toThrow(/burst must be a positive/)
  })
})

describe('the rate limit on the client port', () => {
  it('refuses a client over its rate with etcd error, and serves another client', async () => {
    const fake = await startFakeServer({ rateLimit: { rps: 0.5, burst: 3 } })
    // Two connections (a local subchannel pool each), as two client programs have.
    const [a, b] = ['a', 'b'].map(
      () => etcdClients(fake.endpoint, { 'grpc.use_local_subchannel_pool': 1 }).kv,
    )
    try {
      for (let i = 0; i < 3; i++) await call(a!, 'Range', { key: Buffer.from('k') })
      const err = await callError(a!, 'Range', { key: Buffer.from('k') })
      expect([err.code, err.details]).toEqual([
        grpc.status.RESOURCE_EXHAUSTED,
        'etcdserver: too many requests',
      ])
      await call(b!, 'Put', { key: Buffer.from('k'), value: Buffer.from('v') })
    } finally {
      a!.close()
      b!.close()
      await fake.close()
    }
  })

  it('counts an authenticated user across connections, and each user apart', async () => {
    const fake = await startFakeServer({ rateLimit: { rps: 0.5, burst: 2 } })
    fake.backend.tokens.set('t-alice', 'alice')
    fake.backend.tokens.set('t-bob', 'bob')
    const as = (token: string) => {
      const md = new grpc.Metadata()
      md.set('token', token)
      return md
    }
    const [a1, a2, b1] = [1, 2, 3].map(
      () => etcdClients(fake.endpoint, { 'grpc.use_local_subchannel_pool': 1 }).kv,
    )
    try {
      await call(a1!, 'Range', { key: Buffer.from('k') }, as('t-alice'))
      await call(a2!, 'Range', { key: Buffer.from('k') }, as('t-alice'))
      // alice's third call, on either connection, is over her rate.
      const err = await callError(a1!, 'Range', { key: Buffer.from('k') }, as('t-alice'))
      expect(err.details).toBe('etcdserver: too many requests')
      // bob on a third connection has his own bucket.
      await call(b1!, 'Range', { key: Buffer.from('k') }, as('t-bob'))
    } finally {
      for (const c of [a1, a2, b1]) c!.close()
      await fake.close()
    }
  })
})
