/**
 * Conf changes: their binary encoding (the data of a 'confChange' entry) and the rules for
 * applying one to a membership.
 *
 * Encoding (version 1, big-endian, 14 + context bytes):
 *
 *   offset  size  field
 *   0       1     format version, 1
 *   1       1     type: 1 addVoter, 2 addLearner, 3 promoteLearner, 4 removeNode,
 *                 5 updateNode
 *   2       8     nodeId, unsigned 64-bit (must be a safe integer, > 0)
 *   10      4     context length in bytes, unsigned 32-bit
 *   14      n     context (opaque to raft)
 *
 * Nothing may follow the context. decodeConfChange() refuses anything else with
 * ConfChangeInvalidError; the returned context is a copy.
 *
 * Membership rules (single-server changes, one at a time; see Raft thesis §4.1):
 *   addVoter        the node must not be a member yet (promote a learner instead)
 *   addLearner      the node must not be a member yet
 *   promoteLearner  the node must be a learner
 *   removeNode      the node must be a member, and not the last voter
 *   updateNode      the node must be a member; voters and learners stay as they are (only the
 *                   member's record in the context changes, as etcd's ConfChangeUpdateNode)
 */
import { ConfChangeInvalidError } from './errors'
import type { ConfChange, ConfChangeType, ConfState, NodeId } from './types'

export const CONF_CHANGE_FORMAT_VERSION = 1
const HEADER_BYTES = 14

const TYPE_CODES: Readonly<Record<ConfChangeType, number>> = {
  addVoter: 1,
  addLearner: 2,
  promoteLearner: 3,
  removeNode: 4,
  updateNode: 5,
}
const TYPE_BY_CODE: ReadonlyMap<number, ConfChangeType> = new Map(
  Object.entries(TYPE_CODES).map(([type, code]) => [code, type as ConfChangeType]),
)

/** Whether `type` is a conf change type raft knows (for input from outside the core). */
export function isConfChangeType(type: unknown): type is ConfChangeType {
  return typeof type === 'string' && Object.hasOwn(TYPE_CODES, type)
}

function checkNodeId(nodeId: number): void {
  if (!Number.isSafeInteger(nodeId) || nodeId <= 0) {
    throw new ConfChangeInvalidError(
      `conf change node id must be a positive integer, got ${nodeId}`,
    )
  }
}

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const code = TYPE_CODES[cc.type]
  if (code === undefined)
    throw new ConfChangeInvalidError(`unknown conf change type ${String(cc.type)}`)
  checkNodeId(cc.nodeId)
  const context = cc.context ?? new Uint8Array(0)
  const out = new Uint8Array(HEADER_BYTES + context.byteLength)
  const view = new DataView(out.buffer)
  view.setUint8(0, CONF_CHANGE_FORMAT_VERSION)
  view.setUint8(1, code)
  view.setUint32(2, Math.floor(cc.nodeId / 0x1_0000_0000))
  view.setUint32(6, cc.nodeId >>> 0)
  view.setUint32(10, context.byteLength)
  out.set(context, HEADER_BYTES)
  return out
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  if (data.byteLength < HEADER_BYTES) {
    throw new ConfChangeInvalidError(
      `conf change of ${data.byteLength} bytes is shorter than its ${HEADER_BYTES}-byte header`,
    )
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const version = view.getUint8(0)
  if (version !== CONF_CHANGE_FORMAT_VERSION) {
    throw new ConfChangeInvalidError(`unknown conf change format version ${version}`)
  }
  const code = view.getUint8(1)
  const type = TYPE_BY_CODE.get(code)
  if (type === undefined) throw new ConfChangeInvalidError(`unknown conf change type code ${code}`)
  const high = view.getUint32(2)
  if (high >= 0x20_0000) throw new ConfChangeInvalidError('conf change node id exceeds 2^53 - 1')
  const nodeId = high * 0x1_0000_0000 + view.getUint32(6)
  checkNodeId(nodeId)
  const contextBytes = view.getUint32(10)
  if (HEADER_BYTES + contextBytes !== data.byteLength) {
    throw new ConfChangeInvalidError(
      `conf change context of ${contextBytes} bytes does not match the ${data.byteLength - HEADER_BYTES} bytes after the header`,
    )
  }
  return { type, nodeId, context: data.slice(HEADER_BYTES) }
}

function describeMembers(cs: ConfState): string {
  return `voters=(${cs.voters.join(' ')}) learners=(${cs.learners.join(' ')})`
}

/** Why `cc` cannot be applied to `cs`, or undefined when it can. */
export function confChangeProblem(cs: ConfState, cc: ConfChange): string | undefined {
  if (!Number.isSafeInteger(cc.nodeId) || cc.nodeId <= 0) {
    return `conf change node id must be a positive integer, got ${cc.nodeId}`
  }
  const isVoter = cs.voters.includes(cc.nodeId)
  const isLearner = cs.learners.includes(cc.nodeId)
  switch (cc.type) {
    case 'addVoter':
      if (isVoter) return `node ${cc.nodeId} is already a voter (${describeMembers(cs)})`
      if (isLearner) {
        return `node ${cc.nodeId} is a learner: promote it instead (${describeMembers(cs)})`
      }
      return undefined
    case 'addLearner':
      if (isVoter || isLearner) {
        return `node ${cc.nodeId} is already a member (${describeMembers(cs)})`
      }
      return undefined
    case 'promoteLearner':
      if (!isLearner) return `node ${cc.nodeId} is not a learner (${describeMembers(cs)})`
      return undefined
    case 'removeNode':
      if (!isVoter && !isLearner) {
        return `node ${cc.nodeId} is not a member (${describeMembers(cs)})`
      }
      if (isVoter && cs.voters.length === 1) {
        return `cannot remove node ${cc.nodeId}, the last voter (${describeMembers(cs)})`
      }
      return undefined
    case 'updateNode':
      if (!isVoter && !isLearner) {
        return `node ${cc.nodeId} is not a member (${describeMembers(cs)})`
      }
      return undefined
    default:
      return `unknown conf change type ${String((cc as ConfChange).type)}`
  }
}

/** The membership after `cc` (sorted ids). Throws ConfChangeInvalidError when it does not fit. */
export function applyToConfState(cs: ConfState, cc: ConfChange): ConfState {
  const problem = confChangeProblem(cs, cc)
  if (problem !== undefined) throw new ConfChangeInvalidError(problem)
  const without = (ids: readonly NodeId[]) => ids.filter((id) => id !== cc.nodeId)
  const sorted = (ids: NodeId[]) => ids.sort((a, b) => a - b)
  switch (cc.type) {
    case 'addVoter':
      return { voters: sorted([...cs.voters, cc.nodeId]), learners: cs.learners.slice() }
    case 'addLearner':
      return { voters: cs.voters.slice(), learners: sorted([...cs.learners, cc.nodeId]) }
    case 'promoteLearner':
      return { voters: sorted([...cs.voters, cc.nodeId]), learners: without(cs.learners) }
    case 'removeNode':
      return { voters: without(cs.voters), learners: without(cs.learners) }
    case 'updateNode':
      return { voters: cs.voters.slice(), learners: cs.learners.slice() }
  }
}
