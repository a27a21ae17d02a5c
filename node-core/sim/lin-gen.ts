/**
 * A seeded generator of histories that are linearizable by construction, for the checker's
 * tests and benchmark (and for trying the checker from the simulator without a cluster).
 *
 * Each client runs operations one after another in virtual time: it waits a think time, invokes,
 * and the operation takes effect at an integer "linearization point" inside its window
 * [invokeMs, completeMs]. All operations are then applied to a sequential key-value map in
 * point order (ties by generation order), which fixes every output. Because a point lies inside
 * its window, point order respects real time, so the history is linearizable.
 *
 * Some operations get an unknown outcome (the client gave up): their output becomes 'unknown'
 * and their completeMs +Infinity; with probability unknownAppliedRate they still took effect at
 * their point, otherwise they never did. Every value written is unique ("c<client>.<seq>"), which
 * lets tests build reads that are impossible at any linearization point.
 */
import type { Prng } from '../raft/prng'
import type { KvInput, KvOperation, KvOutput } from './lin-types'
import { UNKNOWN_OUTPUT } from './lin-types'

export interface GenOptions {
  ops: number
  keys: number
  clients: number
  /** Think time between a client's operations, uniform in [0, thinkMsMax]. */
  thinkMsMax: number
  /** Invoke-to-point and point-to-complete delays, each uniform in [0, latencyMsMax]. */
  latencyMsMax: number
  /** Probability that an operation's outcome is unknown to its client. */
  unknownRate: number
  /** Probability that an operation with unknown outcome took effect anyway. */
  unknownAppliedRate: number
  /** Relative weights of the operation kinds. */
  mix: { get: number; put: number; delete: number; cas: number }
}

export const GEN_DEFAULTS: GenOptions = {
  ops: 200,
  keys: 4,
  clients: 4,
  thinkMsMax: 3,
  latencyMsMax: 5,
  unknownRate: 0.02,
  unknownAppliedRate: 0.5,
  mix: { get: 50, put: 25, delete: 10, cas: 15 },
}

export interface GeneratedHistory {
  history: KvOperation[]
  /** The linearization point of each operation, or null for one that never took effect. */
  pointMs: (number | null)[]
}

export function keyName(k: number): string {
  return `k${k}`
}

export function generateLinearizableHistory(
  prng: Prng,
  options: Partial<GenOptions> = {},
): GeneratedHistory {
  const o: GenOptions = { ...GEN_DEFAULTS, ...options }
  if (!(o.ops >= 0 && o.keys > 0 && o.clients > 0)) {
    throw new RangeError(`lin-gen: need ops >= 0, keys > 0, clients > 0, got ${JSON.stringify(o)}`)
  }
  const clientMs = new Array<number>(o.clients).fill(0)
  const clientSeq = new Array<number>(o.clients).fill(0)
  // Recently written values per key, to give cas a fair chance of success.
  const recent: string[][] = Array.from({ length: o.keys }, () => [])
  const history: KvOperation[] = []
  const pointMs: (number | null)[] = []
  const weightTotal = o.mix.get + o.mix.put + o.mix.delete + o.mix.cas

  for (let i = 0; i < o.ops; i++) {
    let c = 0
    for (let j = 1; j < o.clients; j++) if (clientMs[j] < clientMs[c]) c = j
    const key = prng.int(0, o.keys)
    const input = randomInput(prng, o, weightTotal, keyName(key), recent[key], () => {
      const v = `c${c}.${clientSeq[c]++}`
      recent[key].push(v)
      if (recent[key].length > 4) recent[key].shift()
      return v
    })
    const invokeMs = clientMs[c] + prng.int(0, o.thinkMsMax + 1)
    const point = invokeMs + prng.int(0, o.latencyMsMax + 1)
    const completeMs = point + prng.int(0, o.latencyMsMax + 1)
    const unknown = prng.chance(o.unknownRate)
    clientMs[c] = completeMs
    history.push({
      clientId: c,
      input,
      output: UNKNOWN_OUTPUT,
      invokeMs,
      completeMs: unknown ? Number.POSITIVE_INFINITY : completeMs,
    })
    pointMs.push(unknown && !prng.chance(o.unknownAppliedRate) ? null : point)
  }
  applyInPointOrder(prng, history, pointMs)
  return { history, pointMs }
}

function randomInput(
  prng: Prng,
  o: GenOptions,
  weightTotal: number,
  key: string,
  recent: string[],
  fresh: () => string,
): KvInput {
  let r = prng.float() * weightTotal
  if ((r -= o.mix.get) < 0) return { kind: 'get', key }
  if ((r -= o.mix.put) < 0) return { kind: 'put', key, value: fresh() }
  if (r - o.mix.delete < 0) return { kind: 'delete', key }
  const expected =
    recent.length === 0 || prng.chance(0.2) ? null : recent[prng.int(0, recent.length)]
  return { kind: 'cas', key, expected, value: fresh() }
}

/** Fills in the outputs of known operations by running them sequentially in point order. */
function applyInPointOrder(prng: Prng, history: KvOperation[], pointMs: (number | null)[]): void {
  const order: number[] = []
  for (let i = 0; i < history.length; i++) if (pointMs[i] !== null) order.push(i)
  order.sort((a, b) => (pointMs[a] as number) - (pointMs[b] as number) || a - b)
  const map = new Map<string, string>()
  for (const i of order) {
    const op = history[i]
    const output = applySequential(map, op.input, prng)
    if (op.completeMs !== Number.POSITIVE_INFINITY) op.output = output
  }
}

function applySequential(map: Map<string, string>, input: KvInput, prng: Prng): KvOutput {
  const current = map.get(input.key) ?? null
  switch (input.kind) {
    case 'get':
      return { kind: 'get', value: current }
    case 'put':
      map.set(input.key, input.value)
      return { kind: 'put' }
    case 'delete':
      map.delete(input.key)
      return prng.chance(0.5) ? { kind: 'delete', deleted: current !== null } : { kind: 'delete' }
    case 'cas':
      if (current !== input.expected) return { kind: 'cas', succeeded: false }
      map.set(input.key, input.value)
      return { kind: 'cas', succeeded: true }
  }
}
