/**
 * The register model of the linearizability search, encoded for speed: one key's operations
 * become small integer codes and arguments, the key's value a small integer state.
 *
 * States: STATE_ABSENT (0) is "no value"; STATE_UNREAD (1) stands for every value that no
 * operation can tell apart from another (see below); 2, 3, ... are the values that some
 * operation observes, numbered in order of first appearance.
 *
 * Unread values. A value is observed when a get with a known outcome returned it or a cas
 * compares against it. A value that is written but never observed cannot be told from any
 * other such value by any operation: a get never returned it, no cas expects it, and a delete
 * that reports whether the key existed only sees that it is present. Mapping all of them to one
 * state is therefore exact (the quotient model accepts the same histories), and it lets the
 * search treat, say, a dozen timed-out puts of values nobody read as interchangeable.
 *
 * Unknown-outcome operations that behave identically in the quotient model (same code, same
 * arguments) form a class; classOf / prevInClass let the search apply the members of a class in
 * the order of their calls only (lin-search.ts).
 */
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
export const STATE_UNREAD = 1

/** One key's operations in the form the search runs on. Index i is the key's i-th operation. */
export interface EncodedKeyHistory {
  count: number
  codes: Uint8Array
  argA: Int32Array
  argB: Int32Array
  invokeMs: Float64Array
  /** +Infinity for an operation with unknown outcome. */
  completeMs: Float64Array
  /** For an unknown-outcome operation: the previous member of its class in call order, or -1. */
  prevInClass: Int32Array
  initialState: number
  /** values[s] is the value of state s, for s >= 2. */
  values: (string | null)[]
  /**
   * The same operations over real values, for explanations: arguments as ids into
   * concreteValues (0 is absent). step() with these follows the real value along a path that
   * is legal in the quotient model.
   */
  concreteA: Int32Array
  concreteB: Int32Array
  concreteInitial: number
  concreteValues: (string | null)[]
}

/** A put or a delete whose result is not known: its effect does not depend on the state. */
export function isBlindWrite(code: number): boolean {
  return code === OP_PUT || code === OP_DELETE_ANY
}

export function step(code: number, a: number, b: number, s: number): number {
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
      throw new Error(`lin-model: unknown op code ${code}`)
  }
}

/**
 * Encodes one key's operations. Gets with unknown outcome constrain nothing and must have been
 * left out by the caller (asserted).
 */
export function encodeKeyHistory(
  ops: readonly KvOperation[],
  initialValue: string | null,
): EncodedKeyHistory {
  const count = ops.length
  const observed = new Set<string>()
  for (let i = 0; i < count; i++) {
    const { input, output } = ops[i]
    if (input.kind === 'get') {
      if (output === UNKNOWN_OUTPUT || output.kind !== 'get') {
        throw new Error(`encodeKeyHistory: op ${i} is a get without a known output`)
      }
      if (output.value !== null) observed.add(output.value)
    } else if (input.kind === 'cas' && input.expected !== null) {
      observed.add(input.expected)
    }
  }
  const ids = new Map<string, number>()
  const values: (string | null)[] = [null, null]
  const intern = (v: string | null): number => {
    if (v === null) return STATE_ABSENT
    if (!observed.has(v)) return STATE_UNREAD
    let id = ids.get(v)
    if (id === undefined) {
      id = values.length
      ids.set(v, id)
      values.push(v)
    }
    return id
  }
  const concreteIds = new Map<string, number>()
  const concreteValues: (string | null)[] = [null]
  const concrete = (v: string | null): number => {
    if (v === null) return 0
    let id = concreteIds.get(v)
    if (id === undefined) {
      id = concreteValues.length
      concreteIds.set(v, id)
      concreteValues.push(v)
    }
    return id
  }
  const concreteA = new Int32Array(count)
  const concreteB = new Int32Array(count)
  const codes = new Uint8Array(count)
  const argA = new Int32Array(count)
  const argB = new Int32Array(count)
  const invokeMs = new Float64Array(count)
  const completeMs = new Float64Array(count)
  for (let i = 0; i < count; i++) {
    const { input, output } = ops[i]
    const known = output !== UNKNOWN_OUTPUT
    invokeMs[i] = ops[i].invokeMs
    completeMs[i] = ops[i].completeMs
    switch (input.kind) {
      case 'get':
        codes[i] = OP_GET
        argA[i] = intern(known && output.kind === 'get' ? output.value : null)
        concreteA[i] = concrete(known && output.kind === 'get' ? output.value : null)
        break
      case 'put':
        codes[i] = OP_PUT
        argA[i] = intern(input.value)
        concreteA[i] = concrete(input.value)
        break
      case 'delete': {
        const deleted = known && output.kind === 'delete' ? output.deleted : undefined
        codes[i] =
          deleted === undefined ? OP_DELETE_ANY : deleted ? OP_DELETE_EXISTED : OP_DELETE_ABSENT
        break
      }
      case 'cas':
        codes[i] = !known
          ? OP_CAS_ANY
          : output.kind === 'cas' && output.succeeded
            ? OP_CAS_SUCCEEDED
            : OP_CAS_FAILED
        argA[i] = intern(input.expected)
        argB[i] = intern(input.value)
        concreteA[i] = concrete(input.expected)
        concreteB[i] = concrete(input.value)
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
    prevInClass: classChains(codes, argA, argB, invokeMs, completeMs),
    initialState: intern(initialValue),
    values,
    concreteA,
    concreteB,
    concreteInitial: concrete(initialValue),
    concreteValues,
  }
}

/** Links each unknown-outcome operation to the previous one of its class in call order. */
function classChains(
  codes: Uint8Array,
  argA: Int32Array,
  argB: Int32Array,
  invokeMs: Float64Array,
  completeMs: Float64Array,
): Int32Array {
  const count = codes.length
  const prevInClass = new Int32Array(count).fill(-1)
  const unknown: number[] = []
  for (let i = 0; i < count; i++) if (completeMs[i] === Number.POSITIVE_INFINITY) unknown.push(i)
  // The same order as the search's list of unknown calls: by invoke time, then index.
  unknown.sort((x, y) => invokeMs[x] - invokeMs[y] || x - y)
  const lastOfClass = new Map<string, number>()
  for (const i of unknown) {
    const klass = `${codes[i]}:${argA[i]}:${argB[i]}`
    const last = lastOfClass.get(klass)
    if (last !== undefined) prevInClass[i] = last
    lastOfClass.set(klass, i)
  }
  return prevInClass
}
