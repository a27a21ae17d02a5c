/**
 * The `wal/*` handlers: the WAL inspector. Given a directory on the host — a raftdesk node's
 * data directory or its wal/, a real etcd member's data directory, member/ or member/wal — they
 * find the segments, tell the format from the first record (raftdesk's opens with a crc-seed
 * record of type 5 in an aligned header; etcd's with a length field and a walpb crc record),
 * and read records page by page, decoded, with the crc chain checked. Verify scans every
 * segment in order with progress and can be stopped between segments.
 *
 * Read-only: a running node's log can be read while it appends (its last segment may then end
 * in a batch being written, which is reported as a torn tail, as a crash would leave it).
 */
import { open, readdir, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type {
  WalDamage,
  WalFormat,
  WalPage,
  WalRecordView,
  WalSegmentView,
  WalSource,
  WalSummary,
} from '../../contract'
import { NotFoundError, ValidationError } from '../errors'
import { describeLogEntry } from '../server/entry-text'
import { looksLikeEtcdSegment, scanEtcdSegment } from '../wal/etcd-wal'
import { scanSegment } from '../wal/reader'
import {
  RECORD_TYPE,
  decodeEntry,
  decodeHardState,
  decodeSnapshotMarker,
  recordBytes,
  recordTypeName,
} from '../wal/record'
import { parseSegmentName } from '../wal/segment'
import { WAL_DEFAULTS } from '../wal/wal'
import type { Handlers } from './router'
import type { TopicHandlers } from './topics'

/** Records one page holds at most. */
export const WAL_PAGE_MAX = 500

async function segmentsIn(dir: string): Promise<WalSegmentView[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  const segs = names
    .map((name) => ({ name, parsed: parseSegmentName(name) }))
    .filter((s) => s.parsed !== undefined)
    .sort((a, b) => a.parsed!.seq - b.parsed!.seq)
  return Promise.all(
    segs.map(async (s) => ({
      name: s.name,
      seq: s.parsed!.seq,
      firstIndex: s.parsed!.firstIndex,
      bytes: (await stat(join(dir, s.name))).size,
    })),
  )
}

async function formatOf(path: string): Promise<WalFormat> {
  const fh = await open(path, 'r')
  try {
    const head = Buffer.alloc(16)
    await fh.read(head, 0, 16, 0)
    if (looksLikeEtcdSegment(head)) return 'etcd'
    if (head[4] === RECORD_TYPE.crcSeed && head[5] === 0 && head[6] === 0) return 'raftdesk'
    throw new ValidationError(
      'NOT_A_WAL',
      `${path} is neither a raftdesk nor an etcd WAL segment (its first record is neither kind)`,
    )
  } finally {
    await fh.close()
  }
}

/** Finds the segments under what a person pointed at. */
export async function openWalDir(given: string): Promise<WalSummary> {
  if (!given.trim()) throw new ValidationError('NO_DIRECTORY', 'name a directory to open')
  const base = resolve(given)
  for (const dir of [join(base, 'wal'), join(base, 'member', 'wal'), base]) {
    const segments = await segmentsIn(dir)
    if (segments.length === 0) continue
    const format = await formatOf(join(dir, segments[0]!.name))
    return { dir, format, segments, bytes: segments.reduce((a, s) => a + s.bytes, 0) }
  }
  throw new NotFoundError(
    'NO_WAL',
    `no WAL segments (*.wal) in ${base}, ${join(base, 'wal')} or ${join(base, 'member', 'wal')}`,
  )
}

const hexName = (id: number) => id.toString(16)

/** One raftdesk segment, every record decoded, [from, from + limit) kept. */
async function raftdeskPage(
  path: string,
  from: number,
  limit: number,
): Promise<{ records: WalRecordView[]; total: number; damage?: Omit<WalDamage, 'segment'> }> {
  const records: WalRecordView[] = []
  let n = 0
  const result = await scanSegment(path, WAL_DEFAULTS.recordBytesMax, (r) => {
    const i = n++
    if (i < from || records.length >= limit) return undefined
    const type = recordTypeName(r.type)!
    const view: WalRecordView = {
      offset: r.offset,
      bytes: recordBytes(r.payloadBytes),
      type: type === 'crcSeed' ? 'crc' : type,
      crcOk: true,
    }
    if (r.type === RECORD_TYPE.entry) {
      const e = decodeEntry(r.buf, r.payloadStart, r.payloadBytes)
      if (typeof e === 'string') return e
      const d = describeLogEntry(e, hexName)
      Object.assign(view, { index: e.index, term: e.term, entryType: d.type, op: d.op })
    } else if (r.type === RECORD_TYPE.snapshot) {
      const m = decodeSnapshotMarker(r.buf, r.payloadStart, r.payloadBytes)
      if (typeof m === 'string') return m
      Object.assign(view, { index: m.index, term: m.term })
    } else if (r.type === RECORD_TYPE.hardState) {
      const hs = decodeHardState(r.buf, r.payloadStart, r.payloadBytes)
      if (typeof hs === 'string') return hs
      Object.assign(view, {
        term: hs.term,
        vote: hs.vote === 0 ? '' : hexName(hs.vote),
        commit: hs.commit,
      })
    }
    records.push(view)
    return undefined
  })
  return {
    records,
    total: result.records,
    ...(result.damage ? { damage: result.damage } : {}),
  }
}

async function page(dir: string, segment: string, from: number, limit: number): Promise<WalPage> {
  const summary = await openWalDir(dir)
  const seg = summary.segments.find((s) => s.name === segment)
  if (!seg) {
    throw new NotFoundError('NO_SEGMENT', `no segment ${segment} in ${summary.dir}`)
  }
  const path = join(summary.dir, seg.name)
  const got =
    summary.format === 'raftdesk'
      ? await raftdeskPage(path, from, limit)
      : await scanEtcdSegment(path, { keepFrom: from, keepMax: limit })
  return {
    segment,
    from,
    records: got.records,
    total: got.total,
    ...(got.damage ? { damage: { segment, ...got.damage } } : {}),
  }
}

/** The local nodes' data directories (empty when this host runs no local cluster). */
export interface WalSourcesPort {
  list(): Array<{ name: string; dataDir: string }>
}

export function createWalHandlers(
  local: Promise<WalSourcesPort> | undefined,
): Pick<Handlers, 'wal/sources' | 'wal/open' | 'wal/records'> {
  return {
    'wal/sources': async (): Promise<WalSource[]> => {
      const port = await local?.catch(() => undefined)
      return (port?.list() ?? []).map((n) => ({ name: n.name, dir: n.dataDir }))
    },
    'wal/open': ({ dir }) => openWalDir(dir),
    'wal/records': ({ dir, segment, from, limit }) =>
      page(dir, segment, from, Math.min(limit, WAL_PAGE_MAX)),
  }
}

export function createWalTopics(): Pick<TopicHandlers, 'wal/verify'> {
  return {
    'wal/verify': async ({ dir }, sink) => {
      const summary = await openWalDir(dir)
      let stopped = false
      void (async () => {
        const progress = {
          segments: summary.segments.length,
          segmentsDone: 0,
          bytes: summary.bytes,
          bytesDone: 0,
          records: 0,
          problems: [] as WalDamage[],
          done: false,
        }
        let etcdCrc = 0
        for (const seg of summary.segments) {
          if (stopped) return
          const path = join(summary.dir, seg.name)
          const last = seg === summary.segments.at(-1)
          let damage: Omit<WalDamage, 'segment'> | undefined
          if (summary.format === 'raftdesk') {
            const r = await scanSegment(path, WAL_DEFAULTS.recordBytesMax, () => undefined)
            progress.records += r.records
            damage = r.damage
          } else {
            const r = await scanEtcdSegment(path, { crcIn: etcdCrc, keepMax: 0 })
            progress.records += r.total
            etcdCrc = r.crc
            damage = r.damage
          }
          if (damage) {
            // Torn damage is what a crash leaves, and only at the end of the log.
            progress.problems.push({ segment: seg.name, ...damage, torn: damage.torn && last })
          }
          progress.segmentsDone++
          progress.bytesDone += seg.bytes
          sink.emit({ ...progress, problems: [...progress.problems] })
          await sink.drained()
        }
        if (!stopped) sink.emit({ ...progress, problems: [...progress.problems], done: true })
      })().catch((err: unknown) => sink.fail(err))
      return () => {
        stopped = true
      }
    },
  }
}
