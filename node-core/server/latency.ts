/**
 * Write latencies of the last moments, for the dashboard's latency chart: each write's time from
 * proposal to apply on the node that proposed it, kept for `windowMs` and summarised as p50 and
 * p99 on demand. Bounded: past `capacity` samples in one window the oldest are dropped (a busy
 * node's percentiles then come from its newest writes, which is what the chart wants anyway).
 */
export interface LatencySummary {
  count: number
  p50Ms: number
  p99Ms: number
}

export class LatencyWindow {
  private readonly atMs: number[] = []
  private readonly ms: number[] = []

  constructor(
    private readonly windowMs = 1_000,
    private readonly capacity = 10_000,
  ) {}

  add(atMs: number, latencyMs: number): void {
    this.atMs.push(atMs)
    this.ms.push(latencyMs)
    if (this.ms.length > this.capacity) {
      this.atMs.shift()
      this.ms.shift()
    }
  }

  summary(nowMs: number): LatencySummary {
    let drop = 0
    while (drop < this.atMs.length && this.atMs[drop]! < nowMs - this.windowMs) drop++
    if (drop > 0) {
      this.atMs.splice(0, drop)
      this.ms.splice(0, drop)
    }
    if (this.ms.length === 0) return { count: 0, p50Ms: 0, p99Ms: 0 }
    const sorted = [...this.ms].sort((a, b) => a - b)
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
    return { count: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99) }
  }
}
