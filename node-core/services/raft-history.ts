/**
 * The timeline's memory: once a second, a sample of every node of the local cluster (role,
 * term, log positions, cumulative counters, write latency), kept for HISTORY_SAMPLES_MAX
 * seconds. It records from the moment the host starts, so a window opened later can scrub back
 * through what happened before it opened. Rates (entries and messages per second) are the
 * differences between samples; the window computes them.
 */
import type { RaftNodeSample, RaftSample } from '../../contract'
import type { SupervisedNode } from './raft'

/** Fifteen minutes at one sample a second. */
export const HISTORY_SAMPLES_MAX = 900
export const SAMPLE_EVERY_MS = 1_000

function sampleNode(n: SupervisedNode): RaftNodeSample {
  const s = n.status
  const down = n.state !== 'running' || !s
  return {
    name: n.name,
    role: n.state === 'paused' ? 'paused' : down ? 'down' : s.role,
    term: s?.term ?? 0,
    lastIndex: s?.lastIndex ?? 0,
    commit: s?.commit ?? 0,
    applied: s?.applied ?? 0,
    proposals: s?.proposals ?? 0,
    messages: (s?.messagesSent ?? 0) + (s?.messagesReceived ?? 0),
    writes: down ? 0 : (s?.writeLatency.count ?? 0),
    latencyP50Ms: down ? 0 : (s?.writeLatency.p50Ms ?? 0),
    latencyP99Ms: down ? 0 : (s?.writeLatency.p99Ms ?? 0),
  }
}

export class RaftHistory {
  private readonly samples: RaftSample[] = []
  private readonly listeners = new Set<(s: RaftSample) => void>()
  private timer: NodeJS.Timeout | null = null

  constructor(private readonly list: () => SupervisedNode[]) {}

  start(everyMs = SAMPLE_EVERY_MS): this {
    this.timer ??= setInterval(() => this.sample(), everyMs)
    this.timer.unref()
    return this
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  sample(atMs = Date.now()): RaftSample {
    const s: RaftSample = { atMs, nodes: this.list().map(sampleNode) }
    this.samples.push(s)
    if (this.samples.length > HISTORY_SAMPLES_MAX) this.samples.shift()
    for (const l of this.listeners) l(s)
    return s
  }

  after(afterMs: number): RaftSample[] {
    const first = this.samples.findIndex((s) => s.atMs > afterMs)
    return first < 0 ? [] : this.samples.slice(first)
  }

  onSample(listener: (s: RaftSample) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}
