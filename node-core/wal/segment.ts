/**
 * Segment file names, `<seq>-<firstIndex>.wal` with both numbers as 16 lower-case hex digits:
 * `seq` counts segments from 0 without gaps; `firstIndex` is the WAL's last index plus one when
 * the segment was started (entries in the segment may still go below it when a follower's
 * suffix is overwritten; see wal.ts).
 */
import { readdir } from 'node:fs/promises'
import { WalCorruptError } from './errors'

export interface SegmentName {
  seq: number
  firstIndex: number
  name: string
}

const SEGMENT_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/

export function hex16(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError(`hex16: ${n} is not an integer in [0, 2^53)`)
  return n.toString(16).padStart(16, '0')
}

export function segmentName(seq: number, firstIndex: number): string {
  return `${hex16(seq)}-${hex16(firstIndex)}.wal`
}

export function parseSegmentName(name: string): SegmentName | undefined {
  const m = SEGMENT_RE.exec(name)
  if (!m) return undefined
  const seq = Number.parseInt(m[1]!, 16)
  const firstIndex = Number.parseInt(m[2]!, 16)
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(firstIndex)) return undefined
  return { seq, firstIndex, name }
}

/** The directory's segments in seq order; a gap in the sequence is corruption. */
export async function listSegments(dir: string): Promise<SegmentName[]> {
  const names = await readdir(dir)
  const segments = names
    .map(parseSegmentName)
    .filter((s): s is SegmentName => s !== undefined)
    .sort((a, b) => a.seq - b.seq)
  for (let i = 1; i < segments.length; i++) {
    const prev = segments[i - 1]!
    const cur = segments[i]!
    if (cur.seq !== prev.seq + 1) {
      throw new WalCorruptError(
        cur.name,
        0,
        `segment sequence jumps from ${prev.seq} (${prev.name}) to ${cur.seq}: a segment is missing`,
      )
    }
  }
  return segments
}

/**
 * The segment to replay from for a snapshot at `snapshotIndex` (> 0): the last one whose
 * firstIndex <= snapshotIndex. Its start predates the snapshot's marker and every entry after
 * the snapshot, so nothing before it is needed. Returns -1 when every segment starts later.
 */
export function startSegmentFor(segments: readonly SegmentName[], snapshotIndex: number): number {
  for (let i = segments.length - 1; i >= 0; i--) {
    if (segments[i]!.firstIndex <= snapshotIndex) return i
  }
  return -1
}
