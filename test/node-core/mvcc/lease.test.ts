// Leases: the lessor's expiry with injected time (promote / demote / renew / expired), and
// leases through the store (grant, attach, revoke deleting keys in one revision, restart).
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Lessor } from '../../../node-core/mvcc/lessor'
import { b, errorCode, str, tempDbDir, TestStore } from './helpers'

const S = 1000

describe('lessor', () => {
  it('clamps short TTLs to the minimum and refuses too long ones, duplicates and too many', () => {
    const l = new Lessor({ ttlSecondsMin: 5, ttlSecondsMax: 100, leasesMax: 2 })
    expect(l.grant(1n, 1)).toBe(5)
    expect(l.grant(2n, 100)).toBe(100)
    expect(() => l.checkGrant(3n, 101)).toThrow(
      expect.objectContaining({ code: 'LEASE_TTL_TOO_LARGE' }),
    )
    expect(() => l.checkGrant(1n, 10)).toThrow(expect.objectContaining({ code: 'LEASE_EXIST' }))
    expect(() => l.checkGrant(3n, 10)).toThrow(expect.objectContaining({ code: 'LEASES_LIMIT' }))
    expect(() => l.checkGrant(0n, 10)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    expect(l.list()).toEqual([1n, 2n])
  })

  it('a lessor that is not primary expires nothing and renews nothing', () => {
    const l = new Lessor()
    l.grant(1n, 10)
    expect(l.expired(1e12)).toEqual([])
    expect(() => l.renew(1n, 0)).toThrow(expect.objectContaining({ code: 'NOT_PRIMARY' }))
    expect(l.timeToLive(1n, 0).ttlSeconds).toBe(10)
  })

  it('promotion starts every lease at now + TTL; expired() reports it when due', () => {
    const l = new Lessor()
    l.grant(1n, 10)
    l.grant(2n, 20)
    l.promote(1_000)
    expect(l.expired(1_000 + 10 * S - 1)).toEqual([])
    expect(l.timeToLive(1n, 1_000 + 4_500).ttlSeconds).toBe(5)
    expect(l.expired(1_000 + 10 * S)).toEqual([1n])
    // 1 again: nobody revoked it, and its retry interval (3 s) has passed.
    expect(l.expired(1_000 + 30 * S)).toEqual([1n, 2n])
  })

  it('a reported lease is reported again after the retry interval, until it is revoked', () => {
    const l = new Lessor({ expiredRetryMs: 3_000 })
    l.grant(1n, 10)
    l.promote(0)
    expect(l.expired(10 * S)).toEqual([1n])
    expect(l.expired(12 * S)).toEqual([])
    expect(l.expired(13 * S)).toEqual([1n])
    l.revoke(1n)
    expect(l.expired(100 * S)).toEqual([])
  })

  it('renew moves the expiry to now + TTL; an expired lease cannot be renewed', () => {
    const l = new Lessor()
    l.grant(1n, 10)
    l.promote(0)
    expect(l.renew(1n, 8 * S)).toBe(10)
    expect(l.expired(10 * S)).toEqual([])
    expect(l.expired(18 * S - 1)).toEqual([])
    expect(l.expired(18 * S)).toEqual([1n])
    expect(() => l.renew(1n, 18 * S)).toThrow(expect.objectContaining({ code: 'LEASE_EXPIRED' }))
    expect(() => l.renew(2n, 18 * S)).toThrow(expect.objectContaining({ code: 'LEASE_NOT_FOUND' }))
  })

  it('demotion stops expiry; a new promotion extends every lease to now + TTL', () => {
    const l = new Lessor()
    l.grant(1n, 10)
    l.promote(0)
    l.demote()
    expect(l.expired(1e9)).toEqual([])
    l.promote(50 * S)
    expect(l.expired(59 * S)).toEqual([])
    expect(l.expired(60 * S)).toEqual([1n])
  })

  it('a lease granted while primary starts at the next call that passes the time', () => {
    const l = new Lessor()
    l.promote(0)
    l.grant(1n, 10)
    expect(l.expired(5 * S)).toEqual([]) // starts now: due at 15 s
    expect(l.expired(14 * S)).toEqual([])
    expect(l.expired(15 * S)).toEqual([1n])
  })

  it('reports oldest first, at most expiredBatchMax per call, each lease once', () => {
    const l = new Lessor({ expiredBatchMax: 2 })
    for (const [id, ttl] of [
      [1n, 30],
      [2n, 10],
      [3n, 20],
      [4n, 40],
    ] as const)
      l.grant(id, ttl)
    l.promote(0)
    // Renewals leave stale heap entries behind; they must not cause duplicates.
    for (let i = 0; i < 5; i++) l.renew(4n, i * S)
    expect(l.expired(100 * S)).toEqual([2n, 3n])
    expect(l.expired(100 * S)).toEqual([1n, 4n])
    expect(l.expired(100 * S)).toEqual([])
  })

  it('many renewals do not grow the heap without bound', () => {
    const l = new Lessor()
    l.grant(1n, 10)
    l.promote(0)
    for (let i = 0; i < 10_000; i++) {
      l.renew(1n, i)
      if (i % 100 === 0) expect(l.expired(i)).toEqual([])
    }
    expect(l.expired(9_999 + 10 * S)).toEqual([1n])
    expect((l as unknown as { heap: unknown[] }).heap.length).toBeLessThan(2_000)
  })
})

describe('leases in the store', () => {
  let t: TestStore
  let cleanup: () => void

  beforeEach(async () => {
    const tmp = tempDbDir()
    cleanup = tmp.cleanup
    t = await TestStore.open(tmp.dir)
  })

  afterEach(async () => {
    await t.store.close()
    cleanup()
  })

  it('grant: id 0 gets a deterministic id (the entry index), the TTL is clamped', async () => {
    await t.put('x', '1')
    const r = await t.apply({ type: 'leaseGrant', leaseGrant: { id: 0n, ttlSeconds: 1 } })
    expect(r).toEqual({ leaseGrant: { id: 2n, ttlSeconds: 2, revision: 2 } })
    expect(
      errorCode(await t.apply({ type: 'leaseGrant', leaseGrant: { id: 2n, ttlSeconds: 5 } })),
    ).toBe('LEASE_EXIST')
    // Index 4 is free, so it is the next automatic id... unless taken: take 5 and 6 first.
    await t.apply({ type: 'leaseGrant', leaseGrant: { id: 5n, ttlSeconds: 5 } })
    await t.apply({ type: 'leaseGrant', leaseGrant: { id: 6n, ttlSeconds: 5 } })
    expect(
      await t.apply({ type: 'leaseGrant', leaseGrant: { id: 0n, ttlSeconds: 5 } }),
    ).toMatchObject({
      leaseGrant: { id: 7n },
    })
  })

  it('revoke deletes the attached keys in one revision, and only those', async () => {
    await t.apply({ type: 'leaseGrant', leaseGrant: { id: 1n, ttlSeconds: 60 } })
    await t.apply({ type: 'leaseGrant', leaseGrant: { id: 2n, ttlSeconds: 60 } })
    await t.put('a', '1', { lease: 1n })
    await t.put('c', '1', { lease: 1n })
    await t.put('b', '1', { lease: 1n })
    await t.put('b', '2', { lease: 2n }) // moved to lease 2
    await t.put('d', '1', { lease: 1n })
    await t.del('d') // deleted: no longer attached
    await t.put('e', '1')
    expect(t.store.lessor.timeToLive(1n, 0, true).keys.map(str)).toEqual(['a', 'c'])
    const before = t.store.revision
    expect(await t.apply({ type: 'leaseRevoke', leaseRevoke: { id: 1n } })).toEqual({
      leaseRevoke: { revision: before + 1 },
    })
    const left = t.store.range({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) })
    expect(left.kvs.map((x) => str(x.key))).toEqual(['b', 'e'])
    expect(t.store.range({ key: b('a'), revision: before }).count).toBe(1)
    expect(t.store.lessor.has(1n)).toBe(false)
    expect(errorCode(await t.apply({ type: 'leaseRevoke', leaseRevoke: { id: 1n } }))).toBe(
      'LEASE_NOT_FOUND',
    )
  })

  it('revoking a lease without keys takes no revision', async () => {
    await t.apply({ type: 'leaseGrant', leaseGrant: { id: 1n, ttlSeconds: 60 } })
    expect(await t.apply({ type: 'leaseRevoke', leaseRevoke: { id: 1n } })).toEqual({
      leaseRevoke: { revision: 1 },
    })
  })

  it('expiry through the log: the leader finds expired leases, the revoke deletes their keys', async () => {
    await t.apply({ type: 'leaseGrant', leaseGrant: { id: 9n, ttlSeconds: 10 } })
    await t.put('session', 'alive', { lease: 9n })
    t.store.lessor.promote(0)
    expect(t.store.lessor.expired(9_999)).toEqual([])
    const due = t.store.lessor.expired(10_000)
    expect(due).toEqual([9n])
    for (const id of due) await t.apply({ type: 'leaseRevoke', leaseRevoke: { id } })
    expect(t.get('session')).toBeUndefined()
    expect(t.store.lessor.expired(20_000)).toEqual([])
  })

  it('leases and attachments survive a restart, 63-bit ids included', async () => {
    const BIG = 2n ** 63n - 2n
    await t.apply({ type: 'leaseGrant', leaseGrant: { id: 3n, ttlSeconds: 30 } })
    await t.apply({ type: 'leaseGrant', leaseGrant: { id: BIG, ttlSeconds: 40 } })
    await t.put('a', '1', { lease: 3n })
    await t.put('b', '1', { lease: 3n })
    await t.put('b', '2', { lease: BIG })
    await t.put('c', '1', { lease: BIG })
    await t.del('c')
    await t.apply({ type: 'leaseGrant', leaseGrant: { id: 5n, ttlSeconds: 50 } })
    await t.apply({ type: 'leaseRevoke', leaseRevoke: { id: 5n } })
    await t.reopen()
    const l = t.store.lessor
    expect(l.list()).toEqual([3n, BIG])
    expect(l.timeToLive(3n, 0, true)).toEqual({
      id: 3n,
      ttlSeconds: 30,
      grantedTtlSeconds: 30,
      keys: [b('a')].map((x) => new Uint8Array(x)),
    })
    expect(l.timeToLive(BIG, 0, true).keys.map(str)).toEqual(['b'])
    expect(t.store.range({ key: b('b') }).kvs[0]!.lease).toBe(BIG)
    await t.apply({ type: 'leaseRevoke', leaseRevoke: { id: 3n } })
    expect(t.get('a')).toBeUndefined()
    expect(t.get('b')).toBe('2')
  })
})
