/**
 * Snapshots and the WAL together, the way the server uses them: save entries, snapshot,
 * compact, restart (readSnapshotMarkers -> loadNewest -> openWal) and find the state again.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  loadNewest,
  persistSnapshot,
  readSnapshotFile,
  receiveSnapshot,
  retainSnapshots,
  saveSnapshot,
} from '../../../node-core/snap'
import type { SnapshotMetadata } from '../../../node-core/raft/types'
import { createWal, listSegments, openWal, readSnapshotMarkers } from '../../../node-core/wal'
import type { Wal } from '../../../node-core/wal'
import { entries, entriesDiff, makeTempDir, removeDir, textEncoder } from '../wal/helpers'
import { digest, meta, seededImage } from './helpers'

const SEGMENT_BYTES = 4096
const META = textEncoder.encode('{"nodeId":2}')

let root: string
let walDir: string
let snapDir: string
beforeEach(async () => {
  root = await makeTempDir('compact')
  walDir = join(root, 'wal')
  snapDir = join(root, 'snap')
})
afterEach(async () => {
  await removeDir(root)
})

/** Appends entries from..to in batches of 5 with a hard state committing each batch. */
async function append(wal: Wal, from: number, to: number, term = 1): Promise<void> {
  for (let i = from; i <= to; i += 5) {
    const last = Math.min(to, i + 4)
    await wal.save({ term, vote: 1, commit: last }, entries(i, last, term, 150))
  }
}

/** The server's startup sequence. */
async function restart() {
  const markers = await readSnapshotMarkers(walDir)
  const snapshot = await loadNewest(snapDir, { markers })
  const opened = await openWal(walDir, {
    segmentBytes: SEGMENT_BYTES,
    snapshot: snapshot
      ? { index: snapshot.metadata.index, term: snapshot.metadata.term }
      : undefined,
  })
  return { snapshot, ...opened }
}

describe('compaction', () => {
  it('snapshot at N, release, reopen: replay starts at N, later entries present, older segments gone', async () => {
    const wal = await createWal(walDir, META, { segmentBytes: SEGMENT_BYTES })
    await append(wal, 1, 100)
    const before = await listSegments(walDir)
    const result = await persistSnapshot(wal, snapDir, meta(60, 1), seededImage(60, 200_000), {
      keep: 1,
    })
    expect(result.snapshot.name).toBe('0000000000000001-000000000000003c.snap')
    expect(result.removedSnapshots).toEqual([])
    expect(result.releasedSegments.length).toBeGreaterThanOrEqual(2)
    await append(wal, 101, 120)
    await wal.close()

    const after = await listSegments(walDir)
    expect(after[0]!.seq).toBe(result.releasedSegments.length)
    expect(result.releasedSegments).toEqual(before.slice(0, after[0]!.seq).map((s) => s.name))
    // No remaining segment is entirely at or below the snapshot except the one replay starts in.
    expect(after[0]!.firstIndex).toBeLessThanOrEqual(60)
    expect(after[1]!.firstIndex).toBeGreaterThan(60)

    const { snapshot, wal: reopened, entries: replayed, hardState } = await restart()
    expect(snapshot!.metadata).toEqual(meta(60, 1))
    expect((await digest(snapshot!.openImage())).sha256).toBe(
      (await digest(seededImage(60, 200_000))).sha256,
    )
    expect(entriesDiff(replayed, entries(61, 120, 1, 150))).toBeUndefined()
    expect(hardState.commit).toBe(120)
    await reopened.close()
  })

  it('keeps enough WAL for the older snapshots it keeps, so a corrupt newest one falls back', async () => {
    const wal = await createWal(walDir, META, { segmentBytes: SEGMENT_BYTES })
    await append(wal, 1, 40)
    await persistSnapshot(wal, snapDir, meta(30, 1), seededImage(30, 10_000), { keep: 2 })
    await append(wal, 41, 80)
    await persistSnapshot(wal, snapDir, meta(70, 1), seededImage(70, 10_000), { keep: 2 })
    await append(wal, 81, 120)
    const third = await persistSnapshot(wal, snapDir, meta(110, 1), seededImage(110, 10_000), {
      keep: 2,
    })
    expect(third.removedSnapshots).toEqual(['0000000000000001-000000000000001e.snap'])
    expect(third.releasedSegments.length).toBeGreaterThan(0)
    await wal.close()

    // The newest snapshot rots on disk.
    const newest = join(snapDir, third.snapshot.name)
    const bytes = await readFile(newest)
    bytes[bytes.length - 100]! ^= 0xff
    await writeFile(newest, bytes)

    const { snapshot, wal: reopened, entries: replayed } = await restart()
    expect(snapshot!.metadata.index).toBe(70)
    expect(entriesDiff(replayed, entries(71, 120, 1, 150))).toBeUndefined()
    await reopened.close()
  })

  it('ignores a snapshot file whose WAL marker was never written (crash in between)', async () => {
    const wal = await createWal(walDir, META, { segmentBytes: SEGMENT_BYTES })
    await append(wal, 1, 50)
    await persistSnapshot(wal, snapDir, meta(20, 1), seededImage(20, 1000))
    await saveSnapshot(snapDir, meta(45, 1), seededImage(45, 1000)) // then the process died
    await wal.close()
    const { snapshot, wal: reopened, entries: replayed } = await restart()
    expect(snapshot!.metadata.index).toBe(20)
    expect(replayed[0]!.index).toBe(21)
    expect(replayed.at(-1)!.index).toBe(50)
    await reopened.close()
  })

  it('does not let a received snapshot without a marker yet push out the one a restart needs', async () => {
    const leaderDir = join(root, 'leader-snap')
    const leaderSnap = await saveSnapshot(leaderDir, meta(500, 3), seededImage(500, 1000))
    const wal = await createWal(walDir, META, { segmentBytes: SEGMENT_BYTES })
    await append(wal, 1, 60)
    await persistSnapshot(wal, snapDir, meta(40, 1), seededImage(40, 1000), { keep: 1 })
    // The leader's snapshot lands in snap/ (transport), and a retention pass runs before the
    // Ready that records it; then the node dies.
    await receiveSnapshot(snapDir, readSnapshotFile(leaderSnap.path))
    const retained = await retainSnapshots(wal, snapDir, 1)
    expect(retained.removedSnapshots).toEqual([])
    await wal.close()
    const { snapshot, wal: reopened, entries: replayed } = await restart()
    expect(snapshot!.metadata.index).toBe(40)
    expect(entriesDiff(replayed, entries(41, 60, 1, 150))).toBeUndefined()
    await reopened.close()
  })

  it('installs a snapshot received from the leader: the old log is dropped, replay starts at it', async () => {
    // The leader's snapshot at 50, term 2.
    const leaderDir = join(root, 'leader-snap')
    const leaderSnap = await saveSnapshot(leaderDir, meta(50, 2), seededImage(50, 300_000))

    // A follower that has entries 1..12 of term 1, of which 8 are committed.
    const wal = await createWal(walDir, META, { segmentBytes: SEGMENT_BYTES })
    await wal.save({ term: 1, vote: 1, commit: 8 }, entries(1, 12, 1, 150))
    const received = await receiveSnapshot(snapDir, readSnapshotFile(leaderSnap.path, 64 * 1024), {
      expected: { index: 50, term: 2 },
    })
    // The Ready carrying the snapshot: marker and batch, one fsync.
    const metadata: SnapshotMetadata = received.metadata
    await Promise.all([
      wal.saveSnapshot(metadata, { replacesLog: true }),
      wal.save({ term: 2, vote: 0, commit: 50 }, entries(51, 53, 2, 150)),
    ])
    const retained = await retainSnapshots(wal, snapDir)
    expect(retained.removedSnapshots).toEqual([])
    await wal.close()

    const { snapshot, wal: reopened, entries: replayed, hardState } = await restart()
    expect(snapshot!.metadata).toEqual(meta(50, 2))
    expect(entriesDiff(replayed, entries(51, 53, 2, 150))).toBeUndefined()
    expect(hardState).toEqual({ term: 2, vote: 0, commit: 50 })
    await reopened.close()
  })
})
