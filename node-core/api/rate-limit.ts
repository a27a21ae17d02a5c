/**
 * The per-client rate limit (`--rate-limit-rps`, `--rate-limit-burst`; off by default): a token
 * bucket per client, keyed by the authenticated user when there is one, else by the connection's
 * peer address. Each call, and each stream opened, takes one token; a client without one is
 * answered RESOURCE_EXHAUSTED "etcdserver: too many requests" (which etcd clients back off and
 * retry) while other clients go on.
 *
 * Bounded: at most `clientsMax` buckets are kept; beyond that the one used least recently goes
 * (a bucket idle for burst / rps seconds is full anyway, so forgetting it changes nothing).
 * The clock is injected, so tests drive time.
 */
import { EtcdServerError } from '../kernel/etcd-errors'

export interface RateLimitOptions {
  /** Tokens added per second, per client. */
  rps: number
  /** Tokens a client may hold (calls it may make at once after being idle). */
  burst: number
  clientsMax?: number
  nowMs?: () => number
}

interface Bucket {
  tokens: number
  atMs: number
}

export const RATE_LIMIT_CLIENTS_MAX = 10_000

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>()
  private readonly clientsMax: number
  private readonly nowMs: () => number

  constructor(private readonly options: RateLimitOptions) {
    if (!(options.rps > 0) || !Number.isFinite(options.rps)) {
      throw new RangeError(`rate limit: rps must be a positive number, got ${options.rps}`)
    }
    if (!Number.isInteger(options.burst) || options.burst < 1) {
      throw new RangeError(`rate limit: burst must be a positive integer, got ${options.burst}`)
    }
    this.clientsMax = options.clientsMax ?? RATE_LIMIT_CLIENTS_MAX
    this.nowMs = options.nowMs ?? Date.now
  }

  /** Takes a token for `client`, or throws TOO_MANY_REQUESTS. */
  take(client: string): void {
    const now = this.nowMs()
    let bucket = this.buckets.get(client)
    if (bucket) {
      this.buckets.delete(client) // re-inserted below: the map's order is least recent first
      const refill = ((now - bucket.atMs) / 1000) * this.options.rps
      bucket.tokens = Math.min(this.options.burst, bucket.tokens + refill)
      bucket.atMs = now
    } else {
      bucket = { tokens: this.options.burst, atMs: now }
      if (this.buckets.size >= this.clientsMax) {
        this.buckets.delete(this.buckets.keys().next().value!)
      }
    }
    this.buckets.set(client, bucket)
    if (bucket.tokens < 1) {
      throw new EtcdServerError(
        'TOO_MANY_REQUESTS',
        `client ${client} is over ${this.options.rps} requests/s (burst ${this.options.burst})`,
      )
    }
    bucket.tokens -= 1
  }

  get clients(): number {
    return this.buckets.size
  }
}
