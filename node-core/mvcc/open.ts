/**
 * Opening a store: everything load() (store.ts) swaps in, read from the database without
 * touching the live store. The format marker is checked (a new directory gets one), the state
 * entry, leases, auth and alarm records are read, and the key index is rebuilt: from the index
 * checkpoint when it was written at exactly the current state (checkpoint.ts), otherwise by one
 * ordered scan of the records (after a crash).
 */
import type { Db } from './db'
import { decodeCheckpoint, decodeCheckpointMeta } from './checkpoint'
import { CorruptionError } from './errors'
import { KeyIndex, type History } from './key-index'
import { keyStringAt, type KeyString } from './keys'
import {
  checkpointChunkKey,
  decodeFormat,
  decodeRecord,
  decodeState,
  encodeFormat,
  encodeState,
  FORMAT_VERSION,
  META_CHECKPOINT_KEY,
  META_FORMAT_KEY,
  META_STATE_KEY,
  recordKeyLowerBound,
  SPACE_CHECKPOINT,
  SPACE_LEASE,
  SPACE_RECORD,
  type StoreState,
} from './layout'
import { SPACE_AUTH } from './auth'
import { SPACE_ALARM } from './alarms'
import { readBigUint64, readUint64 } from './revision'
import type { LeaseId } from './types'

/** The reopen scan reads records in chunks of this many, or this many bytes. */
const SCAN_CHUNK_RECORDS = 4096
const SCAN_CHUNK_BYTES = 2 * 1024 * 1024

/**
 * How the last open (or restore) rebuilt the index: from the checkpoint or by scanning the
 * records, how many records and keys, and the time taken to read and to build.
 */
export interface LoadStats {
  source: 'scan' | 'checkpoint'
  records: number
  keys: number
  scanMs: number
  buildMs: number
}

interface RebuiltIndex {
  index: KeyIndex
  /** Each key's lease, for the keys that have one. */
  leased: Iterable<[KeyString, LeaseId]>
  stats: LoadStats
}

/** Everything a store holds in memory, as read from its database. */
export interface StoreOnDisk extends RebuiltIndex {
  state: StoreState
  /** Each lease and its TTL in seconds. */
  leases: Array<[LeaseId, number]>
  authRecords: Array<{ key: Uint8Array; value: Uint8Array }>
  alarmRecords: Array<{ key: Uint8Array; value: Uint8Array }>
  /** LevelDB keys of the index checkpoint on disk (the next batch written deletes them). */
  checkpointKeys: Uint8Array[]
}

/** Reads an open database (a new, empty one gets its format marker and first state). */
export async function readStore(db: Db, dir: string): Promise<StoreOnDisk> {
  const format = await db.get(META_FORMAT_KEY)
  const stateBytes = await db.get(META_STATE_KEY)
  // A new store is at revision 1, like etcd's: its first write is revision 2.
  let state: StoreState = { consistentIndex: 0, revision: 1, compactedRevision: 0 }
  if (format === undefined) {
    const any = await db.keys({ limit: 1 }).all()
    if (any.length > 0) throw new CorruptionError(`${dir}: data without a format marker`)
    await db.batch([
      { type: 'put', key: META_FORMAT_KEY, value: encodeFormat() },
      { type: 'put', key: META_STATE_KEY, value: encodeState(state) },
    ])
  } else {
    const version = decodeFormat(format)
    if (version !== FORMAT_VERSION) {
      throw new CorruptionError(
        `${dir}: store format ${version}, this build reads ${FORMAT_VERSION}`,
      )
    }
    if (stateBytes === undefined) throw new CorruptionError(`${dir}: no state entry`)
    state = decodeState(stateBytes)
  }
  const leases: Array<[LeaseId, number]> = []
  for await (const [key, value] of db.iterator(space(SPACE_LEASE))) {
    leases.push([readBigUint64(key, 1), readUint64(value, 0)])
  }
  const records = async (id: number) =>
    (await db.iterator(space(id)).all()).map(([key, value]) => ({ key, value }))
  const authRecords = await records(SPACE_AUTH)
  const alarmRecords = await records(SPACE_ALARM)
  const checkpointKeys = await checkpointKeysOnDisk(db)
  const rebuilt = (await loadCheckpoint(db, state)) ?? (await rebuildByScan(db, state))
  return { state, leases, authRecords, alarmRecords, checkpointKeys, ...rebuilt }
}

/** The LevelDB keys of one space (their first byte). */
function space(id: number): { gte: Uint8Array; lt: Uint8Array } {
  return { gte: new Uint8Array([id]), lt: new Uint8Array([id + 1]) }
}

/** Every LevelDB key of a checkpoint (meta and chunks), valid or not. */
async function checkpointKeysOnDisk(db: Db): Promise<Uint8Array[]> {
  const space = {
    gte: new Uint8Array([SPACE_CHECKPOINT]),
    lt: new Uint8Array([SPACE_CHECKPOINT + 1]),
  }
  const keys: Uint8Array[] = await db.keys(space).all()
  if ((await db.get(META_CHECKPOINT_KEY)) !== undefined) keys.push(META_CHECKPOINT_KEY)
  return keys
}

/** The index from the checkpoint, if there is one written at exactly `state` and intact. */
async function loadCheckpoint(db: Db, state: StoreState): Promise<RebuiltIndex | null> {
  const metaBytes = await db.get(META_CHECKPOINT_KEY)
  if (metaBytes === undefined) return null
  const readStart = performance.now()
  try {
    const meta = decodeCheckpointMeta(metaBytes)
    if (
      meta.consistentIndex !== state.consistentIndex ||
      meta.revision !== state.revision ||
      meta.compactedRevision !== state.compactedRevision
    ) {
      return null // stale: written before batches that were applied since
    }
    const chunks = await db
      .values({ gte: checkpointChunkKey(0), lt: new Uint8Array([SPACE_CHECKPOINT + 1]) })
      .all()
    const buildStart = performance.now()
    const decoded = decodeCheckpoint(chunks, meta)
    const index = KeyIndex.fromSorted(decoded.keys, decoded.histories)
    const stats: LoadStats = {
      source: 'checkpoint',
      records: 0,
      keys: index.size,
      scanMs: buildStart - readStart,
      buildMs: performance.now() - buildStart,
    }
    return { index, leased: decoded.leased, stats }
  } catch (err) {
    // A damaged checkpoint is only a lost shortcut: the records are the truth.
    if (err instanceof CorruptionError) return null
    throw err
  }
}

async function rebuildByScan(db: Db, state: StoreState): Promise<RebuiltIndex> {
  const scanStart = performance.now()
  const { histories, leased, records } = await scanRecords(db, state)
  const buildStart = performance.now()
  const index = KeyIndex.fromHistories(histories)
  const stats: LoadStats = {
    source: 'scan',
    records,
    keys: index.size,
    scanMs: buildStart - scanStart,
    buildMs: performance.now() - buildStart,
  }
  return { index, leased, stats }
}

/**
 * One forward scan of the records, in revision order, replaying them into key histories. Only
 * values are read (a record names its own revision), and LevelDB reads the next chunk while
 * this one is replayed.
 */
async function scanRecords(
  db: Db,
  state: StoreState,
): Promise<{
  histories: Map<KeyString, History>
  leased: Map<KeyString, LeaseId>
  records: number
}> {
  const histories = new Map<KeyString, History>()
  const leased = new Map<KeyString, LeaseId>()
  const it = db.values({
    gte: recordKeyLowerBound(0),
    lt: new Uint8Array([SPACE_RECORD + 1]),
    highWaterMarkBytes: SCAN_CHUNK_BYTES,
  })
  let previousMain = 0
  let previousSub = -1
  let records = 0
  let next = it.nextv(SCAN_CHUNK_RECORDS)
  try {
    for (;;) {
      const chunk = await next
      if (chunk.length === 0) break
      next = it.nextv(SCAN_CHUNK_RECORDS)
      records += chunk.length
      for (const record of chunk) {
        const rec = decodeRecord(record)
        if (rec.main < previousMain || (rec.main === previousMain && rec.sub <= previousSub)) {
          throw new CorruptionError(
            `record ${rec.main}/${rec.sub} follows ${previousMain}/${previousSub}`,
          )
        }
        previousMain = rec.main
        previousSub = rec.sub
        const key = keyStringAt(record, rec.keyStart, rec.keyEnd)
        KeyIndex.restore(
          histories,
          key,
          rec.main,
          rec.sub,
          rec.tombstone,
          rec.createRevision,
          rec.version,
        )
        if (rec.lease !== 0n) leased.set(key, rec.lease)
        else if (leased.size > 0) leased.delete(key)
      }
    }
  } finally {
    await next.catch(() => undefined)
    await it.close()
  }
  if (previousMain > state.revision) {
    throw new CorruptionError(
      `record at revision ${previousMain} above the store revision ${state.revision}`,
    )
  }
  return { histories, leased, records }
}
