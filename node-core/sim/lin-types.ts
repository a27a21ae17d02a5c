/**
 * The vocabulary of the linearizability checker (linearizability.ts): client operations on a
 * key-value register map, as the client saw them, with invoke and complete times in virtual ms.
 *
 * The model is a map from key to value, every key starting absent (null) unless the checker is
 * told otherwise. Keys and values are strings; a caller holding bytes encodes them first (any
 * injective encoding will do, e.g. latin1 or hex). The operations and their sequential meaning:
 *
 *   get(key)                      -> the key's value, or null when absent
 *   put(key, value)               -> ok; the key holds `value`
 *   delete(key)                   -> ok, optionally saying whether the key existed; key absent
 *   cas(key, expected, value)     -> true and the key holds `value` when it held `expected`
 *                                    (null: "absent"), false and nothing changes otherwise.
 *                                    This is the etcd Txn compare-and-swap.
 *
 * An operation whose client never learned the outcome (a timeout, a dropped connection) has
 * output 'unknown' and completeMs +Infinity: it may have taken effect at any moment after its
 * invocation, or never, and whatever it returned is unconstrained.
 *
 * Real-time order: `a` precedes `b` iff a.completeMs < b.invokeMs. Equal times count as
 * concurrent, because in a simulator two events in the same virtual millisecond have no order a
 * client could rely on; this can only hide a violation, never invent one.
 *
 * clientId is carried into explanations only. The checker does not require a client's
 * operations to be sequential (a client may go on after an operation with unknown outcome).
 */

export type KvInput =
  | { kind: 'get'; key: string }
  | { kind: 'put'; key: string; value: string }
  | { kind: 'delete'; key: string }
  | { kind: 'cas'; key: string; expected: string | null; value: string }

export type KvOutput =
  | { kind: 'get'; value: string | null }
  | { kind: 'put' }
  /** `deleted`, when given, is whether the key existed (etcd's DeleteRange `deleted` > 0). */
  | { kind: 'delete'; deleted?: boolean }
  | { kind: 'cas'; succeeded: boolean }

export const UNKNOWN_OUTPUT = 'unknown'
export type UnknownOutput = typeof UNKNOWN_OUTPUT

export interface KvOperation {
  clientId: string | number
  input: KvInput
  /** What the client received, or 'unknown' when it never got an answer. */
  output: KvOutput | UnknownOutput
  /** Virtual ms, a non-negative integer. */
  invokeMs: number
  /** Virtual ms, an integer >= invokeMs; exactly +Infinity iff output is 'unknown'. */
  completeMs: number
}

const valueCharsMax = 40

/** A value as explanations print it: JSON-quoted and shortened, or `absent` for null. */
export function formatValue(value: string | null): string {
  if (value === null) return 'absent'
  const quoted = JSON.stringify(value)
  return quoted.length <= valueCharsMax ? quoted : `${quoted.slice(0, valueCharsMax - 4)}..."`
}

function formatKey(key: string): string {
  return JSON.stringify(key).length <= valueCharsMax + 2 ? JSON.stringify(key) : formatValue(key)
}

/** `put("k", "v") -> ok`, `get("k") -> absent`, `cas("k", absent => "v") -> ?` ... */
export function describeCall(op: KvOperation): string {
  const input = op.input
  const key = formatKey(input.key)
  const out = op.output
  const unknown = out === UNKNOWN_OUTPUT
  switch (input.kind) {
    case 'get':
      return `get(${key}) -> ${unknown ? '?' : formatValue((out as { value: string | null }).value)}`
    case 'put':
      return `put(${key}, ${formatValue(input.value)}) -> ${unknown ? '?' : 'ok'}`
    case 'delete': {
      const deleted = unknown ? undefined : (out as { deleted?: boolean }).deleted
      const shown = unknown ? '?' : deleted === undefined ? 'ok' : deleted ? 'deleted' : 'absent'
      return `delete(${key}) -> ${shown}`
    }
    case 'cas': {
      const result = unknown ? '?' : String((out as { succeeded: boolean }).succeeded)
      return `cas(${key}, ${formatValue(input.expected)} => ${formatValue(input.value)}) -> ${result}`
    }
  }
}

/** One line for an operation: call, client and time window. */
export function describeOp(op: KvOperation): string {
  const end = op.completeMs === Number.POSITIVE_INFINITY ? 'no reply' : `${op.completeMs} ms`
  return `${describeCall(op)}  client ${op.clientId}  [${op.invokeMs} ms .. ${end}]`
}
