// The simulator as CI runs it: at least 500 seeds (SIM_SEEDS), alternating 3- and 5-node
// clusters, every invariant checked. The seeds are shared between test files, each running one
// contiguous part, because vitest runs files (not tests) in parallel.
import { expect, it } from 'vitest'
import { formatFailure, formatSummary, runSeeds } from '../../../node-core/sim/run'

const seeds = Number(process.env['SIM_SEEDS'] ?? 500)
const start = Number(process.env['SIM_START'] ?? 1)
const steps = Number(process.env['SIM_STEPS'] ?? 12_000)

/** Declares the test of part `part` (0-based) of `parts` equal shares of the seeds. */
export function seedShareTest(part: number, parts: number): void {
  const first = start + Math.floor((seeds * part) / parts)
  const count = start + Math.floor((seeds * (part + 1)) / parts) - first
  it(`keeps every invariant over seeds ${first}..${first + count - 1}`, () => {
    const began = performance.now()
    const summary = runSeeds({ seeds: count, start: first, steps })
    console.log(formatSummary(summary, performance.now() - began))
    const failures = summary.failures.map((f) => formatFailure(f, steps))
    expect(failures, failures.join('\n\n')).toEqual([])
    expect(summary.elections).toBeGreaterThan(count)
    expect(summary.opsOk).toBeGreaterThan(count * 50)
  }, 600_000)
}
