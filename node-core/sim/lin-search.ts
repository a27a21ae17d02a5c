/**
 * The search at the heart of the linearizability checker: one key's sub-history (encoded by
 * lin-model.ts), checked with the Wing–Gong depth-first search as Lowe improved it ("Testing for
 * linearizability", Concurrency and Computation 2017), the approach porcupine also follows:
 *
 * - The history becomes an event list, sorted by time, of call and return entries (a call
 *   sorts before a return at the same time, so equal times are concurrent), doubly linked over
 *   typed arrays with head and tail sentinels.
 * - The search scans from the head. At a call entry it tries to apply that operation to the
 *   model; if that is legal and the resulting configuration (linearized set, model state) is
 *   new, it pushes the choice on a stack, "lifts" the call and its return out of the list and
 *   starts again from the head. At a return entry that operation returned before it could be
 *   linearized: the search pops the last choice, "unlifts" it and tries the next call after it.
 * - No return entry is left: the history is linearizable. The stack is empty at a return entry:
 *   nothing is left to try and it is not.
 * - Configurations already explored are memoised (lin-cache.ts), keyed by a Zobrist hash of the
 *   linearized set (one fixed 32-bit word per operation, XORed in and out) mixed with the state.
 *
 * Reduction 0, for every operation: when an operation that returned is legal and reads
 * without writing (a get, a cas that failed, a delete that found nothing: operations that leave
 * the state unchanged wherever they are legal), the search applies it at once and tries nothing
 * else from that configuration (when that fails, the configuration has failed). Such an operation can be moved to the front of the rest of any
 * valid order: it is already callable, so no real-time constraint is broken, and it changes
 * nothing for the others. (A put of the current value does not qualify: later, where a valid
 * order places it, it may well change the value.) This removes most branching on reads.
 *
 * Operations with unknown outcome (no return: completeMs +Infinity) never have to be applied,
 * and may be applied at any moment after their call. They live in a second list, of calls only,
 * and at each configuration the search tries them after the operations that returned: those
 * whose call precedes the first return left in the main list. The many timed-out writes of a
 * faulty run would make the search exponential, so four more reductions remove search paths
 * that are redundant, each because some path without an unknown operation, or with it renamed,
 * does the same (see reductionsSound below):
 *   1. an unknown operation that would not change the state is not applied;
 *   2. right after an unknown operation, no blind write (lin-model.ts isBlindWrite) is applied:
 *      it would erase the unknown operation's effect. The configuration remembers this
 *      "restricted" flag, which is part of its identity in the memo;
 *   3. unknown operations of one class (lin-model.ts) are applied in the order of their calls;
 *   4. a configuration is cut off when a fully explored one had the same returned set and state
 *      and a subset of its unknown operations (subsumption, lin-cache.ts).
 *
 * Explanations. The search remembers the furthest return entry (in list order) at which it ever
 * had to backtrack: the blocked operation. If the history is not linearizable, the operations
 * invoked before that return form a non-linearizable prefix, while every return before it can
 * be passed. A second, identical run then records every model state in which the blocked
 * operation was tried and refused (the values the key can hold at any moment it could take
 * effect, in any valid order of the others), the real value along the path at each refusal (the
 * model lumps unread values together; the real ones seen are examples of those), and the first
 * partial linearization that reached its return. (No configuration that linearizes the blocked
 * operation is ever explored: from it the search would pass that return, further than the
 * furthest.)
 *
 * Work is bounded: statesMax configurations entered (each costs a scan of the calls that are
 * open at that moment) and the cache's bytesMax. Hitting either gives status 'unknown' rather
 * than an answer.
 */
import { CACHE_FULL, ConfigCache } from './lin-cache'
import type { EncodedKeyHistory } from './lin-model'
import { isBlindWrite, step } from './lin-model'

export interface SearchLimits {
  /** Configurations the search may enter. */
  statesMax: number
  cacheBytesMax: number
}

export interface SearchStats {
  /** Configurations entered. */
  states: number
  /** Model steps tried. */
  steps: number
  configs: number
  cacheBytes: number
}

export type SearchOutcome =
  | { status: 'ok'; stats: SearchStats }
  | { status: 'unknown'; reason: 'states' | 'memory'; stats: SearchStats }
  | {
      status: 'violation'
      stats: SearchStats
      /** The operation whose return the search could never get past. */
      blockedOp: number
      /** Model states in which blockedOp was tried and refused, ascending. */
      refusedStates: number[]
      /** The real values (ids into concreteValues) the key held at those refusals, ascending. */
      refusedValues: number[]
      /** Operations invoked before blockedOp returned, in call order: the failing prefix. */
      prefixOps: number[]
      /** A partial linearization (operations in order) that reached blockedOp's return. */
      linearization: number[]
    }

/*
 * reductionsSound. Call a search path canonical when it has none of the patterns reductions 1
 * to 3 avoid: (1) an unknown operation that leaves the state unchanged, (2) an unknown
 * operation directly followed by a blind write, (3) members of a class applied out of call order.
 * Any path that linearizes every operation that returned can be made canonical without losing
 * that property: delete the operations of (1) and (2) until none is left (each deletion leaves
 * every later state and every known operation's place unchanged, and unknown operations are
 * optional), then rename the members of each class into call order (a class's k-th member by
 * call order was called no later than whichever of the first k applied members was called last,
 * so it was already callable; members act identically). So a canonical path exists iff the
 * history is linearizable. Reduction 0 moves a known operation to the front of a canonical path;
 * making the result canonical again deletes or renames only unknown operations, so a canonical
 * path starting with the forced operation exists whenever any canonical path does.
 * For (4): if C and D have the same returned set and state, U(C) is a subset of U(D), and C is
 * unrestricted or D restricted, then every canonical move from D is matched by one from C into a
 * configuration that again dominates (an unknown operation not yet allowed from C is replaced by
 * the first unapplied member of its class, which D has applied already), so if D could finish,
 * so could C; a done C could not. Only configurations marked done (popped) subsume others, and a
 * configuration is popped only when every move from it failed or was cut off by these rules.
 */

function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  return (z ^ (z >>> 16)) | 0
}

/**
 * The event lists. Positions 0 .. P-1 are the entries in time order: a call for every operation,
 * a return for every operation with a known outcome. The main list links the entries of known
 * operations (sentinels mainHead, mainTail); the unknown list links the calls of unknown ones
 * (unknownHead, unknownTail). opAt[p] is the operation at position p, isCall[p] whether it is a
 * call, returnPos[op] the position of its return (-1 for unknown ones). bitOf[op] numbers known
 * operations first, so that their bits fill the first words of a configuration's bitset, and
 * unknown ones from the next whole word.
 */
function buildEvents(h: EncodedKeyHistory) {
  const n = h.count
  const isKnown = (op: number) => h.completeMs[op] !== Number.POSITIVE_INFINITY
  let knownCount = 0
  for (let op = 0; op < n; op++) if (isKnown(op)) knownCount++
  // Entry e < n: call of op e; e >= n: return of op e - n.
  const entries: number[] = []
  for (let op = 0; op < n; op++) entries.push(op)
  for (let op = 0; op < n; op++) if (isKnown(op)) entries.push(n + op)
  const timeOf = (e: number) => (e < n ? h.invokeMs[e] : h.completeMs[e - n])
  entries.sort((x, y) => timeOf(x) - timeOf(y) || (x < n ? 0 : 1) - (y < n ? 0 : 1) || x - y)
  const positions = entries.length
  const opAt = new Int32Array(positions)
  const isCall = new Uint8Array(positions)
  const returnPos = new Int32Array(n).fill(-1)
  for (let p = 0; p < positions; p++) {
    const e = entries[p]
    opAt[p] = e < n ? e : e - n
    isCall[p] = e < n ? 1 : 0
    if (e >= n) returnPos[e - n] = p
  }
  const mainHead = positions
  const mainTail = positions + 1
  const unknownHead = positions + 2
  const unknownTail = positions + 3
  const next = new Int32Array(positions + 4)
  const prev = new Int32Array(positions + 4)
  let lastMain = mainHead
  let lastUnknown = unknownHead
  for (let p = 0; p < positions; p++) {
    if (isKnown(opAt[p])) {
      next[lastMain] = p
      prev[p] = lastMain
      lastMain = p
    } else {
      next[lastUnknown] = p
      prev[p] = lastUnknown
      lastUnknown = p
    }
  }
  next[lastMain] = mainTail
  prev[mainTail] = lastMain
  next[lastUnknown] = unknownTail
  prev[unknownTail] = lastUnknown
  const bitOf = new Int32Array(n)
  let known = 0
  // Unknown operations start on a fresh word: the memo compares the two parts separately.
  let unknown = Math.ceil(knownCount / 32) * 32
  for (let op = 0; op < n; op++) bitOf[op] = isKnown(op) ? known++ : unknown++
  return { opAt, isCall, returnPos, next, prev, bitOf, knownCount }
}

/** Runs the search on one key's operations. Pure: same input, same outcome. */
export function searchKey(h: EncodedKeyHistory, limits: SearchLimits): SearchOutcome {
  const first = search(h, limits, -1)
  if (first.status !== 'violation') return first
  const second = search(h, limits, first.blockedOp)
  if (second.status !== 'violation' || second.blockedOp !== first.blockedOp) {
    throw new Error(
      `lin-search: the explaining run disagrees (${second.status}, blocked op ` +
        `${second.status === 'violation' ? second.blockedOp : -1} vs ${first.blockedOp})`,
    )
  }
  return {
    ...second,
    stats: {
      states: first.stats.states + second.stats.states,
      steps: first.stats.steps + second.stats.steps,
      configs: first.stats.configs,
      cacheBytes: first.stats.cacheBytes,
    },
  }
}

/**
 * One depth-first search. With explainOp >= 0 (the blocked operation of an earlier run) it also
 * records the states in which that operation is refused and the first partial linearization
 * that reaches its return.
 */
function search(h: EncodedKeyHistory, limits: SearchLimits, explainOp: number): SearchOutcome {
  const n = h.count
  const { codes, argA, argB, prevInClass } = h
  const { opAt, isCall, returnPos, next, prev, bitOf, knownCount } = buildEvents(h)
  const mainHead = opAt.length
  const mainTail = mainHead + 1
  const unknownHead = mainHead + 2
  const unknownTail = mainHead + 3
  const knownWords = Math.ceil(knownCount / 32)
  const unknownWords = Math.max(knownWords === 0 ? 1 : 0, Math.ceil((n - knownCount) / 32))
  const bits = new Uint32Array(knownWords + unknownWords)
  const zobrist = new Int32Array(n)
  for (let i = 0; i < n; i++) zobrist[i] = mix32(Math.imul(i, 0x632be5ab) + 0x5bd1e995)
  const cache = new ConfigCache(knownWords, unknownWords, limits.cacheBytesMax)

  // The stack of choices: the call position applied, the state before it, its memo entry, for
  // an unknown operation the return position that bounded the unknown calls tried, and whether
  // the move was forced (reduction 0).
  const stackCall = new Int32Array(n)
  const stackState = new Int32Array(n)
  const stackEntry = new Int32Array(n)
  const stackLimit = new Int32Array(n)
  const stackForced = new Uint8Array(n)
  let depth = 0
  let state = h.initialState
  let knownHash = 0
  let steps = 0
  let states = 0

  let furthest = -1
  const refused = new Set<number>()
  // The real value along the current path, followed only when explaining.
  const explaining = explainOp >= 0
  const { concreteA, concreteB } = h
  const stackConcrete = new Int32Array(explaining ? n : 0)
  let concrete = h.concreteInitial
  const refusedConcrete = new Set<number>()
  let linearization: number[] | null = null

  const stats = (): SearchStats => ({
    states,
    steps,
    configs: cache.size,
    cacheBytes: cache.bytes,
  })
  const isApplied = (op: number) => (bits[bitOf[op] >>> 5] & (1 << (bitOf[op] & 31))) !== 0
  // Whether the last operation applied had an unknown outcome (reduction 2).
  const restricted = () => depth > 0 && returnPos[opAt[stackCall[depth - 1]]] < 0
  const unlink = (p: number) => {
    next[prev[p]] = next[p]
    prev[next[p]] = prev[p]
  }
  const relink = (p: number) => {
    next[prev[p]] = p
    prev[next[p]] = p
  }

  // Moves into the configuration reached by applying the operation whose call is at p, giving
  // state s2: 'moved', or 'seen' when the memo cuts it off, or 'full' when the memo is full.
  const apply = (p: number, s2: number, limit: number, forced: boolean) => {
    const op = opAt[p]
    const known = returnPos[op] >= 0
    const b = bitOf[op]
    bits[b >>> 5] |= 1 << (b & 31)
    const hash2 = known ? knownHash ^ zobrist[op] : knownHash
    const entry = cache.add(hash2 ^ mix32(s2), bits, s2, !known)
    if (entry < 0) {
      bits[b >>> 5] &= ~(1 << (b & 31))
      return entry === CACHE_FULL ? 'full' : 'seen'
    }
    states++
    stackCall[depth] = p
    stackState[depth] = state
    stackEntry[depth] = entry
    stackLimit[depth] = limit
    stackForced[depth] = forced ? 1 : 0
    if (explaining) {
      stackConcrete[depth] = concrete
      concrete = step(codes[op], concreteA[op], concreteB[op], concrete)
      if (concrete < 0) throw new Error(`lin-search: op ${op} is legal in the model, not for real`)
    }
    depth++
    knownHash = hash2
    state = s2
    unlink(p)
    if (known) unlink(returnPos[op])
    return 'moved'
  }

  // The model step of the operation at p, or -1 when it may not be applied now (illegal, or
  // excluded by reductions 1 to 3).
  const tryStep = (p: number): number => {
    const op = opAt[p]
    const s2 = step(codes[op], argA[op], argB[op], state)
    if (s2 < 0) {
      if (op === explainOp) {
        refused.add(state)
        refusedConcrete.add(concrete)
      }
      return -1
    }
    if (isBlindWrite(codes[op]) && restricted()) return -1
    if (returnPos[op] < 0) {
      if (s2 === state || (prevInClass[op] >= 0 && !isApplied(prevInClass[op]))) return -1
    }
    return s2
  }

  const firstReturn = () => {
    let r = next[mainHead]
    while (r !== mainTail && isCall[r] === 1) r = next[r]
    return r
  }

  // At each new configuration the scan first looks for a forced move (reduction 0) over the
  // calls of the main list; then it tries every call of the main list up to the first return
  // (limit), then the unknown calls before that return; when all are exhausted, it backtracks.
  const FORCE = 0
  const MAIN = 1
  const UNKNOWN = 2
  let phase = FORCE
  let p = next[mainHead]
  let limit = mainTail
  for (;;) {
    let exhausted = false
    if (phase !== UNKNOWN) {
      if (p === mainTail) return { status: 'ok', stats: stats() }
      if (isCall[p] === 0) {
        // The first return: after the forced-move scan, scan the main list; after that, the
        // unknown calls.
        limit = p
        p = phase === FORCE ? next[mainHead] : next[unknownHead]
        phase = phase === FORCE ? MAIN : UNKNOWN
        continue
      }
    } else if (p === unknownTail || p >= limit) {
      exhausted = true
    }
    if (!exhausted) {
      steps++
      const s2 = tryStep(p)
      const forcing = phase === FORCE
      if (s2 < 0 || (forcing && (s2 !== state || isBlindWrite(codes[opAt[p]])))) {
        p = next[p]
        continue
      }
      if (states >= limits.statesMax) return { status: 'unknown', reason: 'states', stats: stats() }
      const moved = apply(p, s2, limit, forcing)
      if (moved === 'full') return { status: 'unknown', reason: 'memory', stats: stats() }
      if (moved === 'moved') {
        phase = FORCE
        p = next[mainHead]
        continue
      }
      if (!forcing) {
        p = next[p]
        continue
      }
      // The forced move leads to a configuration already explored: this one fails as well.
      limit = firstReturn()
    }
    // Backtrack. Every choice from this configuration failed: the operation returning at
    // `limit` cannot be linearized from here. A configuration left by a forced move has failed
    // as a whole, so the backtracking goes on.
    for (;;) {
      if (limit > furthest) furthest = limit
      if (linearization === null && opAt[limit] === explainOp) {
        linearization = Array.from(stackCall.subarray(0, depth), (c) => opAt[c])
      }
      if (depth === 0) return violation()
      depth--
      cache.markDone(stackEntry[depth])
      const c = stackCall[depth]
      const undone = opAt[c]
      const b = bitOf[undone]
      bits[b >>> 5] &= ~(1 << (b & 31))
      state = stackState[depth]
      if (explaining) concrete = stackConcrete[depth]
      if (returnPos[undone] >= 0) {
        knownHash ^= zobrist[undone]
        // Unlift in reverse order of the lift: the return first, then the call.
        relink(returnPos[undone])
        relink(c)
        phase = MAIN
      } else {
        relink(c)
        phase = UNKNOWN
        limit = stackLimit[depth]
      }
      p = next[c]
      if (stackForced[depth] === 0) break
      limit = firstReturn()
    }
  }

  function violation(): SearchOutcome {
    const prefixOps: number[] = []
    for (let r = 0; r < furthest; r++) if (isCall[r] === 1) prefixOps.push(opAt[r])
    return {
      status: 'violation',
      stats: stats(),
      blockedOp: opAt[furthest],
      refusedStates: [...refused].sort((x, y) => x - y),
      refusedValues: [...refusedConcrete].sort((x, y) => x - y),
      prefixOps,
      linearization: linearization ?? [],
    }
  }
}
