/**
 * The simulator's checks of the Raft log itself (the others follow the applied history in
 * world.ts): log matching (§5.3) across every pair of disks, and leader completeness (§5.4):
 * a new leader holds every entry already applied anywhere. A violation throws ViolationError,
 * which the world turns into the run's report.
 */
import type { MemoryStorage } from '../raft/storage'
import type { NodeId } from '../raft/types'
import type { Violation } from './world'

export class ViolationError extends Error {
  constructor(readonly violation: Omit<Violation, 'atMs' | 'step'>) {
    super(violation.message)
  }
}

/** What the checks read of a simulated node. */
export interface CheckedNode {
  id: NodeId
  disk: MemoryStorage
  raft: { status(): { lastIndex: number } } | null
}

/** An applied entry, by index, as the world recorded it (the same on every node). */
export type AppliedLog = ReadonlyMap<number, { term: number }>

/** A leader of `term` must hold every applied entry, with the term it was applied with. */
export function checkLeaderCompleteness(
  leader: CheckedNode,
  term: number,
  appliedLog: AppliedLog,
  maxAppliedIndex: number,
): void {
  const status = leader.raft!.status()
  if (status.lastIndex < maxAppliedIndex) {
    throw new ViolationError({
      invariant: 'leader-completeness',
      message: `n${leader.id} leads term ${term} with last index ${status.lastIndex}, but index ${maxAppliedIndex} was already applied`,
    })
  }
  const disk = leader.disk
  const from = Math.max(disk.firstIndex(), 1)
  const to = Math.min(disk.lastIndex(), maxAppliedIndex)
  for (let i = from; i <= to; i++) {
    const applied = appliedLog.get(i)
    if (applied && disk.term(i) !== applied.term) {
      throw new ViolationError({
        invariant: 'leader-completeness',
        message: `n${leader.id} leads term ${term} holding term ${disk.term(i)} at index ${i}, where term ${applied.term} was applied`,
      })
    }
  }
}

/** Log matching (§5.3) on the disks: equal term at an index means equal prefixes. */
export function checkLogMatching(all: readonly CheckedNode[]): void {
  const nodes = all.filter((n) => n.disk.lastIndex() > 0)
  for (let a = 0; a < nodes.length; a++) {
    for (let b = a + 1; b < nodes.length; b++) {
      checkPair(nodes[a]!, nodes[b]!)
    }
  }
}

function checkPair(na: CheckedNode, nb: CheckedNode): void {
  const x = na.disk
  const y = nb.disk
  const lo = Math.max(x.firstIndex(), y.firstIndex())
  const hi = Math.min(x.lastIndex(), y.lastIndex())
  if (lo > hi) return
  let agreeAt = 0
  for (let i = hi; i >= lo; i--) {
    if (x.term(i) === y.term(i)) {
      agreeAt = i
      break
    }
  }
  if (agreeAt === 0) return
  const xs = x.entries(lo, agreeAt + 1)
  const ys = y.entries(lo, agreeAt + 1)
  for (let k = 0; k < xs.length; k++) {
    const ex = xs[k]!
    const ey = ys[k]!
    if (ex.term !== ey.term || !sameBytes(ex.data, ey.data)) {
      throw new ViolationError({
        invariant: 'log-matching',
        message: `n${na.id} and n${nb.id} agree on term ${x.term(agreeAt)} at index ${agreeAt} but differ at index ${ex.index} (${ex.term} vs ${ey.term})`,
      })
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}
