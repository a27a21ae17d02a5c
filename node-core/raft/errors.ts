/**
 * Typed errors of the raft core, each with a stable code (they reach the server, the simulator's
 * reports and, through the API, the UI).
 *
 *   RAFT_PROPOSAL_DROPPED          no leader known, a leadership transfer under way, a second
 *                                  pending conf change, this node was removed, ...
 *   RAFT_PROPOSAL_TOO_LARGE        one proposal above maxProposalBytes
 *   RAFT_UNCOMMITTED_LIMIT         the leader's uncommitted tail would exceed
 *                                  maxUncommittedEntriesBytes
 *   RAFT_CONF_CHANGE_INVALID       a conf change that does not fit the current membership
 *                                  (adding a member twice, promoting a voter, removing the last
 *                                  voter, ...) or whose encoding is malformed
 *   RAFT_READ_INDEX_DROPPED        a linearizable read that cannot be served (no leader known)
 *   RAFT_TRANSFER_REFUSED          a leadership transfer that cannot start (no leader known, the
 *                                  transferee is not a voter, ...)
 *   RAFT_LOG_COMPACTED             storage: the entry asked for was compacted into a snapshot
 *   RAFT_LOG_UNAVAILABLE           storage: the entry asked for is not there (yet)
 *   RAFT_SNAPSHOT_TEMPORARILY_UNAVAILABLE  storage: no snapshot can be handed out right now;
 *                                  the leader retries later
 *   RAFT_SNAPSHOT_OUT_OF_DATE      storage: a snapshot older than the one already held
 *   RAFT_INVARIANT                 a broken invariant or a misuse of the API; the message
 *                                  carries the numbers. Never caught inside the core.
 *
 * The proposal errors share the base class ProposalError so that a server stepping a forwarded
 * MsgProp can tell "the leader refused this proposal" from a bug.
 */
import { RaftdeskError, ValidationError } from '../errors'

/** Base class of every refusal of a proposal (local or forwarded). */
export class ProposalError extends RaftdeskError {}

export class ProposalDroppedError extends ProposalError {
  constructor(message: string) {
    super('RAFT_PROPOSAL_DROPPED', message)
  }
}

/** A conf change refused because the previous one (or the leader's first entry) is not applied. */
export class ConfChangePendingError extends ProposalDroppedError {}

export class ProposalTooLargeError extends ProposalError {
  constructor(
    readonly proposalBytes: number,
    readonly proposalBytesMax: number,
  ) {
    super(
      'RAFT_PROPOSAL_TOO_LARGE',
      `proposal of ${proposalBytes} bytes exceeds maxProposalBytes ${proposalBytesMax}`,
    )
  }
}

export class UncommittedLimitError extends ProposalError {
  constructor(
    readonly uncommittedBytes: number,
    readonly proposalBytes: number,
    readonly uncommittedBytesMax: number,
  ) {
    super(
      'RAFT_UNCOMMITTED_LIMIT',
      `uncommitted log of ${uncommittedBytes} bytes plus ${proposalBytes} proposed bytes exceeds maxUncommittedEntriesBytes ${uncommittedBytesMax}`,
    )
  }
}

export class ConfChangeInvalidError extends ProposalError {
  constructor(message: string) {
    super('RAFT_CONF_CHANGE_INVALID', message)
  }
}

export class ReadIndexDroppedError extends RaftdeskError {
  constructor(message: string) {
    super('RAFT_READ_INDEX_DROPPED', message)
  }
}

export class TransferRefusedError extends RaftdeskError {
  constructor(message: string) {
    super('RAFT_TRANSFER_REFUSED', message)
  }
}

export class CompactedError extends RaftdeskError {
  constructor(
    readonly index: number,
    readonly firstIndex: number,
  ) {
    super('RAFT_LOG_COMPACTED', `index ${index} is compacted [first index ${firstIndex}]`)
  }
}

export class UnavailableError extends RaftdeskError {
  constructor(
    readonly index: number,
    readonly lastIndex: number,
  ) {
    super('RAFT_LOG_UNAVAILABLE', `index ${index} is unavailable [last index ${lastIndex}]`)
  }
}

export class SnapshotTemporarilyUnavailableError extends RaftdeskError {
  constructor(message = 'snapshot is temporarily unavailable') {
    super('RAFT_SNAPSHOT_TEMPORARILY_UNAVAILABLE', message)
  }
}

export class SnapshotOutOfDateError extends ValidationError {
  constructor(
    readonly snapshotIndex: number,
    readonly currentIndex: number,
  ) {
    super(
      'RAFT_SNAPSHOT_OUT_OF_DATE',
      `snapshot at index ${snapshotIndex} is not newer than the current one at ${currentIndex}`,
    )
  }
}

export class RaftInvariantError extends RaftdeskError {
  constructor(message: string) {
    super('RAFT_INVARIANT', message)
  }
}

/**
 * Throws RaftInvariantError(message) unless `condition` holds. On hot paths pass a function so
 * that the message is only built when the invariant is broken.
 */
export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new RaftInvariantError(typeof message === 'string' ? message : message())
  }
}
