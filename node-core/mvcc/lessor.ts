/**
 * Leases: ids with a TTL that keys can be attached to; when a lease goes, its keys go with it.
 *
 * What is replicated and what is not (etcd's design):
 * - Grant and revoke are log entries (WriteOp leaseGrant / leaseRevoke) applied on every node
 *   through the store, so every node holds the same leases and the same attachments. Attachments
 *   follow the puts and deletes of keys.
 * - Expiry is decided by one node, the leader, and carried through the log: only the primary
 *   lessor (on the leader, after promote()) keeps expiry times; expired() tells the leader which
 *   leases to propose revoking; the revoke entry then deletes them on every node. Keep-alives
 *   (renew) go to the leader and only move its in-memory expiry; they are not logged, so a new
 *   leader does not know them and, like etcd, extends every lease to now + TTL on promotion.
 *
 * Time: the lessor never reads a clock. Every call that needs the time takes `nowMs` (any
 * monotonic millisecond clock, the same one for all calls), so tests are deterministic. A lease
 * granted while primary starts its countdown at the next call that passes the time (apply has no
 * notion of time); that is at most one tick late, and late only in the lease's favour.
 *
 * TTLs are whole seconds, raised to ttlSecondsMin (etcd: ceil(1.5 x election timeout), so that a
 * lease cannot expire during a leader election) and refused above ttlSecondsMax.
 */
import {
  InvalidArgumentError,
  LeaseExistsError,
  LeaseExpiredError,
  LeaseNotFoundError,
  LeasesLimitError,
  LeaseTtlTooLargeError,
  NotPrimaryError,
} from './errors'
import { keyBytes, type KeyString } from './keys'
import { LEASE_ID_MAX, type LeaseId } from './types'

export interface LessorOptions {
  /** Shortest TTL; shorter grants are raised to it. etcd's default works out to 2 s. */
  ttlSecondsMin: number
  /** Longest TTL; longer grants are refused (etcd: 9,000,000,000 s). */
  ttlSecondsMax: number
  /** Most leases held at once; grants beyond it are refused. */
  leasesMax: number
  /** How long after expired() reported a lease it is reported again if still not revoked. */
  expiredRetryMs: number
  /** Most leases one expired() call reports (etcd revokes at most 1000 leases per second). */
  expiredBatchMax: number
}

export const DEFAULT_LESSOR_OPTIONS: LessorOptions = {
  ttlSecondsMin: 2,
  ttlSecondsMax: 9_000_000_000,
  leasesMax: 1_000_000,
  expiredRetryMs: 3_000,
  expiredBatchMax: 1_000,
}

interface Lease {
  id: LeaseId
  ttlSeconds: number
  /** Primary only: when the lease expires; NaN when its countdown has not started. */
  expiryMs: number
  /** Primary only: the one heap entry of this lease that is current (others are stale). */
  dueMs: number
  keys: Set<KeyString>
}

export interface LeaseTimeToLive {
  id: LeaseId
  /** Seconds left (whole seconds, rounded down, 0 when due); the granted TTL when not primary. */
  ttlSeconds: number
  grantedTtlSeconds: number
  /** Attached keys in key order (only when asked for). */
  keys: Uint8Array[]
}

/** A min-heap entry: lease `id` is due at `atMs`; stale unless atMs is the lease's dueMs. */
interface Due {
  atMs: number
  id: LeaseId
}

export class Lessor {
  private readonly opts: LessorOptions
  private readonly leases = new Map<LeaseId, Lease>()
  /** The lease of every key that has one. */
  private readonly keyLease = new Map<KeyString, LeaseId>()
  private primary = false
  /** Primary only: leases whose countdown starts at the next call that knows the time. */
  private readonly unstarted = new Set<LeaseId>()
  /** Primary only: when each lease is next due (expiry, or retry after being reported). */
  private heap: Due[] = []

  constructor(opts: Partial<LessorOptions> = {}) {
    this.opts = { ...DEFAULT_LESSOR_OPTIONS, ...opts }
    const { ttlSecondsMin, ttlSecondsMax } = this.opts
    if (!(
      Number.isSafeInteger(ttlSecondsMin) &&
      ttlSecondsMin >= 1 &&
      ttlSecondsMin <= ttlSecondsMax
    )) {
      throw new RangeError(
        `lessor: ttlSecondsMin ${ttlSecondsMin} must be in [1, ${ttlSecondsMax}]`,
      )
    }
  }

  get isPrimary(): boolean {
    return this.primary
  }

  get size(): number {
    return this.leases.size
  }

  has(id: LeaseId): boolean {
    return this.leases.has(id)
  }

  /** The lease `key` is attached to, 0n for none. */
  leaseOf(key: KeyString): LeaseId {
    return this.keyLease.get(key) ?? 0n
  }

  /** The keys attached to a lease (none for an unknown lease), in no particular order. */
  keysOf(id: LeaseId): Iterable<KeyString> {
    return this.leases.get(id)?.keys ?? []
  }

  /** Granted TTL of a lease, or undefined. */
  ttlOf(id: LeaseId): number | undefined {
    return this.leases.get(id)?.ttlSeconds
  }

  // ---- replicated side: called by the store while applying entries -------------------------

  /** Throws the typed error a grant of (id, ttlSeconds) would meet; returns the clamped TTL. */
  checkGrant(id: LeaseId, ttlSeconds: number): number {
    if (id <= 0n || id > LEASE_ID_MAX) {
      throw new InvalidArgumentError(`lease id ${id} must be in [1, 2^63 - 1]`)
    }
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 0) {
      throw new InvalidArgumentError(`lease TTL ${ttlSeconds} must be a non-negative integer`)
    }
    if (ttlSeconds > this.opts.ttlSecondsMax) throw new LeaseTtlTooLargeError()
    if (this.leases.has(id)) throw new LeaseExistsError()
    if (this.leases.size >= this.opts.leasesMax) throw new LeasesLimitError(this.opts.leasesMax)
    return Math.max(ttlSeconds, this.opts.ttlSecondsMin)
  }

  /** Grants a lease (checkGrant first); returns the TTL it got. */
  grant(id: LeaseId, ttlSeconds: number): number {
    const ttl = this.checkGrant(id, ttlSeconds)
    this.leases.set(id, { id, ttlSeconds: ttl, expiryMs: NaN, dueMs: NaN, keys: new Set() })
    if (this.primary) this.unstarted.add(id)
    return ttl
  }

  /**
   * A free lease id at or above `from`, wrapping to 1 past the largest id (for grants with id 0;
   * deterministic on every node).
   */
  freeId(from: LeaseId): LeaseId {
    let id = from < 1n || from > LEASE_ID_MAX ? 1n : from
    while (this.leases.has(id)) id = id === LEASE_ID_MAX ? 1n : id + 1n
    return id
  }

  /** Removes a lease; returns its keys in key order, for the store to delete. */
  revoke(id: LeaseId): KeyString[] {
    const lease = this.leases.get(id)
    if (lease === undefined) throw new LeaseNotFoundError()
    this.leases.delete(id)
    this.unstarted.delete(id)
    const keys = [...lease.keys].sort()
    for (const key of keys) this.keyLease.delete(key)
    return keys
  }

  /** Attaches `key` to lease `id` (0n: to none), detaching it from its previous lease. */
  attach(key: KeyString, id: LeaseId): void {
    const previous = this.keyLease.get(key) ?? 0n
    if (previous === id) return
    if (previous !== 0n) {
      this.leases.get(previous)?.keys.delete(key)
      this.keyLease.delete(key)
    }
    if (id === 0n) return
    const lease = this.leases.get(id)
    if (lease === undefined)
      throw new Error(`lessor: attach ${JSON.stringify(key)} to missing lease ${id}`)
    lease.keys.add(key)
    this.keyLease.set(key, id)
  }

  /** Drops every lease and attachment (before a restore from a snapshot image). */
  reset(): void {
    this.leases.clear()
    this.keyLease.clear()
    this.unstarted.clear()
    this.heap = []
  }

  /** Re-creates a lease read back from disk (no checks beyond sanity: it was granted before). */
  load(id: LeaseId, ttlSeconds: number): void {
    if (this.leases.has(id)) throw new Error(`lessor: lease ${id} loaded twice`)
    this.leases.set(id, { id, ttlSeconds, expiryMs: NaN, dueMs: NaN, keys: new Set() })
    if (this.primary) this.unstarted.add(id)
  }

  // ---- leader side: expiry -----------------------------------------------------------------

  /** Become the primary lessor: every lease now expires at nowMs + its TTL. */
  promote(nowMs: number): void {
    this.primary = true
    this.unstarted.clear()
    this.heap = []
    for (const lease of this.leases.values()) {
      lease.expiryMs = nowMs + lease.ttlSeconds * 1000
      lease.dueMs = lease.expiryMs
    }
    this.rebuildHeap()
  }

  /** Stop being primary: leases no longer expire here (a new leader decides). */
  demote(): void {
    this.primary = false
    this.unstarted.clear()
    this.heap = []
    for (const lease of this.leases.values()) {
      lease.expiryMs = NaN
      lease.dueMs = NaN
    }
  }

  /** Keep-alive: the lease now expires at nowMs + TTL. Returns the TTL. */
  renew(id: LeaseId, nowMs: number): number {
    if (!this.primary) throw new NotPrimaryError()
    this.start(nowMs)
    const lease = this.leases.get(id)
    if (lease === undefined) throw new LeaseNotFoundError()
    if (lease.expiryMs <= nowMs) throw new LeaseExpiredError(id)
    lease.expiryMs = nowMs + lease.ttlSeconds * 1000
    this.schedule(lease, lease.expiryMs)
    return lease.ttlSeconds
  }

  /**
   * Leases whose time is up, for the leader to propose revoking (oldest expiry first, at most
   * expiredBatchMax). A lease reported here is reported again expiredRetryMs later if its revoke
   * has not been applied by then (the proposal may have been lost to a leader change).
   */
  expired(nowMs: number): LeaseId[] {
    if (!this.primary) return []
    this.start(nowMs)
    const out: LeaseId[] = []
    while (
      this.heap.length > 0 &&
      this.heap[0]!.atMs <= nowMs &&
      out.length < this.opts.expiredBatchMax
    ) {
      const due = this.pop()
      const lease = this.leases.get(due.id)
      // Stale entries: the lease is gone, or was renewed or reported since this entry was made.
      if (lease === undefined || lease.dueMs !== due.atMs) continue
      out.push(lease.id)
      this.schedule(lease, nowMs + this.opts.expiredRetryMs)
    }
    // Renewals leave stale entries behind; rebuild the heap when they outnumber the leases.
    if (this.heap.length > 2 * this.leases.size + 1024) this.rebuildHeap()
    return out
  }

  timeToLive(id: LeaseId, nowMs: number, withKeys = false): LeaseTimeToLive {
    const lease = this.leases.get(id)
    if (lease === undefined) throw new LeaseNotFoundError()
    if (this.primary) this.start(nowMs)
    const ttlSeconds = this.primary
      ? Math.max(0, Math.floor((lease.expiryMs - nowMs) / 1000))
      : lease.ttlSeconds
    const keys = withKeys ? [...lease.keys].sort().map(keyBytes) : []
    return { id, ttlSeconds, grantedTtlSeconds: lease.ttlSeconds, keys }
  }

  /** Ids of all leases, ascending. */
  list(): LeaseId[] {
    return [...this.leases.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  }

  /** Starts the countdown of leases granted while primary since the last timed call. */
  private start(nowMs: number): void {
    if (this.unstarted.size === 0) return
    for (const id of this.unstarted) {
      const lease = this.leases.get(id)
      if (lease === undefined) continue
      lease.expiryMs = nowMs + lease.ttlSeconds * 1000
      this.schedule(lease, lease.expiryMs)
    }
    this.unstarted.clear()
  }

  private schedule(lease: Lease, atMs: number): void {
    lease.dueMs = atMs
    this.push({ atMs, id: lease.id })
  }

  /** A heap of exactly the current entries (after promote, or when stale ones pile up). */
  private rebuildHeap(): void {
    this.heap = []
    for (const lease of this.leases.values()) {
      if (Number.isNaN(lease.dueMs)) continue
      this.heap.push({ atMs: lease.dueMs, id: lease.id })
    }
    this.heap.sort((a, b) => a.atMs - b.atMs)
  }

  private push(due: Due): void {
    const heap = this.heap
    heap.push(due)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (heap[parent]!.atMs <= due.atMs) break
      heap[i] = heap[parent]!
      i = parent
    }
    heap[i] = due
  }

  private pop(): Due {
    const heap = this.heap
    const top = heap[0]!
    const last = heap.pop()!
    if (heap.length > 0) {
      let i = 0
      for (;;) {
        const left = 2 * i + 1
        if (left >= heap.length) break
        const right = left + 1
        const child = right < heap.length && heap[right]!.atMs < heap[left]!.atMs ? right : left
        if (heap[child]!.atMs >= last.atMs) break
        heap[i] = heap[child]!
        i = child
      }
      heap[i] = last
    }
    return top
  }
}
