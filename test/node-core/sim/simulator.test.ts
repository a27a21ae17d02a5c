// Proof that the simulator's checks bite, with defects planted in the simulated server (the raft
// core itself is broken on purpose only by hand; see the README's sim section), and that a seed
// reproduces. The 500 seeds CI runs are in simulator-seeds-*.test.ts, one half per file so that
// both cores work on them.
import { describe, expect, it } from 'vitest'
import { formatFailure, runSeeds } from '../../../node-core/sim/run'
import { Simulation } from '../../../node-core/sim/world'

describe('simulator', () => {
  it('is deterministic: a seed gives the same run twice', () => {
    const a = new Simulation({ seed: 77, steps: 5000 }).run()
    const b = new Simulation({ seed: 77, steps: 5000 }).run()
    expect(b).toEqual(a)
  })

  // A forgotten vote only bites when a voter crashes between two vote requests of one term, a
  // window of milliseconds; this configuration (no pre-vote, near-equal timeouts, frequent power
  // loss right after writes) opens it often enough to be found within a few hundred seeds.
  const voteHunt = {
    preVote: false,
    electionTicksMin: 10,
    electionTicksMax: 11,
    crashAfterPersistRate: 0.5,
    flowControl: 'default' as const,
  }
  const huntSeeds = 1000
  const huntSteps = 3000

  it('catches a server that forgets its vote', () => {
    const summary = runSeeds({
      seeds: huntSeeds,
      start: 1,
      steps: huntSteps,
      nodes: 5,
      sim: { ...voteHunt, defects: { forgetVote: true } },
    })
    const kinds = summary.failures.map((f) => f.violation!.invariant)
    console.log(
      `forgotten vote caught by ${kinds.length} of ${huntSeeds} seeds: ${kinds.join(', ')}`,
    )
    expect(kinds.length, 'no seed caught the forgotten vote').toBeGreaterThan(0)
    expect(
      kinds.every(
        (k) =>
          k === 'election-safety' ||
          k === 'lost-write' ||
          k === 'linearizability' ||
          k === 'state-machine-safety',
      ),
    ).toBe(true)
  }, 120_000)

  it('finds nothing wrong in the same hunting configuration without the defect', () => {
    const summary = runSeeds({ seeds: 200, start: 1, steps: huntSteps, nodes: 5, sim: voteHunt })
    expect(summary.failures.map((f) => formatFailure(f, huntSteps))).toEqual([])
  }, 120_000)

  it('catches a server that acknowledges entries before they are durable', () => {
    const summary = runSeeds({
      seeds: 60,
      start: 1,
      steps: 12_000,
      sim: { defects: { sendBeforePersist: true } },
    })
    expect(summary.failures.length, 'no seed caught the early acknowledgement').toBeGreaterThan(0)
  })

  it('prints a reproducible failure report', () => {
    const summary = runSeeds({
      seeds: huntSeeds,
      start: 1,
      steps: huntSteps,
      nodes: 5,
      sim: { ...voteHunt, defects: { forgetVote: true } },
    })
    const failure = summary.failures[0]!
    const text = formatFailure(failure, huntSteps, 5)
    expect(text).toContain(`VIOLATION seed ${failure.seed}`)
    expect(text).toContain(
      `npm run sim -- --seeds 1 --start ${failure.seed} --steps ${huntSteps} --nodes 5`,
    )
    const again = new Simulation({
      ...voteHunt,
      seed: failure.seed,
      steps: huntSteps,
      nodes: 5,
      defects: { forgetVote: true },
    }).run()
    expect(again.violation).toEqual(failure.violation)
  }, 120_000)
})
