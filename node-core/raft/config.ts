/**
 * Configuration of one raft node (RaftConfig), its defaults and their validation, and the logger
 * interface the core reports state changes through.
 *
 * Every limit has a default; a config that cannot work (a heartbeat as long as the election
 * timeout, an empty timeout range, a non-positive limit) is refused at construction with a
 * ValidationError naming the field and the value.
 */
import { silentLogger, type Logger } from '../kernel/logger'
import { ValidationError } from '../errors'
import type { Prng } from './prng'
import type { Storage } from './storage'
import type { NodeId } from './types'

export type RaftLogLevel = 'debug' | 'info' | 'warn' | 'error'

export interface RaftConfig {
  /** This node's id, > 0. */
  id: NodeId
  storage: Storage
  /** The node's own random stream (election timeouts). */
  prng: Prng
  /** The election timeout is drawn from [electionTicksMin, electionTicksMax) per term. */
  electionTicksMin?: number
  electionTicksMax?: number
  /** A leader sends heartbeats every heartbeatTicks; must be below electionTicksMin. */
  heartbeatTicks?: number
  /** The last index the state machine has applied (restart). Default: the snapshot's index. */
  applied?: number
  /** Upper bound of the entry bytes (entrySizeBytes) in one MsgApp; one entry always fits. */
  maxSizePerMsgBytes?: number
  /** Append messages in flight to one follower in the replicate state. */
  maxInflightMsgs?: number
  /** Upper bound of the leader's uncommitted tail (entrySizeBytes of its entries). */
  maxUncommittedEntriesBytes?: number
  /** Upper bound of one proposal's payload. */
  maxProposalBytes?: number
  preVote?: boolean
  checkQuorum?: boolean
  /** Upper bound of the committed entries in one Ready. Default: maxSizePerMsgBytes. */
  maxCommittedSizePerReadyBytes?: number
  /** Read requests a leader holds while waiting for a heartbeat quorum or its first commit. */
  maxPendingReadRequests?: number
  /**
   * Where the core reports what it does ("1 became leader at term 2"), injected so that the core
   * never writes anywhere by itself. Messages are plain sentences without a trailing period.
   */
  logger?: Logger
}

export interface ResolvedRaftConfig {
  id: NodeId
  storage: Storage
  prng: Prng
  electionTicksMin: number
  electionTicksMax: number
  heartbeatTicks: number
  applied: number
  maxSizePerMsgBytes: number
  maxInflightMsgs: number
  maxUncommittedEntriesBytes: number
  maxProposalBytes: number
  preVote: boolean
  checkQuorum: boolean
  maxCommittedSizePerReadyBytes: number
  maxPendingReadRequests: number
  logger: Logger
}

export const RAFT_DEFAULTS = {
  electionTicksMin: 15,
  electionTicksMax: 30,
  heartbeatTicks: 5,
  maxSizePerMsgBytes: 1024 * 1024,
  maxInflightMsgs: 256,
  maxUncommittedEntriesBytes: 64 * 1024 * 1024,
  maxProposalBytes: 1.5 * 1024 * 1024,
  preVote: true,
  checkQuorum: true,
  maxPendingReadRequests: 4096,
} as const

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new ValidationError(
      'RAFT_CONFIG_INVALID',
      `${name} must be a positive integer, got ${value}`,
    )
  }
  return value
}

export function resolveConfig(config: RaftConfig): ResolvedRaftConfig {
  const id = positiveInteger('id', config.id)
  const electionTicksMin = positiveInteger(
    'electionTicksMin',
    config.electionTicksMin ?? RAFT_DEFAULTS.electionTicksMin,
  )
  const electionTicksMax = positiveInteger(
    'electionTicksMax',
    config.electionTicksMax ?? RAFT_DEFAULTS.electionTicksMax,
  )
  const heartbeatTicks = positiveInteger(
    'heartbeatTicks',
    config.heartbeatTicks ?? RAFT_DEFAULTS.heartbeatTicks,
  )
  if (electionTicksMax <= electionTicksMin) {
    throw new ValidationError(
      'RAFT_CONFIG_INVALID',
      `electionTicksMax ${electionTicksMax} must be above electionTicksMin ${electionTicksMin}`,
    )
  }
  if (heartbeatTicks >= electionTicksMin) {
    throw new ValidationError(
      'RAFT_CONFIG_INVALID',
      `heartbeatTicks ${heartbeatTicks} must be below electionTicksMin ${electionTicksMin}`,
    )
  }
  const applied = config.applied ?? 0
  if (!Number.isSafeInteger(applied) || applied < 0) {
    throw new ValidationError('RAFT_CONFIG_INVALID', `applied must be >= 0, got ${applied}`)
  }
  const maxSizePerMsgBytes = positiveInteger(
    'maxSizePerMsgBytes',
    config.maxSizePerMsgBytes ?? RAFT_DEFAULTS.maxSizePerMsgBytes,
  )
  return {
    id,
    storage: config.storage,
    prng: config.prng,
    electionTicksMin,
    electionTicksMax,
    heartbeatTicks,
    applied,
    maxSizePerMsgBytes,
    maxInflightMsgs: positiveInteger(
      'maxInflightMsgs',
      config.maxInflightMsgs ?? RAFT_DEFAULTS.maxInflightMsgs,
    ),
    maxUncommittedEntriesBytes: positiveInteger(
      'maxUncommittedEntriesBytes',
      config.maxUncommittedEntriesBytes ?? RAFT_DEFAULTS.maxUncommittedEntriesBytes,
    ),
    maxProposalBytes: positiveInteger(
      'maxProposalBytes',
      config.maxProposalBytes ?? RAFT_DEFAULTS.maxProposalBytes,
    ),
    preVote: config.preVote ?? RAFT_DEFAULTS.preVote,
    checkQuorum: config.checkQuorum ?? RAFT_DEFAULTS.checkQuorum,
    maxCommittedSizePerReadyBytes: positiveInteger(
      'maxCommittedSizePerReadyBytes',
      config.maxCommittedSizePerReadyBytes ?? maxSizePerMsgBytes,
    ),
    maxPendingReadRequests: positiveInteger(
      'maxPendingReadRequests',
      config.maxPendingReadRequests ?? RAFT_DEFAULTS.maxPendingReadRequests,
    ),
    logger: config.logger ?? silentLogger,
  }
}
