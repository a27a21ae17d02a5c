/**
 * The key-value state machine of a node: etcd's MVCC store over classic-level.
 *
 * Contract with the server (the Ready loop):
 * - applyBatch(items) applies one batch of committed entries, in index order. Entries at or
 *   below the consistent index (the last applied raft index, durable in the store) are skipped:
 *   re-applying after a crash is a no-op. `op: null` (conf changes, empty entries) only advances
 *   the consistent index. Results come back positionally: a WriteResult per applied op, null for
 *   skipped and null ops. A refused op (bad request, missing lease, compacted revision...) gives
 *   `{ error: { code, message } }`, identically on every node.
 * - One batch is one classic-level batch write: the records, lease changes, compaction deletes
 *   and the new state (consistent index, revision, compacted revision). Only when it is written
 *   do reads see the batch and do watchers get its events. Calls are queued: a second
 *   applyBatch waits for the first.
 * - The batch write is not fsync'd by default (syncWrites: false): the raft WAL, fsync'd before
 *   entries are applied, is what makes them durable. A machine crash that loses the tail of the
 *   LevelDB log loses only entries that the WAL replays again (their indexes are above the
 *   durable consistent index). A process crash loses nothing that was written.
 * - If a batch write fails, the in-memory state is ahead of the disk: the store fails (every
 *   later call throws StoreFailedError) and the node must restart and re-apply.
 *
 * Revisions: a new store is at revision 1, as etcd's is, so its first write is revision 2 and
 * clients see the same numbers from raftdesk as from etcd.
 *
 * Reads (range) are synchronous and see the last written batch: the key index answers for the
 * published revision (revisions of a batch in progress are above it, so invisible), and records
 * come from the record cache (record-cache.ts) or from LevelDB. Only a compaction deletes
 * records, so while a batch with a compaction is being written, reads use a LevelDB snapshot of
 * the state before it: a compaction in flight cannot pull records out from under a read. The
 * byte arrays in results are views of shared buffers (the cache): callers must not modify them.
 *
 * Writes inside a batch (apply.ts): each op is first checked against the state so far (validate,
 * may throw a typed error: the op is refused and nothing changes), then executed (must not fail;
 * anything thrown there is a bug and fails the store). A txn's compares are all evaluated against the
 * state before the txn, nested ones included, as etcd does; its writes share one main revision
 * with sub revisions 0, 1, 2... in execution order.
 *
 * Compaction deletes, in the same batch, every record no read at or above the compaction
 * revision can need (key-index.ts explains which, and why a deletion at exactly that revision
 * stays for watchers); the index forgets them once the batch is written. `physical` is accepted
 * and has no effect: removal is always immediate.
 *
 * Restart: openStore() resumes at the consistent index; open.ts reads the database, rebuilding
 * the key index from the index checkpoint written by the last clean close() when that is exactly
 * current (checkpoint.ts), and otherwise (after a crash) with one ordered scan of the records.
 * Snapshots: snapshotImage() streams the state (image.ts) from a LevelDB snapshot;
 * restoreFromImage() builds a new database beside the current one and swaps the directories
 * (`<dir>.restore` -> `<dir>`), so a crash leaves either the old or the new
 * store, never a mix (openStore finishes or discards an interrupted swap).
 */
import { finishInterruptedRestore, openDb, openOrExplain, type Db, type DbSnapshot } from './db'
import { stageImage } from './image-restore'
import { readdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32c } from '@node-rs/crc32'
import {
  CompactedError,
  CorruptionError,
  FutureRevisionError,
  InvalidArgumentError,
  StoreClosedError,
  StoreFailedError,
  StoreRestoringError,
} from './errors'
import { encodeCheckpoint, encodeCheckpointMeta } from './checkpoint'
import { encodeImage, type ImageEntry } from './image'
import { KeyIndex } from './key-index'
import { inRange, keyStringAt, type KeyRange, type KeyString } from './keys'
import {
  checkpointChunkKey,
  checkRecordKey,
  decodeRecord,
  encodeState,
  META_CHECKPOINT_KEY,
  META_STATE_KEY,
  recordKey,
  recordKeyBytes,
  recordKeyLowerBound,
  recordKeyValue,
  SPACE_CHECKPOINT,
  SPACE_META,
  SPACE_RECORD,
  type StoreState,
} from './layout'
import { Lessor, type LessorOptions } from './lessor'
import { AuthState, SPACE_AUTH, type AuthInfo } from './auth'
import { AlarmSet } from './alarms'
import { executeRange, type ReadView } from './read'
import type { Event, KeyValue, RangeRequest, RangeResponse, WriteOp, WriteResult } from './types'
import { checkRangeRequest, DEFAULT_REQUEST_LIMITS, type RequestLimits } from './validate'
import { WatchHub, type WatchOptions, type Watcher, type WatchRequest } from './watch'
import { RecordCache } from './record-cache'
import { BatchContext, OpApplier } from './apply'
import { readStore, type LoadStats } from './open'

export interface StoreLimits extends RequestLimits {
  /** Bytes of keys and values one range may return. */
  rangeBytesMax: number
  /** Bytes of records kept in memory for point reads (record-cache.ts). */
  recordCacheBytesMax: number
  /** Items in one applyBatch call. */
  batchItemsMax: number
}

export const DEFAULT_STORE_LIMITS: StoreLimits = {
  ...DEFAULT_REQUEST_LIMITS,
  rangeBytesMax: 256 * 1024 * 1024,
  recordCacheBytesMax: 64 * 1024 * 1024,
  batchItemsMax: 100_000,
}

export interface StoreOptions {
  limits?: Partial<StoreLimits>
  lessor?: Partial<LessorOptions>
  watch?: Partial<WatchOptions>
  /** fsync every batch write (default false: the WAL carries durability, see above). */
  syncWrites?: boolean
  /** Write the index checkpoint on close (default true; checkpoint.ts). */
  checkpointOnClose?: boolean
}

export interface ApplyItem {
  index: number
  op: WriteOp | null
  /** Who proposed the write, as its token said when it arrived (auth.ts); absent: nobody. */
  who?: AuthInfo
}

const EMPTY = new Uint8Array(0)
const ITERATOR_CHUNK = 1000

/**
 * A LevelDB snapshot shared by its users (reads while a compaction is written, a history read, a
 * snapshot image); closed when the last one releases it.
 */
class SharedSnapshot {
  private refs = 1
  constructor(readonly snap: DbSnapshot) {}

  acquire(): this {
    this.refs++
    return this
  }

  release(): void {
    this.refs--
    // Closing a read snapshot can only fail when its database is already closed (after a
    // restore or close), which released it anyway; nothing is lost either way.
    if (this.refs === 0) this.snap.close().catch(() => undefined)
  }
}

export async function openStore(dir: string, opts: StoreOptions = {}): Promise<MvccStore> {
  await finishInterruptedRestore(dir)
  const store = new MvccStore(dir, opts)
  try {
    await store.load()
  } catch (err) {
    // Refused (corrupt, foreign): do not keep the database locked.
    await store.abandon()
    throw err
  }
  return store
}

export class MvccStore {
  readonly dir: string
  readonly lessor: Lessor
  /** Users, roles, permissions; changed only by applied 'auth' ops (auth.ts). */
  readonly auth = new AuthState()
  /** Raised alarms; NOSPACE and CORRUPT cap what may be applied (alarms.ts). */
  readonly alarms = new AlarmSet()
  readonly limits: StoreLimits
  private readonly hub: WatchHub
  private readonly syncWrites: boolean
  private db: Db
  private index = new KeyIndex()
  private state: StoreState = { consistentIndex: 0, revision: 1, compactedRevision: 0 }
  /**
   * While a batch that deletes records (a compaction) is being written: a LevelDB snapshot of
   * the state before it, for reads of the published state. Other batches only add records above
   * the published revision, which reads never ask for, so they need no snapshot.
   */
  private guard: SharedSnapshot | null = null
  private readonly cache: RecordCache
  /** Checks and executes each op of a batch (apply.ts). */
  private readonly applier: OpApplier
  private readonly checkpointOnClose: boolean
  /** LevelDB keys of the index checkpoint on disk: deleted by the next batch written. */
  private checkpointKeys: Uint8Array[] = []
  /** Serialises applyBatch, restoreFromImage and the pinning of snapshot images. */
  private tail: Promise<void> = Promise.resolve()
  private failure: StoreFailedError | null = null
  private closed = false
  /** Bumped whenever the database is replaced (restore): long reads notice and start over. */
  private epoch = 0
  /** Set while a restore swaps the database; reads wait for it (async) or are refused (sync). */
  private swapping: Promise<void> | null = null

  constructor(dir: string, opts: StoreOptions) {
    this.dir = dir
    this.limits = { ...DEFAULT_STORE_LIMITS, ...opts.limits }
    this.lessor = new Lessor(opts.lessor)
    this.syncWrites = opts.syncWrites === true
    this.checkpointOnClose = opts.checkpointOnClose !== false
    this.cache = new RecordCache(this.limits.recordCacheBytesMax)
    this.db = openDb(dir)
    this.hub = new WatchHub(this, opts.watch)
    // Getters: the index and the database are replaced on open and restore.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const store = this
    this.applier = new OpApplier({
      get index() {
        return store.index
      },
      get db() {
        return store.db
      },
      lessor: this.lessor,
      auth: this.auth,
      alarms: this.alarms,
      limits: this.limits,
      cache: this.cache,
    })
  }

  /** Last raft index applied (durable). */
  get consistentIndex(): number {
    return this.state.consistentIndex
  }

  /** The published (current) revision. */
  get revision(): number {
    return this.state.revision
  }

  get compactedRevision(): number {
    return this.state.compactedRevision
  }

  /**
   * How the last open (or restore) rebuilt the index: from the checkpoint or by scanning the
   * records, how many records and keys, and the time taken to read and to build.
   */
  loadStats: LoadStats = { source: 'scan', records: 0, keys: 0, scanMs: 0, buildMs: 0 }

  /** Keys in the index (including deleted ones not compacted yet). */
  get indexedKeys(): number {
    return this.index.size
  }

  get watchers(): number {
    return this.hub.size
  }

  // ---- open and rebuild ---------------------------------------------------------------------

  /**
   * Opens the database and rebuilds the in-memory state from it (openStore calls this). Reads
   * everything first and swaps it in synchronously at the end, so nobody sees a half-loaded store.
   */
  async load(): Promise<void> {
    await openOrExplain(this.db, this.dir)
    const { state, leases, authRecords, alarmRecords, checkpointKeys, index, leased, stats } =
      await readStore(this.db, this.dir)
    // Everything is read: swap it in without yielding.
    this.auth.load(authRecords)
    this.alarms.load(alarmRecords)
    this.lessor.reset()
    for (const [id, ttlSeconds] of leases) this.lessor.load(id, ttlSeconds)
    for (const [key, lease] of leased) {
      if (!this.lessor.has(lease)) {
        throw new CorruptionError(
          `key ${JSON.stringify(key)} is attached to lease ${lease}, which does not exist`,
        )
      }
      this.lessor.attach(key, lease)
    }
    this.index = index
    this.state = state
    this.checkpointKeys = checkpointKeys
    this.loadStats = stats
    this.cache.clear()
  }

  /** Writes the index checkpoint (close() does, when the store is healthy). */
  private async writeCheckpoint(): Promise<void> {
    const { chunks, keys, crc } = encodeCheckpoint(this.index.entries(), (key) =>
      this.lessor.leaseOf(key),
    )
    const meta = { ...this.state, chunks: chunks.length, crc, keys }
    const batch = this.db.batch()
    for (const key of this.checkpointKeys) batch.del(key)
    chunks.forEach((chunk, i) => batch.put(checkpointChunkKey(i), chunk))
    batch.put(META_CHECKPOINT_KEY, encodeCheckpointMeta(meta))
    await batch.write({ sync: this.syncWrites })
  }

  // ---- reads ----------------------------------------------------------------------------------

  private check(): void {
    if (this.failure !== null) throw this.failure
    if (this.closed) throw new StoreClosedError()
  }

  /** check(), and refuse while the database is being swapped (synchronous reads cannot wait). */
  private checkReadable(): void {
    this.check()
    if (this.swapping !== null) throw new StoreRestoringError()
  }

  /** A record of the published state: from the cache, else from disk (see `guard`). */
  private readPublished(main: number, sub: number): Uint8Array | undefined {
    let record = this.cache.get(main, sub)
    if (record !== undefined) return record
    const key = recordKey(main, sub, false)
    record =
      this.guard === null
        ? this.db.getSync(key)
        : this.db.getSync(key, { snapshot: this.guard.snap })
    if (record !== undefined) this.cache.set(main, sub, record)
    return record
  }

  private publishedView(): ReadView {
    return {
      index: this.index,
      revision: this.state.revision,
      compactedRevision: this.state.compactedRevision,
      record: (main, sub) => this.readPublished(main, sub),
    }
  }

  /** etcd's Range, at the published state. Synchronous. */
  range(req: RangeRequest): RangeResponse {
    this.checkReadable()
    checkRangeRequest(req, this.limits)
    return executeRange(this.publishedView(), req, this.limits.rangeBytesMax)
  }

  // ---- applying -------------------------------------------------------------------------------

  /** Runs `fn` after everything queued before it (applies, restores, image pins). */
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn)
    this.tail = run.then(
      () => undefined,
      () => undefined,
    )
    return run
  }

  applyBatch(items: ApplyItem[]): Promise<Array<WriteResult | null>> {
    return this.enqueue(() => this.applyNow(items))
  }

  private async applyNow(items: ApplyItem[]): Promise<Array<WriteResult | null>> {
    this.check()
    if (items.length > this.limits.batchItemsMax) {
      throw new RangeError(`applyBatch: ${items.length} items, limit ${this.limits.batchItemsMax}`)
    }
    const ctx = new BatchContext(this.state.revision, this.state.compactedRevision)
    const results: Array<WriteResult | null> = []
    let lastIndex = this.state.consistentIndex
    try {
      for (const item of items) {
        const { index, op } = item
        if (!Number.isSafeInteger(index) || index < 1)
          throw new RangeError(`applyBatch: bad index ${index}`)
        if (index <= this.state.consistentIndex) {
          results.push(null)
          continue
        }
        if (index <= lastIndex) {
          throw new RangeError(
            `applyBatch: index ${index} after ${lastIndex}: indexes must increase`,
          )
        }
        lastIndex = index
        results.push(op === null ? null : this.applier.applyOp(ctx, index, op, item.who))
      }
    } catch (err) {
      // Only a broken invariant gets here (typed refusals become error results). Whatever the
      // ops did to the index so far cannot be undone: the store is unusable.
      throw this.fail(err)
    }
    if (lastIndex === this.state.consistentIndex) return results
    const next: StoreState = {
      consistentIndex: lastIndex,
      revision: ctx.rev,
      compactedRevision: ctx.compactRev,
    }
    ctx.ops.push({ type: 'put', key: META_STATE_KEY, value: encodeState(next) })
    // The checkpoint describes the state before this batch: it goes with it.
    for (const key of this.checkpointKeys) ctx.ops.push({ type: 'del', key })
    if (ctx.compactDropped > 0) this.guard = new SharedSnapshot(this.db.snapshot())
    try {
      // A chained batch costs less per operation than db.batch(array) in abstract-level.
      const batch = this.db.batch()
      for (const op of ctx.ops) {
        if (op.type === 'put') batch.put(op.key, op.value)
        else batch.del(op.key)
      }
      await batch.write({ sync: this.syncWrites })
    } catch (err) {
      throw this.fail(err)
    }
    this.guard?.release()
    this.guard = null
    this.checkpointKeys = []
    this.publish(ctx, next)
    return results
  }

  private fail(err: unknown): StoreFailedError {
    if (this.failure === null)
      this.failure = err instanceof StoreFailedError ? err : new StoreFailedError(err)
    return this.failure
  }

  /** The batch is on disk: make it visible to reads and watchers. */
  private publish(ctx: BatchContext, next: StoreState): void {
    if (next.compactedRevision > this.state.compactedRevision) {
      const dropped = this.index.compact(next.compactedRevision)
      if (dropped !== ctx.compactDropped) {
        throw this.fail(
          new Error(
            `compaction at ${next.compactedRevision} dropped ${dropped} revisions from the index, ${ctx.compactDropped} from disk`,
          ),
        )
      }
    }
    this.state = next
    this.hub.publish(ctx.changes, next.revision)
  }

  // ---- watches --------------------------------------------------------------------------------

  /** Opens a watcher (see watch.ts). Throws WatchersLimitError at the limit. */
  watch(req: WatchRequest): Watcher {
    this.check()
    checkRangeRequest({ key: req.key, rangeEnd: req.rangeEnd }, this.limits)
    return this.hub.watch(req)
  }

  /** Progress notification for every idle synced watcher (the server's progress ticker). */
  notifyProgress(): void {
    this.hub.notifyProgress()
  }

  /** HistorySource: the value `key` had just before `modRevision` (published state). */
  prevKvOf(key: KeyString, modRevision: number): KeyValue | undefined {
    const atRev = modRevision - 1
    // Like etcd: no prevKv when the revision before the event has been compacted.
    if (atRev < this.state.compactedRevision) return undefined
    const at = this.index.get(key, atRev)
    if (at === undefined) return undefined
    const bytes = this.readPublished(at.main, at.sub)
    if (bytes === undefined) return undefined
    return recordKeyValue(bytes, decodeRecord(bytes))
  }

  /** HistorySource: events of [fromRev, toRev] in `range` from the records on disk. */
  async readHistory(
    range: KeyRange,
    fromRev: number,
    toRev: number,
    eventsMax: number,
    prevKv: boolean,
  ): Promise<{ events: Event[]; throughRev: number }> {
    while (this.swapping !== null) await this.swapping
    this.check()
    if (fromRev < this.state.compactedRevision)
      throw new CompactedError(this.state.compactedRevision)
    const epoch = this.epoch
    // An iterator reads the database as of its creation; while a compaction is being written,
    // read the state before it instead, like every read of the published state.
    const guard = this.guard?.acquire()
    const through = Math.min(toRev, this.state.revision)
    const events: Event[] = []
    let throughRev = fromRev - 1
    // Reading records that no watcher wants still takes time: stop after this many as well.
    const scanMax = Math.max(eventsMax * 10, ITERATOR_CHUNK)
    let scanned = 0
    const it = this.db.iterator({
      gte: recordKeyLowerBound(fromRev),
      lt: recordKeyLowerBound(through + 1),
      ...(guard === undefined ? {} : { snapshot: guard.snap }),
    })
    try {
      let main = -1
      reading: for (;;) {
        const chunk = await it.nextv(ITERATOR_CHUNK)
        if (chunk.length === 0) {
          throughRev = through
          break
        }
        for (const [dbKey, record] of chunk) {
          const rec = decodeRecord(record)
          checkRecordKey(dbKey, rec)
          if (rec.main !== main) {
            // A revision boundary: the revision before is complete.
            if (main !== -1) throughRev = main
            if (events.length >= eventsMax || scanned >= scanMax) break reading
            main = rec.main
          }
          scanned++
          const key = keyStringAt(record, rec.keyStart, rec.keyEnd)
          if (!inRange(range, key)) continue
          const kv: KeyValue = rec.tombstone
            ? {
                key: recordKeyBytes(record, rec),
                createRevision: 0,
                modRevision: rec.main,
                version: 0,
                value: EMPTY,
                lease: 0n,
              }
            : recordKeyValue(record, rec)
          const ev: Event = { type: rec.tombstone ? 'delete' : 'put', kv }
          const prev = prevKv ? this.prevKvOf(key, rec.main) : undefined
          events.push(prev === undefined ? ev : { ...ev, prevKv: prev })
        }
      }
    } catch (err) {
      // The database was swapped by a restore while we read: report no progress, the watcher
      // tries again against the new one.
      if (this.epoch !== epoch) return { events: [], throughRev: fromRev - 1 }
      throw err
    } finally {
      await it.close().catch(() => undefined)
      guard?.release()
    }
    return { events, throughRev }
  }

  // ---- snapshots ------------------------------------------------------------------------------

  /**
   * The whole state as an image stream (image.ts), at the state after every applyBatch called
   * before this call (and before any called after it). Read from a LevelDB snapshot: applying
   * goes on meanwhile. Iterate it to the end or stop early (return()); an image that is never
   * iterated holds its LevelDB snapshot until the store closes.
   */
  snapshotImage(): AsyncIterable<Uint8Array> {
    const pinned = this.pinState()
    const db = this.db
    async function* image(): AsyncGenerator<Uint8Array> {
      const { snapshot, state } = await pinned
      try {
        yield* encodeImage(state, readEntries(db, snapshot, STATE_SPACES))
      } finally {
        snapshot.release()
      }
    }
    return { [Symbol.asyncIterator]: () => image() }
  }

  /**
   * Replaces the whole state with the image in `stream`, which becomes the state at raft index
   * `consistentIndex`. Watchers catch up again from the new history. On a bad image the store is
   * left as it was.
   */
  restoreFromImage(stream: AsyncIterable<Uint8Array>, consistentIndex: number): Promise<void> {
    if (!Number.isSafeInteger(consistentIndex) || consistentIndex < 0) {
      return Promise.reject(
        new InvalidArgumentError(`restore: consistent index ${consistentIndex}`),
      )
    }
    return this.enqueue(() => this.restoreNow(stream, consistentIndex))
  }

  private async restoreNow(
    stream: AsyncIterable<Uint8Array>,
    consistentIndex: number,
  ): Promise<void> {
    this.check()
    const staged = `${this.dir}.restore`
    await stageImage(staged, stream, consistentIndex)
    // From here on a failure leaves the store unusable (its database is closed or half swapped).
    let swapped = () => {}
    this.swapping = new Promise((resolve) => (swapped = resolve))
    try {
      this.epoch++
      await this.db.close()
      await rename(this.dir, `${this.dir}.old`)
      await rename(staged, this.dir)
      await rm(`${this.dir}.old`, { recursive: true, force: true })
      this.db = openDb(this.dir)
      await this.load()
    } catch (err) {
      throw this.fail(err)
    } finally {
      this.swapping = null
      swapped()
    }
    this.hub.resync()
  }

  // ---- closing --------------------------------------------------------------------------------

  /** Closes the database after a failed open, without writing anything. */
  async abandon(): Promise<void> {
    this.closed = true
    this.hub.close()
    if (this.db.status === 'open' || this.db.status === 'opening') await this.db.close()
  }

  /**
   * The bytes the database takes on disk: every file in its directory (tables, the log that holds
   * what is not yet in a table, the manifest). This is etcd's dbSize in Status. LevelDB's own
   * approximateSize counts tables only, and reads 0 for a young database that still fits in its
   * write buffer.
   */
  async sizeOnDiskBytes(): Promise<number> {
    const entries = await readdir(this.dir, { withFileTypes: true })
    const sizes = await Promise.all(
      entries
        .filter((e) => e.isFile())
        .map((e) =>
          stat(join(this.dir, e.name)).then(
            (s) => s.size,
            () => 0, // removed by a compaction meanwhile
          ),
        ),
    )
    return sizes.reduce((a, b) => a + b, 0)
  }

  /**
   * etcd's HashKV: a CRC-32C of every record up to revision `rev` (0: the current revision), as
   * stored (LevelDB key and value), read from one consistent point. Records are written and
   * compacted away in the same batches on every member, so members that applied the same entries
   * give the same hash for the same revision; the compacted revision comes with it, because a
   * compaction changes what is hashed (etcd's callers compare hashes of equal compactions only).
   */
  async hashKV(rev: number): Promise<{ hash: number; revision: number; compactRevision: number }> {
    const { snapshot, state } = await this.pinState()
    try {
      if (rev > 0 && rev <= state.compactedRevision) {
        throw new CompactedError(state.compactedRevision)
      }
      if (rev > state.revision) throw new FutureRevisionError()
      const upTo = rev === 0 ? state.revision : rev
      const hash = await hashEntries(
        readEntries(this.db, snapshot, {
          gte: new Uint8Array([SPACE_RECORD]),
          lt: recordKeyLowerBound(upTo + 1),
        }),
      )
      return { hash, revision: state.revision, compactRevision: state.compactedRevision }
    } finally {
      snapshot.release()
    }
  }

  /** etcd's Hash: a CRC-32C of the whole stored state (leases and records), at one point. */
  async hash(): Promise<{ hash: number; revision: number }> {
    const { snapshot, state } = await this.pinState()
    try {
      const hash = await hashEntries(readEntries(this.db, snapshot, STATE_SPACES))
      return { hash, revision: state.revision }
    } finally {
      snapshot.release()
    }
  }

  /** A LevelDB snapshot of the published state, taken between two applied batches. */
  private pinState(): Promise<{ snapshot: SharedSnapshot; state: StoreState }> {
    this.check()
    return this.enqueue(async () => {
      this.check()
      return { snapshot: new SharedSnapshot(this.db.snapshot()), state: this.state }
    })
  }

  /**
   * etcd's defragmentation, for LevelDB: compacts the whole database, so that the space deleted
   * and overwritten entries (and compacted history) still take is given back. Applies go on
   * meanwhile (LevelDB compacts in the background of its writes).
   */
  async defragment(): Promise<void> {
    this.check()
    await this.db.compactRange(new Uint8Array([0x00]), new Uint8Array([0xff, 0xff, 0xff, 0xff]))
  }

  /** Waits for queued work, ends all watchers (StoreClosedError) and closes the database. */
  async close(): Promise<void> {
    if (this.closed) return
    await this.tail
    this.closed = true
    this.hub.close()
    if (this.checkpointOnClose && this.failure === null && this.swapping === null) {
      await this.writeCheckpoint()
    }
    await this.db.close()
  }
}

/**
 * The auth, lease and record spaces: the state an image carries and Hash covers (the checkpoint
 * and meta spaces between them left out).
 */
const STATE_SPACES = {
  gte: new Uint8Array([SPACE_AUTH]),
  lt: new Uint8Array([SPACE_RECORD + 1]),
  skipSpaces: [SPACE_CHECKPOINT, SPACE_META],
}

/** The entries of a LevelDB range in key order, read from a snapshot, in chunks. */
async function* readEntries(
  db: Db,
  snapshot: SharedSnapshot,
  range: { gte: Uint8Array; lt: Uint8Array; skipSpaces?: number[] },
): AsyncGenerator<ImageEntry> {
  const it = db.iterator({ gte: range.gte, lt: range.lt, snapshot: snapshot.snap })
  try {
    for (;;) {
      const chunk = await it.nextv(ITERATOR_CHUNK)
      if (chunk.length === 0) return
      for (const [key, value] of chunk) {
        if (!range.skipSpaces?.includes(key[0]!)) yield { key, value }
      }
    }
  } finally {
    await it.close()
  }
}

/** CRC-32C over entries' keys and values, in order. */
async function hashEntries(entries: AsyncIterable<ImageEntry>): Promise<number> {
  let hash = 0
  for await (const { key, value } of entries) hash = crc32c(value, crc32c(key, hash))
  return hash
}
