/**
 * HistoryRecorder: how the simulator's clients write down what they saw, in the shape the
 * linearizability checker reads (lin-types.ts).
 *
 *   const id = recorder.invoke(clientId, { kind: 'put', key, value }, nowMs)
 *   ... later, when (if) the reply arrives:
 *   recorder.complete(id, { kind: 'put' }, nowMs)
 *   ... or when the client gives up (timeout, connection lost) and will never know:
 *   recorder.giveUp(id)
 *   recorder.history()  // operations in invoke order; any never completed is 'unknown'
 *
 * Invariants asserted: times are non-decreasing integers (virtual time does not go back), an
 * output matches its input's kind, an operation completes at most once. The number of
 * operations is bounded (opsMax); recording more throws LimitError LIN_RECORDER_FULL.
 */
import { LimitError, ValidationError } from '../errors'
import type { KvInput, KvOperation, KvOutput } from './lin-types'
import { UNKNOWN_OUTPUT } from './lin-types'

export const RECORDER_OPS_MAX_DEFAULT = 1_000_000

type OpState = 'pending' | 'completed' | 'abandoned'

export class HistoryRecorder {
  private readonly ops: KvOperation[] = []
  private readonly states: OpState[] = []
  private lastMs = 0
  private readonly opsMax: number

  constructor(opsMax: number = RECORDER_OPS_MAX_DEFAULT) {
    if (!(Number.isSafeInteger(opsMax) && opsMax > 0)) {
      throw new ValidationError('LIN_BAD_OPTION', `recorder opsMax ${opsMax} must be > 0`)
    }
    this.opsMax = opsMax
  }

  get size(): number {
    return this.ops.length
  }

  /** Records the invocation of an operation; returns its id for complete() / giveUp(). */
  invoke(clientId: string | number, input: KvInput, nowMs: number): number {
    this.advance(nowMs)
    if (this.ops.length >= this.opsMax) {
      throw new LimitError(
        'LIN_RECORDER_FULL',
        `history recorder holds ${this.ops.length} operations, its limit opsMax ${this.opsMax}`,
      )
    }
    this.ops.push({
      clientId,
      input: { ...input },
      output: UNKNOWN_OUTPUT,
      invokeMs: nowMs,
      completeMs: Number.POSITIVE_INFINITY,
    })
    this.states.push('pending')
    return this.ops.length - 1
  }

  /** Records the reply the client received. */
  complete(id: number, output: KvOutput, nowMs: number): void {
    this.advance(nowMs)
    const op = this.pending(id)
    if (output.kind !== op.input.kind) {
      throw new ValidationError(
        'LIN_INVALID_HISTORY',
        `op ${id} is a ${op.input.kind} but completes with a ${output.kind} output`,
      )
    }
    op.output = { ...output }
    op.completeMs = nowMs
    this.states[id] = 'completed'
  }

  /** The client will never learn the outcome: the operation stays 'unknown'. */
  giveUp(id: number): void {
    this.pending(id)
    this.states[id] = 'abandoned'
  }

  /** A copy of the history so far, in invoke order. */
  history(): KvOperation[] {
    return this.ops.map((op) => ({ ...op }))
  }

  private pending(id: number): KvOperation {
    if (!(Number.isInteger(id) && id >= 0 && id < this.ops.length)) {
      throw new ValidationError(
        'LIN_INVALID_HISTORY',
        `no operation ${id} (have ${this.ops.length})`,
      )
    }
    if (this.states[id] !== 'pending') {
      throw new ValidationError('LIN_INVALID_HISTORY', `op ${id} is already ${this.states[id]}`)
    }
    return this.ops[id]
  }

  private advance(nowMs: number): void {
    if (!(Number.isSafeInteger(nowMs) && nowMs >= this.lastMs)) {
      throw new ValidationError(
        'LIN_INVALID_HISTORY',
        `time ${nowMs} ms is not an integer >= the last recorded time ${this.lastMs} ms`,
      )
    }
    this.lastMs = nowMs
  }
}
