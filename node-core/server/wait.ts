/**
 * Requests waiting for their entry to be applied (or their read to be served), keyed by request
 * id, each with a deadline. Bounded: registering beyond `pendingMax` throws TooManyRequests, so a
 * flood of clients meets a clear error instead of an unbounded queue.
 */
import { systemClock, type Clock } from '../kernel/clock'
import { LimitError, RaftdeskError } from '../errors'

export class RequestTimeoutError extends RaftdeskError {
  constructor(what: string, timeoutMs: number) {
    super('TIMEOUT', `${what} timed out after ${timeoutMs} ms`)
  }
}

export class TooManyRequestsError extends LimitError {
  constructor(pendingMax: number) {
    super('TOO_MANY_REQUESTS', `too many requests in flight (limit ${pendingMax})`)
  }
}

interface Pending<T> {
  resolve: (value: T) => void
  reject: (err: unknown) => void
  cancelTimer: () => void
}

export class WaitRegistry<T> {
  private readonly pending = new Map<number, Pending<T>>()

  constructor(
    private readonly pendingMax: number,
    private readonly what: string,
    /** What deadlines are counted in (the node's clock). */
    private readonly clock: Clock = systemClock,
  ) {}

  get size(): number {
    return this.pending.size
  }

  /**
   * Waits for `id` to be resolved or rejected, at most `timeoutMs`; then rejects with what
   * `onTimeout` returns (by default a RequestTimeoutError), decided at that moment.
   */
  register(id: number, timeoutMs: number, onTimeout?: () => unknown): Promise<T> {
    if (this.pending.size >= this.pendingMax) throw new TooManyRequestsError(this.pendingMax)
    if (this.pending.has(id)) throw new Error(`${this.what} ${id} registered twice`)
    return new Promise<T>((resolve, reject) => {
      const cancelTimer = this.clock.after(timeoutMs, () => {
        this.pending.delete(id)
        let err: unknown = new RequestTimeoutError(this.what, timeoutMs)
        try {
          if (onTimeout) err = onTimeout()
        } catch {
          // The request is answered whatever happens: with the plain timeout.
        }
        reject(err)
      })
      this.pending.set(id, { resolve, reject, cancelTimer })
    })
  }

  has(id: number): boolean {
    return this.pending.has(id)
  }

  resolve(id: number, value: T): boolean {
    const p = this.pending.get(id)
    if (!p) return false
    this.pending.delete(id)
    p.cancelTimer()
    p.resolve(value)
    return true
  }

  reject(id: number, err: unknown): boolean {
    const p = this.pending.get(id)
    if (!p) return false
    this.pending.delete(id)
    p.cancelTimer()
    p.reject(err)
    return true
  }

  rejectAll(err: unknown): void {
    for (const id of [...this.pending.keys()]) this.reject(id, err)
  }
}
