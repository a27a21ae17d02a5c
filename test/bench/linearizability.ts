// Benchmark of the linearizability checker (node-core/sim/linearizability.ts).
//
//   npx tsx test/bench/linearizability.ts [--seed N] [--runs N]
//
// Generates histories from a sequential execution with random concurrency windows
// (node-core/sim/lin-gen.ts) and prints, per scenario, the median and worst wall time of
// checkLinearizability over the runs, with the most search configurations it entered in a run.
// The headline scenario is the one the simulator needs: 5,000 operations over 10 keys from 8
// clients. "One bad read" makes a read late in the history return a value never written.
import { createPrng } from '../../node-core/raft/prng'
import type { GenOptions } from '../../node-core/sim/lin-gen'
import { generateLinearizableHistory } from '../../node-core/sim/lin-gen'
import type { KvOperation } from '../../node-core/sim/linearizability'
import { UNKNOWN_OUTPUT, checkLinearizability } from '../../node-core/sim/linearizability'

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0) return fallback
  const value = Number(process.argv[i + 1])
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${name} needs an integer`)
  return value
}

const seed = arg('seed', 1)
const runs = arg('runs', 7)

interface Scenario {
  name: string
  shape: Partial<GenOptions>
  expect: true | false
}

const scenarios: Scenario[] = [
  {
    name: '5,000 ops, 10 keys, 8 clients, no unknown outcomes',
    shape: { ops: 5000, keys: 10, clients: 8, latencyMsMax: 8, unknownRate: 0 },
    expect: true,
  },
  {
    name: '5,000 ops, 10 keys, 8 clients, 2% unknown outcomes',
    shape: { ops: 5000, keys: 10, clients: 8, latencyMsMax: 8, unknownRate: 0.02 },
    expect: true,
  },
  {
    name: '5,000 ops, 10 keys, 8 clients, 2% unknown, one bad read',
    shape: { ops: 5000, keys: 10, clients: 8, latencyMsMax: 8, unknownRate: 0.02 },
    expect: false,
  },
  {
    name: '5,000 ops, 1 key, 8 clients, 2% unknown outcomes',
    shape: { ops: 5000, keys: 1, clients: 8, latencyMsMax: 8, unknownRate: 0.02 },
    expect: true,
  },
  {
    // Refuting costs most: every order before the bad read is ruled out, on one hot key.
    name: '1,000 ops, 1 key, 8 clients, 2% unknown, one bad read',
    shape: { ops: 1000, keys: 1, clients: 8, latencyMsMax: 8, unknownRate: 0.02 },
    expect: false,
  },
  {
    name: '20,000 ops, 10 keys, 16 clients, 1% unknown outcomes',
    shape: { ops: 20000, keys: 10, clients: 16, latencyMsMax: 12, unknownRate: 0.01 },
    expect: true,
  },
]

/** Makes a read late in the history return a value that is never written. */
function breakOneRead(history: KvOperation[]): void {
  for (let i = Math.floor(history.length * 0.8); i < history.length; i++) {
    const op = history[i]
    if (op.input.kind === 'get' && op.output !== UNKNOWN_OUTPUT) {
      history[i] = { ...op, output: { kind: 'get', value: 'never-written' } }
      return
    }
  }
  throw new Error('no read to break')
}

console.log(
  `linearizability bench: seed ${seed}, ${runs} runs per scenario, node ${process.version}`,
)
for (const scenario of scenarios) {
  const times: number[] = []
  let states = 0
  let ops = 0
  for (let run = 0; run < runs; run++) {
    const { history } = generateLinearizableHistory(createPrng(seed + run), scenario.shape)
    if (!scenario.expect) breakOneRead(history)
    ops = history.length
    const start = performance.now()
    const result = checkLinearizability(history)
    times.push(performance.now() - start)
    if (result.ok !== scenario.expect) {
      throw new Error(`${scenario.name}: expected ok=${scenario.expect}, got ok=${result.ok}`)
    }
    states = Math.max(states, result.stats.statesExplored)
  }
  times.sort((a, b) => a - b)
  const median = times[Math.floor(times.length / 2)]
  const worst = times[times.length - 1]
  console.log(
    `${scenario.name.padEnd(58)} ${ops} ops  median ${median.toFixed(1)} ms  ` +
      `worst ${worst.toFixed(1)} ms  states <= ${states}`,
  )
}
