// Randomised tests of the linearizability checker. Each run picks a seed and prints it;
// SEED=<n> npx vitest run test/node-core/sim/linearizability-random.test.ts reproduces a run.
import { describe, expect, it } from 'vitest'
import type { Prng } from '../../../node-core/raft/prng'
import { createPrng } from '../../../node-core/raft/prng'
import type { GenOptions } from '../../../node-core/sim/lin-gen'
import { GEN_DEFAULTS, generateLinearizableHistory } from '../../../node-core/sim/lin-gen'
import type { KvOperation } from '../../../node-core/sim/linearizability'
import {
  UNKNOWN_OUTPUT,
  checkLinearizability,
  formatLinearizabilityResult,
} from '../../../node-core/sim/linearizability'

const seed =
  process.env.SEED !== undefined ? Number(process.env.SEED) : Math.floor(Math.random() * 2 ** 31)
if (!Number.isSafeInteger(seed)) throw new Error(`SEED must be an integer, got ${process.env.SEED}`)
console.log(`linearizability-random: SEED=${seed}`)
const where = (what: string) => `${what} (SEED=${seed})`

/**
 * The definition, executed: is there an order of all operations with a known outcome, plus any
 * subset of those with an unknown outcome, that respects real time (a before b whenever
 * a.completeMs < b.invokeMs) and in which a sequential map gives every known output? Tries every
 * such order (pruning an order as soon as one of its prefixes is illegal), over the whole history
 * at once: no per-key split and none of the checker's reductions. With `memo`, it remembers the
 * (placed set, map) pairs it has seen fail, so that medium histories (up to 30 operations) finish.
 */
function bruteForceLinearizable(history: KvOperation[], memo = false): boolean {
  const n = history.length
  if (n > 30) throw new Error(`bruteForceLinearizable: ${n} operations is too many`)
  const failed = new Set<string>()
  let placedMask = 0
  const placed = new Array<boolean>(n).fill(false)
  const knownTotal = history.filter((op) => op.output !== UNKNOWN_OUTPUT).length
  const map = new Map<string, string>()

  const mayGoNext = (i: number) => {
    for (let j = 0; j < n; j++) {
      if (j === i || placed[j] || history[j].output === UNKNOWN_OUTPUT) continue
      if (history[j].completeMs < history[i].invokeMs) return false
    }
    return true
  }

  // Applies op i; returns whether its output is right, and how to undo it.
  const apply = (i: number): { legal: boolean; undo: () => void } => {
    const { input, output } = history[i]
    const before = map.get(input.key) ?? null
    const undo = () => (before === null ? map.delete(input.key) : map.set(input.key, before))
    const known = output !== UNKNOWN_OUTPUT
    switch (input.kind) {
      case 'get':
        return { legal: !known || (output.kind === 'get' && output.value === before), undo }
      case 'put':
        map.set(input.key, input.value)
        return { legal: true, undo }
      case 'delete': {
        map.delete(input.key)
        const deleted = known && output.kind === 'delete' ? output.deleted : undefined
        return { legal: deleted === undefined || deleted === (before !== null), undo }
      }
      case 'cas': {
        const swaps = before === input.expected
        if (swaps) map.set(input.key, input.value)
        return { legal: !known || (output.kind === 'cas' && output.succeeded === swaps), undo }
      }
    }
  }

  const search = (knownPlaced: number): boolean => {
    if (knownPlaced === knownTotal) return true
    const key = memo ? `${placedMask}:${JSON.stringify([...map.entries()].sort())}` : ''
    if (memo && failed.has(key)) return false
    for (let i = 0; i < n; i++) {
      if (placed[i] || !mayGoNext(i)) continue
      const { legal, undo } = apply(i)
      if (legal) {
        placed[i] = true
        placedMask |= 1 << i
        const found = search(knownPlaced + (history[i].output === UNKNOWN_OUTPUT ? 0 : 1))
        placed[i] = false
        placedMask &= ~(1 << i)
        if (found) {
          undo()
          return true
        }
      }
      undo()
    }
    if (memo) failed.add(key)
    return false
  }
  return search(0)
}

/** Changes one operation's output or time window at random (the result may or may not hold). */
function perturb(prng: Prng, history: KvOperation[]): void {
  const i = prng.int(0, history.length)
  const op = history[i]
  const output = op.output
  if (output === UNKNOWN_OUTPUT || op.input.kind === 'put' || prng.chance(0.3)) {
    const span = Math.max(
      ...history.map((o) => (o.completeMs === Infinity ? o.invokeMs : o.completeMs)),
    )
    op.invokeMs = prng.int(0, span + 2)
    if (op.output !== UNKNOWN_OUTPUT) op.completeMs = op.invokeMs + prng.int(0, 4)
    return
  }
  if (output.kind === 'get') {
    const written = history.flatMap((o) =>
      o.input.kind === 'put' || o.input.kind === 'cas' ? [o.input.value] : [],
    )
    const choices: (string | null)[] = [null, 'ghost', ...written]
    op.output = { kind: 'get', value: choices[prng.int(0, choices.length)] }
  } else if (output.kind === 'cas') {
    op.output = { kind: 'cas', succeeded: !output.succeeded }
  } else if (output.kind === 'delete') {
    op.output = {
      kind: 'delete',
      deleted: output.deleted === undefined ? prng.chance(0.5) : !output.deleted,
    }
  }
}

/**
 * Reads that can be made provably impossible: get r on key k can be given value v written by p
 * (a completed put, or a cas that succeeded) when some completed write w of k (a put, a delete,
 * a successful cas) has p.completeMs < w.invokeMs and w.completeMs < r.invokeMs. Every written
 * value is unique, so at any moment r may take effect, w has overwritten v for good.
 */
function staleCandidates(history: KvOperation[]): { read: number; value: string }[] {
  const writes = (o: KvOperation) =>
    o.output !== UNKNOWN_OUTPUT &&
    (o.input.kind === 'put' ||
      o.input.kind === 'delete' ||
      (o.input.kind === 'cas' && o.output.kind === 'cas' && o.output.succeeded))
  const out: { read: number; value: string }[] = []
  history.forEach((r, ri) => {
    if (r.input.kind !== 'get' || r.output === UNKNOWN_OUTPUT) return
    for (const p of history) {
      const input = p.input
      if (input.key !== r.input.key || !writes(p) || input.kind === 'delete') continue
      if (input.kind === 'get') continue
      const value = input.value
      const overwritten = history.some(
        (w) =>
          w !== p &&
          w.input.key === r.input.key &&
          writes(w) &&
          p.completeMs < w.invokeMs &&
          w.completeMs < r.invokeMs,
      )
      if (overwritten) out.push({ read: ri, value })
    }
  })
  return out
}

const shapes: Partial<GenOptions>[] = [
  { ops: 300, keys: 4, clients: 4 },
  { ops: 600, keys: 10, clients: 8, latencyMsMax: 12 },
  { ops: 400, keys: 1, clients: 8, latencyMsMax: 10, unknownRate: 0.05 },
  { ops: 300, keys: 2, clients: 6, mix: { get: 20, put: 10, delete: 10, cas: 60 } },
  { ops: 200, keys: 1, clients: 3, thinkMsMax: 0, latencyMsMax: 2, unknownRate: 0.1 },
]

describe(`randomised linearizability (SEED=${seed})`, () => {
  it('says ok for histories generated from a sequential execution', () => {
    const prng = createPrng(seed)
    for (let round = 0; round < 20; round++) {
      const shape = shapes[round % shapes.length]
      const { history } = generateLinearizableHistory(prng, shape)
      const result = checkLinearizability(history)
      expect(result.ok, where(`round ${round}: ${formatLinearizabilityResult(result)}`)).toBe(true)
    }
  })

  it('says not ok after one read is given a value it cannot see, and names that read', () => {
    const prng = createPrng(seed + 1)
    let stale = 0
    for (let round = 0; round < 20; round++) {
      // One key, eight clients and many timed-out writes make refuting a history expensive
      // (every order before the bad read must be ruled out), so that shape stays shorter here.
      const shape = shapes[round % shapes.length]
      const ops = shape.keys === 1 && shape.clients === 8 ? 200 : shape.ops
      const { history } = generateLinearizableHistory(prng, { ...shape, ops })
      const candidates = staleCandidates(history)
      const reads = history.flatMap((o, i) =>
        o.input.kind === 'get' && o.output !== UNKNOWN_OUTPUT ? [i] : [],
      )
      let read: number
      let value: string
      if (candidates.length > 0 && round % 4 !== 0) {
        ;({ read, value } = candidates[prng.int(0, candidates.length)])
        stale++
      } else {
        read = reads[prng.int(0, reads.length)]
        value = 'never-written'
      }
      history[read] = { ...history[read], output: { kind: 'get', value } }
      const result = checkLinearizability(history)
      const context = where(`round ${round}, read #${read} -> ${value}`)
      expect(result.ok, context).toBe(false)
      if (result.ok !== false) continue
      expect(result.key, context).toBe(history[read].input.key)
      expect(result.explanation.blockedOp.index, context).toBe(read)
      expect(result.explanation.possibleValues, context).not.toContain(value)
      expect(result.explanation.possibleValues.length, context).toBeGreaterThan(0)
      expect(result.explanation.prefixOpIndices, context).toContain(read)
    }
    expect(stale, where('stale mutations tried')).toBeGreaterThan(5)
  })

  it('agrees with a brute-force checker on small random histories', () => {
    const prng = createPrng(seed + 2)
    let linearizable = 0
    let violated = 0
    for (let round = 0; round < 500; round++) {
      // Many unknown outcomes and cas: the search's reductions for them need the most checking.
      const { history } = generateLinearizableHistory(prng, {
        ops: prng.int(1, 8),
        keys: prng.int(1, 3),
        clients: prng.int(1, 6),
        thinkMsMax: 2,
        latencyMsMax: 4,
        unknownRate: [0.1, 0.25, 0.4][round % 3],
        mix: round % 2 === 0 ? GEN_DEFAULTS.mix : { get: 30, put: 20, delete: 15, cas: 35 },
      })
      if (prng.chance(0.7)) perturb(prng, history)
      const expected = bruteForceLinearizable(history)
      const result = checkLinearizability(history)
      const context = where(
        `round ${round}: ${JSON.stringify(history)}\n${formatLinearizabilityResult(result)}`,
      )
      expect(result.ok, context).toBe(expected)
      if (expected) linearizable++
      else violated++
    }
    // Both answers must be well represented for the agreement to mean something.
    expect(linearizable, where('linearizable cases')).toBeGreaterThan(40)
    expect(violated, where('violated cases')).toBeGreaterThan(40)
  })

  it('agrees with a memoised exhaustive search on medium random histories', () => {
    const prng = createPrng(seed + 5)
    let violated = 0
    for (let round = 0; round < 150; round++) {
      const { history } = generateLinearizableHistory(prng, {
        ops: prng.int(8, 25),
        keys: prng.int(1, 3),
        clients: prng.int(2, 6),
        thinkMsMax: 2,
        latencyMsMax: 5,
        unknownRate: [0.05, 0.15, 0.3][round % 3],
        mix: round % 2 === 0 ? GEN_DEFAULTS.mix : { get: 30, put: 20, delete: 15, cas: 35 },
      })
      if (prng.chance(0.6)) perturb(prng, history)
      const expected = bruteForceLinearizable(history, true)
      const result = checkLinearizability(history)
      const context = where(
        `round ${round}: ${JSON.stringify(history)}\n${formatLinearizabilityResult(result)}`,
      )
      expect(result.ok, context).toBe(expected)
      if (!expected) violated++
    }
    expect(violated, where('violated cases')).toBeGreaterThan(20)
  })

  it('is deterministic: the same history gives the same result and explanation', () => {
    const prng = createPrng(seed + 3)
    const { history } = generateLinearizableHistory(prng, { ops: 500, keys: 3, clients: 6 })
    const reads = history.flatMap((o, i) =>
      o.input.kind === 'get' && o.output !== UNKNOWN_OUTPUT ? [i] : [],
    )
    const read = reads[prng.int(0, reads.length)]
    history[read] = { ...history[read], output: { kind: 'get', value: 'never-written' } }
    const a = checkLinearizability(history)
    const b = checkLinearizability(history.map((op) => ({ ...op })))
    expect(b, where('second run')).toEqual(a)
  })

  it('checks a few thousand operations over ten keys', () => {
    const prng = createPrng(seed + 4)
    const { history } = generateLinearizableHistory(prng, {
      ops: 3000,
      keys: 10,
      clients: 8,
      latencyMsMax: 8,
    })
    const result = checkLinearizability(history)
    expect(result.ok, where(formatLinearizabilityResult(result))).toBe(true)
    expect(result.stats.keys).toBe(10)
  })
})
