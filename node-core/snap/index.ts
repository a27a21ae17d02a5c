/**
 * Snapshots: the file store (snap.ts, format in format.ts) and log compaction (compact.ts).
 */
export {
  SNAP_DEFAULTS,
  listSnapshots,
  loadNewest,
  openSnapshot,
  purgeSnapshots,
  readSnapshotFile,
  receiveSnapshot,
  saveSnapshot,
  verifySnapshotFile,
} from './snap'
export type { LoadNewestOptions, LoadedSnapshot, SnapshotFileInfo, SnapshotRef } from './snap'
export { persistSnapshot, retainSnapshots } from './compact'
export type { RetainResult, SnapshotMarkerLog } from './compact'
export {
  parseSnapshotName,
  snapshotFileName,
  METADATA_BYTES_MAX as SNAP_METADATA_BYTES_MAX,
} from './format'
export type { SnapshotName } from './format'
export {
  SnapCorruptError,
  SnapInvalidArgumentError,
  SnapMismatchError,
  SnapNotFoundError,
  SnapTooLargeError,
} from './errors'
