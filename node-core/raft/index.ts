/**
 * The raft core's public API: RawNode and its configuration, Storage and MemoryStorage, the
 * typed errors, the conf change codec and the vocabulary (types.ts). Modules outside
 * node-core/raft import from here (or from types.ts for plain data types).
 */
export { RawNode } from './rawnode'
export type { SnapshotStatus } from './rawnode'
export { RAFT_DEFAULTS } from './config'
export type { RaftConfig, RaftLogLevel } from './config'
export { MemoryStorage } from './storage'
export type { Storage } from './storage'
export {
  applyToConfState,
  confChangeProblem,
  decodeConfChange,
  encodeConfChange,
  CONF_CHANGE_FORMAT_VERSION,
} from './confchange'
export {
  CompactedError,
  ConfChangeInvalidError,
  ConfChangePendingError,
  ProposalDroppedError,
  ProposalError,
  ProposalTooLargeError,
  RaftInvariantError,
  ReadIndexDroppedError,
  SnapshotOutOfDateError,
  SnapshotTemporarilyUnavailableError,
  TransferRefusedError,
  UncommittedLimitError,
  UnavailableError,
} from './errors'
export { createPrng } from './prng'
export type { Prng } from './prng'
export * from './types'
export { describeEntry, describeMessage, describeReady, describeSnapshot } from './describe'
