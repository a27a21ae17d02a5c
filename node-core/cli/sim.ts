/**
 * `npm run sim -- --seeds N [--start S] [--steps K] [--nodes 3|5] [--verbose]`
 *
 * Runs the deterministic simulator over seeds S .. S+N-1 and prints a summary line; on any
 * violation prints the seed, the invariant, the last events and the command that reproduces
 * it, and exits 1.
 */
import { parseArgs } from 'node:util'
import { formatFailure, formatSummary, runSeeds } from '../sim/run'

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`sim: --${name} must be a non-negative integer, got ${JSON.stringify(raw)}`)
    process.exit(2)
  }
  return n
}

function main(): void {
  let values
  try {
    ;({ values } = parseArgs({
      options: {
        seeds: { type: 'string' },
        start: { type: 'string' },
        steps: { type: 'string' },
        nodes: { type: 'string' },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }))
  } catch (err) {
    console.error(`sim: ${(err as Error).message}`)
    process.exit(2)
  }
  if (values.help) {
    console.log('usage: npm run sim -- --seeds N [--start S] [--steps K] [--nodes 3|5] [--verbose]')
    return
  }
  const seeds = positiveInt('seeds', values.seeds, 100)
  const start = positiveInt('start', values.start, 1)
  const steps = positiveInt('steps', values.steps, 12_000)
  const nodes = values.nodes === undefined ? undefined : positiveInt('nodes', values.nodes, 3)
  if (nodes !== undefined && (nodes < 1 || nodes > 9)) {
    console.error(`sim: --nodes must be between 1 and 9, got ${nodes}`)
    process.exit(2)
  }

  const began = performance.now()
  let done = 0
  const summary = runSeeds({
    seeds,
    start,
    steps,
    ...(nodes === undefined ? {} : { nodes }),
    onResult(result) {
      done++
      if (result.violation) console.log(formatFailure(result, steps, nodes))
      else if (values.verbose) {
        console.log(
          `seed ${result.seed}: ok, ${result.steps} steps, ${result.elections} elections, ${result.virtualMs} virtual ms`,
        )
      }
      if (process.stderr.isTTY && done % 50 === 0) {
        process.stderr.write(`\r${done}/${seeds} seeds`)
      }
    },
  })
  if (process.stderr.isTTY && seeds >= 50) process.stderr.write('\r')
  console.log(formatSummary(summary, performance.now() - began))
  if (summary.failures.length > 0) process.exitCode = 1
}

main()
