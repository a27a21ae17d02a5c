/**
 * The timeline's arithmetic, as plain functions (tested on their own): per-second rates from
 * the once-a-second samples, and each node's lane of role segments.
 *
 * Counters are cumulative per process: a restart starts them over, so a counter that went down
 * counts as no activity in that second rather than a negative rate.
 */
import type { RaftNodeSample, RaftSample } from '../../../../contract'

export interface Rates {
  /** Seconds since the epoch (uPlot's x). */
  x: number[]
  proposals: number[]
  committed: number[]
  applied: number[]
  messages: number[]
  latencyP50Ms: number[]
  latencyP99Ms: number[]
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)
const maxOf = (xs: number[]) => (xs.length === 0 ? 0 : Math.max(...xs))

/** Rates between consecutive samples, stamped at the later one. */
export function rates(samples: RaftSample[]): Rates {
  const r: Rates = {
    x: [],
    proposals: [],
    committed: [],
    applied: [],
    messages: [],
    latencyP50Ms: [],
    latencyP99Ms: [],
  }
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!
    const b = samples[i]!
    const dt = (b.atMs - a.atMs) / 1000
    if (dt <= 0) continue
    const before = new Map(a.nodes.map((n) => [n.name, n]))
    const delta = (pick: (n: RaftNodeSample) => number) =>
      b.nodes.map((n) => {
        const p = before.get(n.name)
        return p ? Math.max(0, pick(n) - pick(p)) : 0
      })
    const running = b.nodes.filter((n) => n.role !== 'down' && n.role !== 'paused')
    const gained = (pick: (n: RaftNodeSample) => number) =>
      Math.max(0, maxOf(b.nodes.map(pick)) - maxOf(a.nodes.map(pick)))
    r.x.push(b.atMs / 1000)
    r.proposals.push(round(sum(delta((n) => n.proposals)) / dt))
    r.committed.push(round(gained((n) => n.commit) / dt))
    r.applied.push(round(gained((n) => n.applied) / dt))
    r.messages.push(round(sum(delta((n) => n.messages)) / dt))
    const writing = running.filter((n) => n.writes > 0)
    r.latencyP50Ms.push(maxOf(writing.map((n) => n.latencyP50Ms)))
    r.latencyP99Ms.push(maxOf(writing.map((n) => n.latencyP99Ms)))
  }
  return r
}

const round = (v: number) => Math.round(v * 10) / 10

export interface Segment {
  fromMs: number
  toMs: number
  role: RaftNodeSample['role']
  term: number
}

/** Each node's role over [fromMs, toMs], as segments of one role and term. */
export function lanes(samples: RaftSample[], fromMs: number, toMs: number): Map<string, Segment[]> {
  const out = new Map<string, Segment[]>()
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!
    const end = samples[i + 1]?.atMs ?? s.atMs + 1000
    if (end < fromMs || s.atMs > toMs) continue
    for (const n of s.nodes) {
      const list = out.get(n.name) ?? []
      const last = list.at(-1)
      const from = Math.max(fromMs, s.atMs)
      const to = Math.min(toMs, end)
      if (last && last.role === n.role && last.term === n.term && last.toMs >= from) last.toMs = to
      else list.push({ fromMs: from, toMs: to, role: n.role, term: n.term })
      out.set(n.name, list)
    }
  }
  return out
}
