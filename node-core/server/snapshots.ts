/**
 * A node's snapshots, the parts that need none of its live state: saving one at an applied
 * index (the store image read from a LevelDB snapshot taken now, the WAL told, raft's log
 * compacted behind it), and reading a received one back
 * into the store. The node decides when (snapshotCount) and keeps its own indexes.
 */
import type { MvccStore } from '../mvcc/store'
import type { MemoryStorage } from '../raft/storage'
import type { ConfState, SnapshotMetadata } from '../raft/types'
import { openSnapshot, saveSnapshot } from '../snap'
import type { Wal } from '../wal'
import { composeImage, splitImage } from './image'
import { Membership } from './members'

export interface SnapshotSources {
  snapDir: string
  wal: Wal
  storage: MemoryStorage
  store: MvccStore
  membership: Membership
  confState: ConfState
  /** Entries kept in raft's log behind the snapshot, for followers slightly behind. */
  catchUpEntries: number
}

/**
 * Saves a snapshot at `index` (applied here) and compacts raft's log behind it; returns the
 * file's name and size. Releasing older snapshots and WAL segments is the caller's next step,
 * once it has recorded the new snapshot index.
 */
export async function takeSnapshot(
  src: SnapshotSources,
  index: number,
): Promise<{ name: string; fileBytes: number }> {
  const term = src.storage.term(index)
  const confState = {
    voters: [...src.confState.voters],
    learners: [...src.confState.learners],
  }
  // The store image is read from a LevelDB snapshot taken now: applies that happen while it
  // streams do not leak into it.
  const image = composeImage(src.membership.toJSON(), src.store.snapshotImage())
  const info = await saveSnapshot(src.snapDir, { index, term, confState }, image)
  await src.wal.saveSnapshot({ index, term })
  src.storage.createSnapshot(index, confState, new Uint8Array(0))
  const compactTo = index - src.catchUpEntries
  if (compactTo > src.storage.firstIndex()) src.storage.compact(compactTo)
  return info
}

/** Restores the store from a snapshot received and saved here; returns its membership. */
export async function restoreSnapshot(
  snapDir: string,
  store: MvccStore,
  meta: SnapshotMetadata,
): Promise<Membership> {
  const snap = await openSnapshot(snapDir, { index: meta.index, term: meta.term })
  const { header, rest } = await splitImage(snap.openImage())
  await store.restoreFromImage(rest, meta.index)
  return new Membership(header.members, header.removed)
}
