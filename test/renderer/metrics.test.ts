// Rates and quantiles from two Prometheus readings, as the Cluster view charts them: a counter
// per second, nothing across a restart, a histogram's p99 interpolated within its bucket (as
// histogram_quantile does), and one aligned series per member with gaps where one is missing.
import { describe, expect, it } from 'vitest'
import type { MemberMetrics, MetricsSample } from '../../contract'
import { histogramQuantile, memberSeries, rate } from '../../renderer/src/lib/metrics'

const h = (buckets: [number, number][]) => ({
  buckets,
  count: buckets.at(-1)![1],
  sum: 0,
})

const member = (name: string, committed: number, error?: string): MemberMetrics => ({
  name,
  endpoint: `${name}:2379`,
  hasLeader: 1,
  leaderChanges: 1,
  proposalsCommitted: committed,
  proposalsApplied: committed,
  proposalsPending: 0,
  proposalsFailed: 0,
  peerRtt: null,
  walFsync: null,
  ...(error ? { error } : {}),
})

describe('metrics', () => {
  it('turns a counter into a rate, and refuses one across a restart', () => {
    expect(rate(100, 160, 2)).toBe(30)
    expect(rate(160, 5, 2)).toBeNull()
    expect(rate(null, 5, 2)).toBeNull()
    expect(rate(1, 5, 0)).toBeNull()
  })

  it('takes a quantile over the interval, interpolating inside the bucket', () => {
    const prev = h([
      [0.001, 10],
      [0.002, 10],
      [0.004, 10],
      [Infinity, 10],
    ])
    // 100 new observations: 50 under 1 ms, 40 in (1, 2] ms, 10 in (2, 4] ms.
    const next = h([
      [0.001, 60],
      [0.002, 100],
      [0.004, 110],
      [Infinity, 110],
    ])
    expect(histogramQuantile(0.5, prev, next)).toBeCloseTo(0.001)
    expect(histogramQuantile(0.7, prev, next)).toBeCloseTo(0.0015)
    expect(histogramQuantile(0.99, prev, next)).toBeCloseTo(0.0038)
    expect(histogramQuantile(0.99, next, next)).toBeNull()
    // Everything past the last finite bound: that bound.
    const over = h([
      [0.001, 10],
      [Infinity, 30],
    ])
    expect(histogramQuantile(0.99, prev, over)).toBe(0.001)
  })

  it('aligns one series per member, a gap where a member is missing or failed', () => {
    const samples: MetricsSample[] = [
      { atMs: 1000, members: [member('e1', 0), member('e2', 0)] },
      { atMs: 3000, members: [member('e1', 20), member('e2', 0, 'no metrics')] },
      { atMs: 5000, members: [member('e1', 60)] },
    ]
    const data = memberSeries(samples, ['e1', 'e2'], (a, b, s) =>
      rate(a.proposalsCommitted, b.proposalsCommitted, s),
    )
    expect(data).toEqual([
      [3, 5],
      [10, 20],
      [null, null],
    ])
    // Over a window of two readings: each point from the reading two before (or the first).
    const windowed = memberSeries(
      samples,
      ['e1'],
      (a, b, s) => rate(a.proposalsCommitted, b.proposalsCommitted, s),
      2,
    )
    expect(windowed).toEqual([
      [3, 5],
      [10, 15],
    ])
  })
})
