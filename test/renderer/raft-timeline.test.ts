// The timeline's arithmetic: per-second rates from cumulative samples (a restart's counters
// going back to zero is no activity, not a negative rate) and role lanes merged per term.
import { describe, expect, it } from 'vitest'
import type { RaftNodeSample, RaftSample } from '../../contract'
import { lanes, rates } from '../../renderer/src/features/raft/timeline'

const node = (name: string, over: Partial<RaftNodeSample> = {}): RaftNodeSample => ({
  name,
  role: 'follower',
  term: 2,
  lastIndex: 0,
  commit: 0,
  applied: 0,
  proposals: 0,
  messages: 0,
  writes: 0,
  latencyP50Ms: 0,
  latencyP99Ms: 0,
  ...over,
})
const at = (atMs: number, nodes: RaftNodeSample[]): RaftSample => ({ atMs, nodes })

describe('timeline rates', () => {
  it('turns cumulative counters into per-second rates', () => {
    const r = rates([
      at(1000, [
        node('n1', { role: 'leader', commit: 10, applied: 10, proposals: 5, messages: 100 }),
        node('n2', { commit: 9, messages: 50 }),
      ]),
      at(3000, [
        node('n1', {
          role: 'leader',
          commit: 30,
          applied: 28,
          proposals: 25,
          messages: 300,
          writes: 20,
          latencyP50Ms: 2,
          latencyP99Ms: 9,
        }),
        node('n2', { commit: 29, messages: 150, writes: 0, latencyP50Ms: 50 }),
      ]),
    ])
    expect(r.x).toEqual([3])
    expect(r.proposals).toEqual([10])
    expect(r.committed).toEqual([10])
    expect(r.applied).toEqual([9])
    expect(r.messages).toEqual([150])
    // Only nodes that wrote in that second count toward latency.
    expect(r.latencyP50Ms).toEqual([2])
    expect(r.latencyP99Ms).toEqual([9])
  })

  it('counts a restarted node’s counters starting over as no activity', () => {
    const r = rates([
      at(0, [node('n1', { proposals: 500, messages: 900 })]),
      at(1000, [node('n1', { proposals: 3, messages: 10 })]),
    ])
    expect(r.proposals).toEqual([0])
    expect(r.messages).toEqual([0])
  })
})

describe('timeline lanes', () => {
  it('merges seconds of one role and term, and splits on a change of either', () => {
    const samples = [0, 1000, 2000, 3000, 4000].map((ms, i) =>
      at(ms, [
        node(
          'n1',
          i < 2 ? { role: 'leader', term: 2 } : i < 3 ? { role: 'down', term: 2 } : { term: 3 },
        ),
      ]),
    )
    const l = lanes(samples, 0, 5000).get('n1')!
    expect(l.map((s) => [s.role, s.term, s.fromMs, s.toMs])).toEqual([
      ['leader', 2, 0, 2000],
      ['down', 2, 2000, 3000],
      ['follower', 3, 3000, 5000],
    ])
  })

  it('clips segments to the window', () => {
    const samples = [0, 1000, 2000].map((ms) => at(ms, [node('n1')]))
    const l = lanes(samples, 1500, 2500).get('n1')!
    expect(l).toEqual([{ fromMs: 1500, toMs: 2500, role: 'follower', term: 2 }])
  })
})
