/**
 * Log compaction: what the server does after the state machine has produced a snapshot, and
 * after it has installed one from the leader.
 *
 * persistSnapshot(wal, snapDir, metadata, image) — the server's own snapshot at its applied
 * index (after `snapshotCount` entries):
 *   1. saveSnapshot(): the file is durable and visible;
 *   2. wal.saveSnapshot(): the WAL's marker is durable (a crash between 1 and 2 leaves a file
 *      without a marker, which loadNewest({ markers }) ignores);
 *   3. retainSnapshots(): old snapshot files go, then the WAL segments no kept snapshot needs.
 * The server then compacts raft's in-memory log up to the snapshot index.
 *
 * For a snapshot received from the leader: the transport's handler calls receiveSnapshot();
 * the Ready that carries it calls wal.saveSnapshot(meta, { replacesLog: true }) then
 * wal.save(...); after applying it, retainSnapshots().
 *
 * WAL segments are released up to the OLDEST snapshot kept, not the newest: when the newest
 * file turns out corrupt at startup, loadNewest() falls back to an older one, and replay from
 * that one needs the segments after it. With keep = 1 this releases up to the newest.
 */
import type { SnapshotMetadata } from '../raft/types'
import type { SnapshotFileInfo, SnapshotRef } from './snap'
import { SNAP_DEFAULTS, purgeSnapshots, saveSnapshot } from './snap'

/** What compaction needs of the WAL (node-core/wal's Wal provides it). */
export interface SnapshotMarkerLog {
  saveSnapshot(snapshot: SnapshotRef, options?: { replacesLog?: boolean }): Promise<void>
  releaseTo(index: number): Promise<string[]>
  /** snapshotIndex: the newest snapshot marker written or queued. */
  status(): { snapshotIndex: number }
}

export interface RetainResult {
  removedSnapshots: string[]
  releasedSegments: string[]
}

/**
 * Keeps the newest `keep` snapshot files that the WAL has markers for (newer files, received
 * but not yet recorded, are left alone and not counted) and releases the WAL up to the oldest
 * one kept. Safe to call concurrently with itself and with the Ready loop.
 */
export async function retainSnapshots(
  wal: SnapshotMarkerLog,
  snapDir: string,
  keep: number = SNAP_DEFAULTS.keep,
): Promise<RetainResult> {
  const markedUpTo = wal.status().snapshotIndex
  const { kept, removed } = await purgeSnapshots(snapDir, keep, { markedUpTo })
  const oldest = kept.at(-1)
  const releasedSegments = oldest ? await wal.releaseTo(oldest.index) : []
  return { removedSnapshots: removed, releasedSegments }
}

/** Saves the server's own snapshot, records it in the WAL, and compacts (see above). */
export async function persistSnapshot(
  wal: SnapshotMarkerLog,
  snapDir: string,
  metadata: SnapshotMetadata,
  image: AsyncIterable<Uint8Array>,
  options: { keep?: number; imageBytesMax?: number } = {},
): Promise<RetainResult & { snapshot: SnapshotFileInfo }> {
  const snapshot = await saveSnapshot(snapDir, metadata, image, options)
  await wal.saveSnapshot({ index: metadata.index, term: metadata.term })
  const retained = await retainSnapshots(wal, snapDir, options.keep ?? SNAP_DEFAULTS.keep)
  return { snapshot, ...retained }
}
