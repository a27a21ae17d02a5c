/**
 * Time as the server reads it and waits on, injected so that timeouts and lease expiry can be
 * tested in virtual time. Milliseconds; the system clock by default.
 */
export interface Clock {
  now(): number
  /** Calls `fn` once `ms` of this clock's time have passed; the returned function cancels it. */
  after(ms: number, fn: () => void): () => void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, ms)
    return () => clearTimeout(timer)
  },
}

interface ManualTimer {
  at: number
  seq: number
  fn: () => void
}

/**
 * A clock that moves only when told to: `advance` runs every timer that falls due, in the order
 * of their times (registration order on a tie), with `now()` reading each one's time as it runs.
 */
export class ManualClock implements Clock {
  private ms: number
  private seq = 0
  private timers: ManualTimer[] = []

  constructor(startMs = 1_000_000) {
    this.ms = startMs
  }

  now(): number {
    return this.ms
  }

  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.ms + Math.max(0, ms), seq: this.seq++, fn }
    this.timers.push(timer)
    return () => {
      this.timers = this.timers.filter((t) => t !== timer)
    }
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.timers.length
  }

  advance(ms: number): void {
    const end = this.ms + ms
    for (;;) {
      let next: ManualTimer | undefined
      for (const t of this.timers) {
        if (t.at <= end && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) {
          next = t
        }
      }
      if (!next) break
      this.timers = this.timers.filter((t) => t !== next)
      this.ms = Math.max(this.ms, next.at)
      next.fn()
    }
    this.ms = end
  }
}
