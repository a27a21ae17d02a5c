/**
 * What the Cluster view charts from etcd's Prometheus readings: per-second rates of counters
 * and quantiles of histograms over the interval between two readings (as PromQL's rate() and
 * histogram_quantile() over that window), one series per member, aligned on the readings' times.
 */
import type { MemberMetrics, MetricHistogram, MetricsSample } from '../../../contract'

/** Per second between two readings of a counter; null across a restart (it went down) or a gap. */
export function rate(prev: number | null, next: number | null, seconds: number): number | null {
  if (prev === null || next === null || seconds <= 0 || next < prev) return null
  return (next - prev) / seconds
}

/**
 * The q-quantile of what a histogram observed between two readings, interpolated linearly
 * inside the bucket it falls in; null when nothing was observed (or the member restarted).
 */
export function histogramQuantile(
  q: number,
  prev: MetricHistogram | null,
  next: MetricHistogram | null,
): number | null {
  if (!prev || !next) return null
  const total = next.count - prev.count
  if (total <= 0) return null
  const before = new Map(prev.buckets)
  const rank = q * total
  let lowerBound = 0
  let lowerCount = 0
  for (const [le, cumulative] of next.buckets) {
    const count = cumulative - (before.get(le) ?? 0)
    if (count >= rank) {
      // In the +Inf bucket: the highest finite bound is the best answer there is.
      if (le === Infinity) return lowerBound
      const inBucket = count - lowerCount
      return inBucket <= 0 ? le : lowerBound + ((le - lowerBound) * (rank - lowerCount)) / inBucket
    }
    lowerBound = le
    lowerCount = count
  }
  return lowerBound
}

/** One value per member from two consecutive readings of it. */
export type Pick = (prev: MemberMetrics, next: MemberMetrics, seconds: number) => number | null

/**
 * uPlot's aligned data: [x in seconds, one array per member in `names`], a point per reading
 * after the first, each derived from the reading `span` before it (or the first one: a window
 * like PromQL's [30s], so rare observations such as etcd's peer probes still show); a member
 * missing from a reading is a gap.
 */
export function memberSeries(
  samples: MetricsSample[],
  names: string[],
  pick: Pick,
  span = 1,
): (number | null)[][] {
  const xs: number[] = []
  const ys = names.map(() => [] as (number | null)[])
  for (let i = 1; i < samples.length; i++) {
    const a = samples[Math.max(0, i - span)]!
    const b = samples[i]!
    const seconds = (b.atMs - a.atMs) / 1000
    xs.push(b.atMs / 1000)
    names.forEach((name, j) => {
      const prev = a.members.find((m) => m.name === name)
      const next = b.members.find((m) => m.name === name)
      ys[j]!.push(prev && next && !prev.error && !next.error ? pick(prev, next, seconds) : null)
    })
  }
  return [xs, ...ys]
}
