/**
 * The write-ahead log (see wal.ts for the contract and the on-disk format, reader.ts for the
 * torn-tail rule, record.ts for the record framing).
 */
export {
  WAL_DEFAULTS,
  METADATA_BYTES_MAX,
  Wal,
  createWal,
  openWal,
  readSnapshotMarkers,
  walExists,
} from './wal'
export type {
  OpenWalOptions,
  OpenedWal,
  WalOptions,
  WalRepair,
  WalSegmentInfo,
  WalSnapshot,
  WalStatus,
} from './wal'
export {
  WalClosedError,
  WalCorruptError,
  WalExistsError,
  WalFailedError,
  WalInvalidArgumentError,
  WalLockedError,
  WalNotFoundError,
  WalQueueFullError,
  WalRecordTooLargeError,
  WalSnapshotNotFoundError,
} from './errors'
export { inspectSegment } from './reader'
export type { RecordInfo } from './reader'
export { listSegments, parseSegmentName, segmentName } from './segment'
export type { SegmentName } from './segment'
