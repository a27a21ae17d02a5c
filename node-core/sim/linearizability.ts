/**
 * Linearizability checker for client histories recorded by the simulator against a key-value
 * register map (get / put / delete / cas; see lin-types.ts for the model and the history shape).
 *
 * Contract:
 *   checkLinearizability(history, options?) ->
 *     { ok: true, stats }                          every key's sub-history is linearizable
 *     { ok: false, key, explanation, stats }       a key's sub-history is not; the explanation
 *                                                  names the operation that cannot take effect
 *     { ok: 'unknown', reason, keys, stats }       the work bound was hit on some key and no
 *                                                  other key is known to be violated
 *   A history that breaks the shape rules (times, outputs matching inputs, limits) throws a
 *   ValidationError / LimitError with a stable code rather than giving an answer.
 *
 * Method. Operations on different keys commute and never observe each other, so the history is
 * linearizable iff each key's sub-history is (the locality of linearizability, Herlihy & Wing;
 * Lowe's P-compositionality). Each key is checked by the memoised Wing–Gong search of
 * lin-search.ts (with reductions for reads and for operations with unknown outcome), within a
 * per-key bound on configurations entered and on memo bytes. A get whose outcome is unknown
 * constrains nothing and is dropped before the search. When several keys are violated, the one
 * whose blocked operation was invoked first is reported (ties: key order), so a report points at
 * the earliest trouble.
 *
 * Cost. A linearizable history is usually confirmed in about one configuration per operation
 * (test/bench/linearizability.ts: 5,000 operations over 10 keys from 8 clients in tens of ms).
 * Refuting one means ruling out every order of the operations before the bad one, which grows
 * with the concurrency on the key and the number of unknown outcomes pending on it; then the
 * bound answers 'unknown' instead of running on.
 *
 * Pure and deterministic: no clock, no randomness; the same history gives the same result and
 * the same explanation. Keys are visited in code-unit order (not locale order).
 */
import { LimitError, ValidationError } from '../errors'
import type { EncodedKeyHistory } from './lin-model'
import { STATE_UNREAD, encodeKeyHistory } from './lin-model'
import type { SearchOutcome } from './lin-search'
import { searchKey } from './lin-search'
import type { KvOperation } from './lin-types'
import { UNKNOWN_OUTPUT, describeOp, formatValue } from './lin-types'

export type { KvInput, KvOperation, KvOutput, UnknownOutput } from './lin-types'
export { UNKNOWN_OUTPUT, describeCall, describeOp, formatValue } from './lin-types'

export interface LinearizabilityOptions {
  /**
   * Search configurations (linearized set, state) one key may enter before the answer is
   * 'unknown'. Each costs a scan of the operations open at that moment (a few microseconds at
   * the concurrency of a simulator run); a violation costs two searches.
   */
  maxStatesExploredPerKey?: number
  /** Bytes the memo of one key may hold before the search answers 'unknown'. */
  maxCacheBytesPerKey?: number
  /** Operations a history may hold; more throws LimitError LIN_HISTORY_TOO_LONG. */
  maxOps?: number
  /** Values of keys before the history starts; keys not listed start absent. */
  initialValues?: ReadonlyMap<string, string>
}

export const LINEARIZABILITY_DEFAULTS = {
  maxStatesExploredPerKey: 1_000_000,
  maxCacheBytesPerKey: 256 * 1024 * 1024,
  maxOps: 1_000_000,
} as const

/** How many concurrent operations, possible values and tail steps an explanation lists. */
const concurrentOpsMax = 12
const possibleValuesMax = 8
const tailLength = 8

export interface OpReport {
  /** Index of the operation in the history given to the checker. */
  index: number
  op: KvOperation
  /** describeOp(op): call, output, client and time window on one line. */
  text: string
}

export interface LinearizabilityExplanation {
  key: string
  /** The operation that cannot take effect: no valid order of the earlier ones allows it. */
  blockedOp: OpReport
  /**
   * The values the key can hold at any moment blockedOp could take effect, over every order of
   * the other operations that respects real time; blockedOp's output is wrong in each of them.
   * At most 8 are listed (absent first, then in order of first appearance in the key's history).
   * Values that no operation ever read are examples: the search treats them as one.
   */
  possibleValues: (string | null)[]
  possibleValuesCount: number
  /** The key may also hold other values that were written but that no read returned. */
  possiblyUnreadValue: boolean
  /** Operations overlapping blockedOp in time (at most 12 listed) and how many there are. */
  concurrentOps: OpReport[]
  concurrentOpsCount: number
  /**
   * The failing prefix: history indices of this key's operations invoked before blockedOp
   * returned (in invoke order). This sub-history alone is already not linearizable.
   */
  prefixOpIndices: number[]
  /** The last steps of a partial linearization that got as far as blockedOp, with values. */
  linearizationTail: { op: OpReport; valueAfter: string | null }[]
  linearizedCount: number
  /** The whole explanation as printable text (several lines, no trailing newline). */
  text: string
}

export interface LinearizabilityStats {
  ops: number
  keys: number
  /** Search configurations entered, over all keys. */
  statesExplored: number
  /** Memoised configurations over all keys. */
  configsCached: number
}

export type LinearizabilityResult =
  | { ok: true; stats: LinearizabilityStats }
  | {
      ok: false
      key: string
      explanation: LinearizabilityExplanation
      /** Every key found violated, in key order. */
      violatedKeys: string[]
      stats: LinearizabilityStats
    }
  | { ok: 'unknown'; reason: string; keys: string[]; stats: LinearizabilityStats }

function invalid(index: number, op: unknown, why: string): never {
  let shown: string
  try {
    shown = JSON.stringify(op)
  } catch {
    shown = String(op)
  }
  throw new ValidationError('LIN_INVALID_HISTORY', `history op #${index} ${why}: ${shown}`)
}

function validateOp(op: KvOperation, index: number): void {
  if (op === null || typeof op !== 'object' || op.input === null || typeof op.input !== 'object') {
    invalid(index, op, 'is not an operation')
  }
  const { input, output, invokeMs, completeMs } = op
  if (typeof input.key !== 'string') invalid(index, op, 'has no string key')
  if (!['get', 'put', 'delete', 'cas'].includes(input.kind)) {
    invalid(index, op, `has unknown kind ${String(input.kind)}`)
  }
  if ((input.kind === 'put' || input.kind === 'cas') && typeof input.value !== 'string') {
    invalid(index, op, 'writes a value that is not a string')
  }
  if (input.kind === 'cas' && input.expected !== null && typeof input.expected !== 'string') {
    invalid(index, op, 'expects a value that is neither a string nor null')
  }
  if (!Number.isSafeInteger(invokeMs) || invokeMs < 0) {
    invalid(index, op, `has invokeMs ${invokeMs}, not a non-negative integer`)
  }
  if (output === UNKNOWN_OUTPUT) {
    if (completeMs !== Number.POSITIVE_INFINITY) {
      invalid(index, op, `has unknown output but completeMs ${completeMs}, not Infinity`)
    }
    return
  }
  if (!Number.isSafeInteger(completeMs) || completeMs < invokeMs) {
    invalid(index, op, `has completeMs ${completeMs}, not an integer >= invokeMs ${invokeMs}`)
  }
  if (output === null || typeof output !== 'object' || output.kind !== input.kind) {
    invalid(index, op, `has an output that does not match its ${input.kind} input`)
  }
  if (output.kind === 'get' && output.value !== null && typeof output.value !== 'string') {
    invalid(index, op, 'read a value that is neither a string nor null')
  }
  if (output.kind === 'cas' && typeof output.succeeded !== 'boolean') {
    invalid(index, op, 'has a cas output without a boolean `succeeded`')
  }
  if (output.kind === 'delete' && output.deleted !== undefined) {
    if (typeof output.deleted !== 'boolean') invalid(index, op, 'has a non-boolean `deleted`')
  }
}

interface KeyPart {
  key: string
  /** History indices of the key's operations that take part in the search. */
  indices: number[]
}

function partition(history: readonly KvOperation[]): KeyPart[] {
  const byKey = new Map<string, number[]>()
  for (let i = 0; i < history.length; i++) {
    const op = history[i]
    // A get that never answered constrains nothing: it reads and its result is unknown.
    if (op.input.kind === 'get' && op.output === UNKNOWN_OUTPUT) continue
    let list = byKey.get(op.input.key)
    if (list === undefined) {
      list = []
      byKey.set(op.input.key, list)
    }
    list.push(i)
  }
  const keys = [...byKey.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  return keys.map((key) => ({ key, indices: byKey.get(key) as number[] }))
}

/** Checks a history for linearizability. See the module comment for the contract. */
export function checkLinearizability(
  history: readonly KvOperation[],
  options: LinearizabilityOptions = {},
): LinearizabilityResult {
  const statesMax =
    options.maxStatesExploredPerKey ?? LINEARIZABILITY_DEFAULTS.maxStatesExploredPerKey
  const cacheBytesMax = options.maxCacheBytesPerKey ?? LINEARIZABILITY_DEFAULTS.maxCacheBytesPerKey
  const opsMax = options.maxOps ?? LINEARIZABILITY_DEFAULTS.maxOps
  if (!(Number.isSafeInteger(statesMax) && statesMax > 0)) {
    throw new ValidationError('LIN_BAD_OPTION', `maxStatesExploredPerKey ${statesMax} must be > 0`)
  }
  if (!(cacheBytesMax > 0)) {
    throw new ValidationError('LIN_BAD_OPTION', `maxCacheBytesPerKey ${cacheBytesMax} must be > 0`)
  }
  if (history.length > opsMax) {
    throw new LimitError(
      'LIN_HISTORY_TOO_LONG',
      `history has ${history.length} operations, more than maxOps ${opsMax}`,
    )
  }
  for (let i = 0; i < history.length; i++) validateOp(history[i], i)

  const parts = partition(history)
  const stats: LinearizabilityStats = {
    ops: history.length,
    keys: parts.length,
    statesExplored: 0,
    configsCached: 0,
  }
  const unknownKeys: string[] = []
  const unknownReasons: string[] = []
  const violations: LinearizabilityExplanation[] = []
  for (const part of parts) {
    const ops = part.indices.map((i) => history[i])
    const initialValue = options.initialValues?.get(part.key) ?? null
    const encoded = encodeKeyHistory(ops, initialValue)
    const outcome = searchKey(encoded, { statesMax, cacheBytesMax })
    stats.statesExplored += outcome.stats.states
    stats.configsCached += outcome.stats.configs
    if (outcome.status === 'unknown') {
      unknownKeys.push(part.key)
      unknownReasons.push(
        outcome.reason === 'states'
          ? `key ${formatValue(part.key)}: explored ${statesMax} states (maxStatesExploredPerKey) over ${ops.length} ops without an answer`
          : `key ${formatValue(part.key)}: the search memo reached ${outcome.stats.cacheBytes} bytes (maxCacheBytesPerKey ${cacheBytesMax}) over ${ops.length} ops without an answer`,
      )
    } else if (outcome.status === 'violation') {
      violations.push(explain(history, part, encoded, outcome, initialValue))
    }
  }
  if (violations.length > 0) {
    const first = violations.reduce((best, v) =>
      v.blockedOp.op.invokeMs < best.blockedOp.op.invokeMs ? v : best,
    )
    return {
      ok: false,
      key: first.key,
      explanation: first,
      violatedKeys: violations.map((v) => v.key),
      stats,
    }
  }
  if (unknownKeys.length > 0) {
    return { ok: 'unknown', reason: unknownReasons.join('; '), keys: unknownKeys, stats }
  }
  return { ok: true, stats }
}

function explain(
  history: readonly KvOperation[],
  part: KeyPart,
  encoded: EncodedKeyHistory,
  outcome: Extract<SearchOutcome, { status: 'violation' }>,
  initialValue: string | null,
): LinearizabilityExplanation {
  const report = (keyOp: number): OpReport => {
    const index = part.indices[keyOp]
    return { index, op: history[index], text: describeOp(history[index]) }
  }
  const blockedOp = report(outcome.blockedOp)
  const blocked = blockedOp.op
  const concurrent: number[] = []
  for (const keyOp of outcome.prefixOps) {
    if (keyOp === outcome.blockedOp) continue
    const op = history[part.indices[keyOp]]
    if (op.invokeMs <= blocked.completeMs && op.completeMs >= blocked.invokeMs) {
      concurrent.push(keyOp)
    }
  }
  const seen = outcome.refusedValues
  const possibleValues = seen.slice(0, possibleValuesMax).map((v) => encoded.concreteValues[v])
  // Replay the partial linearization on real values: the search ran on the quotient model.
  let value = initialValue
  const afterEach = outcome.linearization.map((keyOp) => {
    value = applyConcrete(value, history[part.indices[keyOp]])
    return value
  })
  const from = Math.max(0, outcome.linearization.length - tailLength)
  const linearizationTail = outcome.linearization
    .slice(from)
    .map((keyOp, i) => ({ op: report(keyOp), valueAfter: afterEach[from + i] }))
  const explanation: Omit<LinearizabilityExplanation, 'text'> = {
    key: part.key,
    blockedOp,
    possibleValues,
    possibleValuesCount: seen.length,
    possiblyUnreadValue:
      outcome.refusedStates.includes(STATE_UNREAD) &&
      unreadValues(history, part, encoded, initialValue).some((v) => !possibleValues.includes(v)),
    concurrentOps: concurrent.slice(0, concurrentOpsMax).map(report),
    concurrentOpsCount: concurrent.length,
    prefixOpIndices: outcome.prefixOps.map((k) => part.indices[k]),
    linearizationTail,
    linearizedCount: outcome.linearization.length,
  }
  return { ...explanation, text: explanationText(explanation) }
}

/**
 * The values the key can hold that no operation observes (lin-model.ts): the search lumps them
 * together, so the values it reports of that kind are examples unless they are all of them.
 */
function unreadValues(
  history: readonly KvOperation[],
  part: KeyPart,
  encoded: EncodedKeyHistory,
  initialValue: string | null,
): string[] {
  const observed = new Set(encoded.values)
  const unread = new Set<string>()
  if (initialValue !== null && !observed.has(initialValue)) unread.add(initialValue)
  for (const i of part.indices) {
    const input = history[i].input
    if ((input.kind === 'put' || input.kind === 'cas') && !observed.has(input.value)) {
      unread.add(input.value)
    }
  }
  return [...unread]
}

/** The value after `op`, applied sequentially to `value` (the op is legal there). */
function applyConcrete(value: string | null, op: KvOperation): string | null {
  const input = op.input
  switch (input.kind) {
    case 'get':
      return value
    case 'put':
      return input.value
    case 'delete':
      return null
    case 'cas':
      return value === input.expected ? input.value : value
  }
}

function explanationText(e: Omit<LinearizabilityExplanation, 'text'>): string {
  const lines: string[] = []
  const more = (shown: number, total: number) =>
    total > shown ? ` (and ${total - shown} more)` : ''
  lines.push(`not linearizable: key ${formatValue(e.key)}`)
  lines.push(`  #${e.blockedOp.index} ${e.blockedOp.text}`)
  const others = e.prefixOpIndices.length - 1
  lines.push(`  cannot take effect: at any moment it could, in any order of the ${others} other`)
  lines.push(
    '  operations invoked before it returned that respects real time, the key holds one of',
  )
  const listed = e.possibleValues.map(formatValue)
  if (e.possibleValuesCount > e.possibleValues.length) {
    listed.push(`${e.possibleValuesCount - e.possibleValues.length} more values`)
  }
  if (e.possiblyUnreadValue) listed.push('or another value that no read returned')
  lines.push(`    ${listed.join(', ')}`)
  lines.push('  and in none of these can it have returned what it did.')
  if (e.concurrentOpsCount === 0) {
    lines.push('  no operation on this key overlaps it in time.')
  } else {
    lines.push(`  concurrent with it${more(e.concurrentOps.length, e.concurrentOpsCount)}:`)
    for (const c of e.concurrentOps) lines.push(`    #${c.index} ${c.text}`)
  }
  if (e.linearizationTail.length > 0) {
    const skipped = e.linearizedCount - e.linearizationTail.length
    lines.push(
      `  last steps of a partial linearization that got this far (${e.linearizedCount} ops` +
        `${skipped > 0 ? `, ${skipped} earlier not shown` : ''}):`,
    )
    for (const t of e.linearizationTail) {
      lines.push(`    #${t.op.index} ${t.op.text}  => ${formatValue(t.valueAfter)}`)
    }
  } else {
    lines.push(`  it is blocked before any operation on this key could be linearized.`)
  }
  return lines.join('\n')
}

/** One printable paragraph for any result, for the simulator's report. */
export function formatLinearizabilityResult(result: LinearizabilityResult): string {
  const s = result.stats
  const figures = `${s.ops} ops, ${s.keys} key${s.keys === 1 ? '' : 's'}, ${s.statesExplored} states explored`
  if (result.ok === true) return `linearizable (${figures})`
  if (result.ok === 'unknown') return `linearizability unknown (${figures}): ${result.reason}`
  const others = result.violatedKeys.filter((k) => k !== result.key)
  const also =
    others.length > 0 ? `\n  also violated: ${others.slice(0, 8).map(formatValue).join(', ')}` : ''
  return `${result.explanation.text}${also}\n  (${figures})`
}
