/**
 * The search at the heart of the linearizability checker: one key's sub-history, checked with
 * the Wing–Gong depth-first search as Lowe improved it ("Testing for linearizability", 2017):
 *
 * - The history becomes an event list, sorted by time, of call and return entries (a call
 *   sorts before a return at the same time, so equal times are concurrent). The list is doubly
 *   linked over typed arrays, with a head and a tail sentinel.
 * - The search scans from the head. At a call entry it tries to apply that operation to the
 *   model; if that is legal and the resulting configuration (set of linearized operations,
 *   model state) has not been seen, it pushes (call, previous state) on a stack, "lifts" the
 *   call and its return out of the list, and starts again from the head. At a return entry the
 *   operation returned before it could be linearized: the search pops the last choice, "unlifts"
 *   it (reinserting both entries) and tries the next call after it.
 * - The list is empty: every operation is linearized and the history is linearizable. The stack
 *   is empty at a return entry: nothing is left to try and it is not.
 * - Configurations already explored are memoised in a ConfigCache keyed by a Zobrist hash of the
 *   linearized set (one fixed 32-bit word per operation, XORed in and out as the set changes)
 *   mixed with the model state.
 *
 * Operations with unknown outcome return at +Infinity, so they sort after every real return.
 * Once the scan reaches such a return, every operation that did return has been linearized, and
 * the remaining ones (whose effect is a function of the state and whose output is free) can be
 * applied in any order: the search stops with success. An unknown operation placed last is
 * indistinguishable from one that never happened, so both readings are covered.
 *
 * Explanations. The search remembers the furthest return entry (in list order) at which it ever
 * had to backtrack: the blocked operation. If the history is not linearizable, the operations
 * invoked before that return form a non-linearizable prefix, while every return before it can
 * be passed. A second, identical run then records every model state in which the blocked
 * operation was tried and refused: the values the key can hold at any moment the operation could
 * take effect, in any valid order of the others. (No configuration that linearizes the blocked
 * operation is ever explored: from it the search would pass its return, further than furthest.)
 *
 * Work is bounded: stepsMax model steps (one per call entry visited) and the cache's bytesMax.
 * Hitting either gives status 'unknown' rather than an answer.
 *
 * Model states are small integers: 0 is "absent", i >= 1 the i-th distinct value of the key.
 */
import { CACHE_ADDED, CACHE_FULL, ConfigCache } from './lin-cache'
import type { KvOperation } from './lin-types'
import { UNKNOWN_OUTPUT } from './lin-types'

/** Operation codes; the comments give the step from state s (-1: illegal). */
export const OP_GET = 0 // s === a ? s : -1
export const OP_PUT = 1 // a
export const OP_DELETE_ANY = 2 // 0
export const OP_DELETE_EXISTED = 3 // s !== 0 ? 0 : -1
export const OP_DELETE_ABSENT = 4 // s === 0 ? 0 : -1
export const OP_CAS_SUCCEEDED = 5 // s === a ? b : -1
export const OP_CAS_FAILED = 6 // s !== a ? s : -1
export const OP_CAS_ANY = 7 // s === a ? b : s

export const STATE_ABSENT = 0

/** One key's operations in the form the search runs on. Index i is the key's i-th operation. */
export interface EncodedKeyHistory {
  count: number
  codes: Uint8Array
  argA: Int32Array
  argB: Int32Array
  invokeMs: Float64Array
  /** +Infinity for an operation with unknown outcome. */
  completeMs: Float64Array
  initialState: number
  /** values[s] is the value of state s (values[0] = null). */
  values: (string | null)[]
}

/**
 * Encodes one key's operations. Gets with unknown outcome constrain nothing and must have been
 * left out by the caller (asserted).
 */
export function encodeKeyHistory(
  ops: KvOperation[],
  initialValue: string | null,
): EncodedKeyHistory {
  const count = ops.length
  const ids = new Map<string, number>()
  const values: (string | null)[] = [null]
  const intern = (v: string | null): number => {
    if (v === null) return STATE_ABSENT
    let id = ids.get(v)
    if (id === undefined) {
      id = values.length
      ids.set(v, id)
      values.push(v)
    }
    return id
  }
  const codes = new Uint8Array(count)
  const argA = new Int32Array(count)
  const argB = new Int32Array(count)
  const invokeMs = new Float64Array(count)
  const completeMs = new Float64Array(count)
  for (let i = 0; i < count; i++) {
    const op = ops[i]
    const out = op.output
    const known = out !== UNKNOWN_OUTPUT
    invokeMs[i] = op.invokeMs
    completeMs[i] = op.completeMs
    const input = op.input
    switch (input.kind) {
      case 'get':
        if (!known || out.kind !== 'get') {
          throw new Error(`encodeKeyHistory: op ${i} is a get without a known output`)
        }
        codes[i] = OP_GET
        argA[i] = intern(out.value)
        break
      case 'put':
        codes[i] = OP_PUT
        argA[i] = intern(input.value)
        break
      case 'delete': {
        const deleted = known && out.kind === 'delete' ? out.deleted : undefined
        codes[i] =
          deleted === undefined ? OP_DELETE_ANY : deleted ? OP_DELETE_EXISTED : OP_DELETE_ABSENT
        break
      }
      case 'cas':
        codes[i] = !known
          ? OP_CAS_ANY
          : out.kind === 'cas' && out.succeeded
            ? OP_CAS_SUCCEEDED
            : OP_CAS_FAILED
        argA[i] = intern(input.expected)
        argB[i] = intern(input.value)
        break
    }
  }
  return {
    count,
    codes,
    argA,
    argB,
    invokeMs,
    completeMs,
    initialState: intern(initialValue),
    values,
  }
}

export interface SearchLimits {
  stepsMax: number
  cacheBytesMax: number
  /** How many distinct blocked states and how many tail steps an explanation keeps. */
  blockedStatesMax: number
  tailLength: number
}

export interface TailStep {
  /** Index into the key's operations. */
  op: number
  stateAfter: number
}

export interface SearchStats {
  steps: number
  configs: number
  cacheBytes: number
}

export type SearchOutcome =
  | { status: 'ok'; stats: SearchStats }
  | { status: 'unknown'; reason: 'steps' | 'memory'; stats: SearchStats }
  | {
      status: 'violation'
      stats: SearchStats
      /** The operation whose return the search could never get past. */
      blockedOp: number
      /** Distinct states (at most blockedStatesMax) in which blockedOp was tried and refused. */
      blockedStates: number[]
      blockedStatesDistinct: number
      /** Operations invoked before blockedOp returned, in invoke order: the failing prefix. */
      prefixOps: number[]
      /** The last steps of one partial linearization that reached blockedOp's return. */
      tail: TailStep[]
      /** How many operations that partial linearization had applied. */
      linearizedCount: number
    }

function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  return (z ^ (z >>> 16)) | 0
}

function step(code: number, a: number, b: number, s: number): number {
  switch (code) {
    case OP_GET:
      return s === a ? s : -1
    case OP_PUT:
      return a
    case OP_DELETE_ANY:
      return STATE_ABSENT
    case OP_DELETE_EXISTED:
      return s !== STATE_ABSENT ? STATE_ABSENT : -1
    case OP_DELETE_ABSENT:
      return s === STATE_ABSENT ? STATE_ABSENT : -1
    case OP_CAS_SUCCEEDED:
      return s === a ? b : -1
    case OP_CAS_FAILED:
      return s !== a ? s : -1
    case OP_CAS_ANY:
      return s === a ? b : s
    default:
      throw new Error(`lin-search: unknown op code ${code}`)
  }
}

/**
 * The event list: positions 0 .. 2n-1 in time order, head sentinel 2n, tail sentinel 2n+1.
 * opAt[p] is the operation at position p; isCall[p] says whether it is its call entry.
 */
function buildEvents(h: EncodedKeyHistory) {
  const n = h.count
  const order = new Int32Array(2 * n)
  for (let e = 0; e < 2 * n; e++) order[e] = e
  // Entry e < n: call of op e; e >= n: return of op e - n.
  const timeOf = (e: number) => (e < n ? h.invokeMs[e] : h.completeMs[e - n])
  order.sort((x, y) => {
    const dt = timeOf(x) - timeOf(y)
    if (dt !== 0 && !Number.isNaN(dt)) return dt
    const callX = x < n ? 0 : 1
    const callY = y < n ? 0 : 1
    if (callX !== callY) return callX - callY
    return x - y
  })
  const opAt = new Int32Array(2 * n)
  const isCall = new Uint8Array(2 * n)
  const returnPos = new Int32Array(n)
  for (let p = 0; p < 2 * n; p++) {
    const e = order[p]
    if (e < n) {
      opAt[p] = e
      isCall[p] = 1
    } else {
      opAt[p] = e - n
      returnPos[e - n] = p
    }
  }
  const head = 2 * n
  const tail = 2 * n + 1
  const next = new Int32Array(2 * n + 2)
  const prev = new Int32Array(2 * n + 2)
  for (let p = 0; p < 2 * n; p++) {
    next[p] = p + 1
    prev[p] = p - 1
  }
  next[head] = n > 0 ? 0 : tail
  prev[tail] = n > 0 ? 2 * n - 1 : head
  if (n > 0) {
    prev[0] = head
    next[2 * n - 1] = tail
  }
  return { opAt, isCall, returnPos, next, prev, head, tail }
}

/** Runs the search on one key's operations. Pure: same input, same outcome. */
export function searchKey(h: EncodedKeyHistory, limits: SearchLimits): SearchOutcome {
  const first = search(h, limits, -1, new Set())
  if (first.status !== 'violation') return first
  const blockedOp = first.blockedOp
  const seen = new Set<number>()
  const second = search(h, limits, blockedOp, seen)
  if (second.status !== 'violation' || second.blockedOp !== blockedOp) {
    throw new Error(
      `lin-search: the second run disagrees (${second.status}, blocked op ` +
        `${second.status === 'violation' ? second.blockedOp : -1} vs ${blockedOp})`,
    )
  }
  return {
    ...first,
    stats: {
      steps: first.stats.steps + second.stats.steps,
      configs: first.stats.configs,
      cacheBytes: Math.max(first.stats.cacheBytes, second.stats.cacheBytes),
    },
    blockedStates: [...seen].sort((x, y) => x - y).slice(0, limits.blockedStatesMax),
    blockedStatesDistinct: seen.size,
  }
}

/**
 * One depth-first search. When observeOp >= 0, every state in which that operation is tried and
 * refused is added to `refused`.
 */
function search(
  h: EncodedKeyHistory,
  limits: SearchLimits,
  observeOp: number,
  refused: Set<number>,
): SearchOutcome {
  const n = h.count
  const { codes, argA, argB } = h
  const { opAt, isCall, returnPos, next, prev, head, tail } = buildEvents(h)
  const words = Math.max(1, Math.ceil(n / 32))
  const bits = new Uint32Array(words)
  const zobrist = new Int32Array(n)
  for (let i = 0; i < n; i++) zobrist[i] = mix32(i * 0x632be5ab + 0x5bd1e995)
  const cache = new ConfigCache(words, limits.cacheBytesMax)
  const stackCall = new Int32Array(n)
  const stackState = new Int32Array(n)
  let depth = 0
  let state = h.initialState
  let setHash = 0
  let steps = 0

  // The furthest return position at which the search had to backtrack, and one partial
  // linearization that got there.
  let furthest = -1
  let tailSteps: TailStep[] = []
  let tailDepth = 0

  const stats = (): SearchStats => ({ steps, configs: cache.size, cacheBytes: cache.bytes })

  const recordBlock = (p: number) => {
    if (p <= furthest) return
    furthest = p
    tailDepth = depth
    tailSteps = []
    for (let d = Math.max(0, depth - limits.tailLength); d < depth; d++) {
      const stateAfter = d + 1 < depth ? stackState[d + 1] : state
      tailSteps.push({ op: opAt[stackCall[d]], stateAfter })
    }
  }

  let p = next[head]
  while (p !== tail) {
    if (isCall[p] === 1) {
      if (steps >= limits.stepsMax) return { status: 'unknown', reason: 'steps', stats: stats() }
      steps++
      const op = opAt[p]
      const s2 = step(codes[op], argA[op], argB[op], state)
      if (s2 < 0) {
        if (op === observeOp) refused.add(state)
      } else {
        const w = op >>> 5
        const bit = 1 << (op & 31)
        bits[w] |= bit
        const h2 = setHash ^ zobrist[op]
        const added = cache.add(h2 ^ mix32(s2), bits, s2)
        if (added === CACHE_ADDED) {
          stackCall[depth] = p
          stackState[depth] = state
          depth++
          setHash = h2
          state = s2
          // Lift the call and its return out of the list.
          const r = returnPos[op]
          next[prev[p]] = next[p]
          prev[next[p]] = prev[p]
          next[prev[r]] = next[r]
          prev[next[r]] = prev[r]
          p = next[head]
          continue
        }
        bits[w] &= ~bit
        if (added === CACHE_FULL) return { status: 'unknown', reason: 'memory', stats: stats() }
      }
      p = next[p]
      continue
    }
    // A return entry whose operation is not linearized yet.
    const op = opAt[p]
    if (h.completeMs[op] === Number.POSITIVE_INFINITY) return { status: 'ok', stats: stats() }
    recordBlock(p)
    if (depth === 0) {
      return violation()
    }
    depth--
    const c = stackCall[depth]
    const undone = opAt[c]
    state = stackState[depth]
    setHash ^= zobrist[undone]
    bits[undone >>> 5] &= ~(1 << (undone & 31))
    // Unlift in reverse order of the lift: the return first, then the call.
    const r = returnPos[undone]
    next[prev[r]] = r
    prev[next[r]] = r
    next[prev[c]] = c
    prev[next[c]] = c
    p = next[c]
  }
  return { status: 'ok', stats: stats() }

  function violation(): SearchOutcome {
    const blockedOp = opAt[furthest]
    const prefixOps: number[] = []
    for (let q = 0; q < furthest; q++) if (isCall[q] === 1) prefixOps.push(opAt[q])
    return {
      status: 'violation',
      stats: stats(),
      blockedOp,
      blockedStates: [],
      blockedStatesDistinct: 0,
      prefixOps,
      tail: tailSteps,
      linearizedCount: tailDepth,
    }
  }
}
