/**
 * Applying one replicated write to the store's state inside a batch (store.ts runs the batch:
 * it orders the items, writes the collected LevelDB ops in one batch and then publishes).
 *
 * Each op goes in two steps. prepare() checks it against the batch's state so far (limits,
 * permissions, alarms, the op's own preconditions) and may refuse it with a typed error: nothing
 * has changed yet and the op gets an error result, identically on every node. The step it
 * returns then executes the op: it changes the key index, the lessor and the auth state at once,
 * and adds the records to write and the watch events to publish to the batch context.
 */
import type { Db, DbOp } from './db'
import type { AlarmSet } from './alarms'
import type { AuthInfo, AuthState } from './auth'
import {
  CompactedError,
  CorruptionError,
  DuplicateKeyError,
  FutureRevisionError,
  KeyNotFoundError,
  LeaseNotFoundError,
} from './errors'
import type { KeyIndex } from './key-index'
import { inRange, keyBytes, keyRange, keyString, type KeyRange, type KeyString } from './keys'
import { encodeLease, encodeRecord, leaseKey, recordKey } from './layout'
import type { Lessor } from './lessor'
import { evaluateCompare, executeRange, readKeyValue, type ReadView } from './read'
import type { RecordCache } from './record-cache'
import type { StoreLimits } from './store'
import type {
  DeleteRangeRequest,
  DeleteRangeResponse,
  KeyValue,
  LeaseGrantRequest,
  LeaseId,
  PutRequest,
  PutResponse,
  RequestOp,
  ResponseOp,
  TxnRequest,
  TxnResponse,
  WriteOp,
  WriteResult,
} from './types'
import { checkWriteOp, requestBytes } from './validate'
import type { Change } from './watch'
import { RaftdeskError } from '../errors'
import { unreachable } from '../kernel/assert'
import { EtcdServerError } from '../kernel/etcd-errors'

const EMPTY = new Uint8Array(0)

/** The state of one batch being applied. */
export class BatchContext {
  /** Working revision and compacted revision (what the batch's ops see). */
  rev: number
  compactRev: number
  /** Revisions the last compaction of this batch drops (checked when the index compacts). */
  compactDropped = 0
  readonly ops: DbOp[] = []
  /** Records written by this batch, by "main/sub": read before they are on disk. */
  readonly pending = new Map<string, Uint8Array>()
  readonly changes: Change[] = []

  constructor(rev: number, compactRev: number) {
    this.rev = rev
    this.compactRev = compactRev
  }
}

/** One write transaction (a Put, a DeleteRange, a Txn, a lease revoke): one main revision. */
class WriteTxn {
  readonly beginRev: number
  /** Writes so far; each takes the next sub revision. */
  sub = 0
  constructor(beginRev: number) {
    this.beginRev = beginRev
  }
  get main(): number {
    return this.beginRev + 1
  }
  /** What a read inside the txn sees: its own writes once it has any. */
  get readRev(): number {
    return this.sub > 0 ? this.beginRev + 1 : this.beginRev
  }
}

function toResultError(err: RaftdeskError): WriteResult {
  return { error: { code: err.code, message: err.message } }
}

/** What the applier changes and reads: the store's live state (the database may be replaced). */
export interface ApplyState {
  readonly index: KeyIndex
  readonly lessor: Lessor
  readonly auth: AuthState
  readonly alarms: AlarmSet
  readonly limits: StoreLimits
  readonly cache: RecordCache
  readonly db: Db
}

export class OpApplier {
  constructor(private readonly src: ApplyState) {}

  /**
   * Applies one op in two steps. prepare() checks it against the state so far and may refuse it
   * with a typed error (nothing has changed yet: the op gets an error result). The returned
   * function then executes it; it was checked, so any error there is a bug, and since the batch
   * may be half changed by then, it fails the store.
   */
  applyOp(ctx: BatchContext, index: number, op: WriteOp, who: AuthInfo | undefined): WriteResult {
    let execute: () => WriteResult
    try {
      checkWriteOp(op, this.src.limits)
      if (this.src.auth.enabled) this.authorize(op, who)
      this.checkCapped(op)
      execute = this.prepare(ctx, index, op, who)
    } catch (err) {
      if (err instanceof RaftdeskError && !(err instanceof CorruptionError))
        return toResultError(err)
      throw err
    }
    try {
      return execute()
    } catch (err) {
      throw new Error(`applying entry ${index} failed after its checks passed: ${String(err)}`, {
        cause: err,
      })
    }
  }

  /**
   * Checks one write against the batch's state so far and returns the step that applies it. One
   * case per replicated write type; the switch is exhaustive, so a type added to WriteOp and not
   * handled here does not compile.
   */
  private prepare(
    ctx: BatchContext,
    index: number,
    op: WriteOp,
    who: AuthInfo | undefined,
  ): () => WriteResult {
    switch (op.type) {
      case 'put':
        return this.preparePut(ctx, op.put)
      case 'deleteRange':
        return this.prepareDeleteRange(ctx, op.deleteRange)
      case 'txn':
        return this.prepareTxn(ctx, op.txn, requestBytes(op))
      case 'compaction':
        return this.prepareCompaction(ctx, op.compaction.revision)
      case 'leaseGrant':
        return this.prepareLeaseGrant(ctx, index, op.leaseGrant)
      case 'leaseRevoke':
        return this.prepareLeaseRevoke(ctx, op.leaseRevoke.id)
      case 'alarm':
        return () => {
          const { changed, writes } = this.src.alarms.apply(op.alarm)
          ctx.ops.push(...writes)
          return { alarm: changed }
        }
      case 'auth': {
        const apply = this.src.auth.prepare(op.auth, who, index)
        return () => {
          const applied = apply()
          ctx.ops.push(...applied.writes)
          return { auth: applied.result }
        }
      }
      default:
        return unreachable(op, 'write op')
    }
  }

  /**
   * etcd's permission checks at apply (apply_auth.go), against the auth state before the op:
   * every key a write touches needs write permission, every key it reads (compares, ranges,
   * previous values) read permission, and a lease's keys stay writable by whoever attaches to or
   * revokes it. Unlike etcd 3.4, nested txns are checked too. Auth ops check themselves.
   */
  private authorize(op: WriteOp, who: AuthInfo | undefined): void {
    const auth = this.src.auth
    const leaseKeys = (id: LeaseId) => {
      for (const key of this.src.lessor.keysOf(id)) auth.checkWrite(who, keyBytes(key))
    }
    const txn = (t: TxnRequest): void => {
      for (const c of t.compare) auth.checkRead(who, c.key, c.rangeEnd)
      for (const o of [...t.success, ...t.failure]) {
        if ('requestRange' in o) auth.checkRead(who, o.requestRange.key, o.requestRange.rangeEnd)
        else if ('requestPut' in o) auth.checkWrite(who, o.requestPut.key)
        else if ('requestDeleteRange' in o) deleteRange(o.requestDeleteRange)
        else txn(o.requestTxn)
      }
    }
    const deleteRange = (d: DeleteRangeRequest) => {
      if (d.prevKv) auth.checkRead(who, d.key, d.rangeEnd)
      auth.checkWrite(who, d.key, d.rangeEnd)
    }
    switch (op.type) {
      case 'put':
        auth.checkWrite(who, op.put.key)
        if (op.put.lease) leaseKeys(op.put.lease)
        if (op.put.prevKv) auth.checkRead(who, op.put.key)
        return
      case 'deleteRange':
        return deleteRange(op.deleteRange)
      case 'txn':
        return txn(op.txn)
      case 'leaseRevoke':
        return leaseKeys(op.leaseRevoke.id)
      case 'compaction':
      case 'leaseGrant':
      case 'auth':
      case 'alarm':
        return
      default:
        return unreachable(op, 'write op')
    }
  }

  /**
   * etcd's capped appliers: with a NOSPACE alarm raised, what could grow the store (a put, a txn
   * with a put on either branch, a lease grant) is refused; with CORRUPT, every write but alarm
   * changes.
   */
  private checkCapped(op: WriteOp): void {
    if (op.type === 'alarm') return
    if (this.src.alarms.has('corrupt')) throw new EtcdServerError('CORRUPT')
    if (!this.src.alarms.has('nospace')) return
    const grows =
      op.type === 'put' || op.type === 'leaseGrant' || (op.type === 'txn' && txnHasPut(op.txn))
    if (grows) throw new EtcdServerError('NO_SPACE', 'a NOSPACE alarm is raised')
  }

  private preparePut(ctx: BatchContext, req: PutRequest): () => WriteResult {
    const key = keyString(req.key)
    this.checkPut(ctx.rev, req, key)
    return () => {
      const txn = new WriteTxn(ctx.rev)
      const put = this.put(ctx, txn, req, key)
      ctx.rev = txn.readRev
      return { put }
    }
  }

  private prepareDeleteRange(ctx: BatchContext, req: DeleteRangeRequest): () => WriteResult {
    return () => {
      const txn = new WriteTxn(ctx.rev)
      const deleteRange = this.deleteRange(ctx, txn, req)
      ctx.rev = txn.readRev
      return { deleteRange }
    }
  }

  private prepareTxn(ctx: BatchContext, req: TxnRequest, sizeBytes: number): () => WriteResult {
    const before = this.applyView(ctx, ctx.rev)
    const path = this.txnPath(before, req)
    this.checkTxnPath(before, req, path, sizeBytes)
    return () => {
      const txn = new WriteTxn(ctx.rev)
      const resp = this.executeTxn(ctx, txn, req, path)
      ctx.rev = txn.readRev
      return { txn: resp }
    }
  }

  private prepareCompaction(ctx: BatchContext, rev: number): () => WriteResult {
    if (rev > ctx.rev) throw new FutureRevisionError()
    if (rev <= ctx.compactRev) throw new CompactedError(ctx.compactRev)
    return () => ({ compaction: this.compact(ctx, rev) })
  }

  private prepareLeaseGrant(
    ctx: BatchContext,
    index: number,
    req: LeaseGrantRequest,
  ): () => WriteResult {
    // id 0: a deterministic choice, the same on every node (they apply the same entry index).
    const id = req.id === 0n ? this.src.lessor.freeId(BigInt(index)) : req.id
    this.src.lessor.checkGrant(id, req.ttlSeconds)
    return () => {
      const ttlSeconds = this.src.lessor.grant(id, req.ttlSeconds)
      ctx.ops.push({ type: 'put', key: leaseKey(id), value: encodeLease(ttlSeconds) })
      return { leaseGrant: { id, ttlSeconds, revision: ctx.rev } }
    }
  }

  private prepareLeaseRevoke(ctx: BatchContext, id: LeaseId): () => WriteResult {
    if (!this.src.lessor.has(id)) throw new LeaseNotFoundError()
    return () => {
      const txn = new WriteTxn(ctx.rev)
      // The lessor hands back the keys in key order, so every node numbers the deletes alike.
      for (const key of this.src.lessor.revoke(id)) this.tombstone(ctx, txn, key)
      ctx.ops.push({ type: 'del', key: leaseKey(id) })
      ctx.rev = txn.readRev
      return { leaseRevoke: { revision: ctx.rev } }
    }
  }

  /** The batch's working state as a read view at `rev`. */
  private applyView(ctx: BatchContext, rev: number): ReadView {
    const { index, cache } = this.src
    const db = this.src.db
    return {
      index,
      revision: rev,
      compactedRevision: ctx.compactRev,
      record: (main, sub) =>
        ctx.pending.get(`${main}/${sub}`) ??
        cache.get(main, sub) ??
        db.getSync(recordKey(main, sub, false)),
    }
  }

  /** etcd's checks of a put against the state at `rev`: ignore* needs the key, a lease must exist. */
  private checkPut(rev: number, req: PutRequest, key: KeyString): void {
    if ((req.ignoreValue || req.ignoreLease) && this.src.index.get(key, rev) === undefined) {
      throw new KeyNotFoundError()
    }
    const lease = req.lease ?? 0n
    if (lease !== 0n && !this.src.lessor.has(lease)) throw new LeaseNotFoundError()
  }

  private put(ctx: BatchContext, txn: WriteTxn, req: PutRequest, key: KeyString): PutResponse {
    const readRev = txn.readRev
    const at =
      req.prevKv || req.ignoreValue || req.ignoreLease
        ? this.src.index.get(key, readRev)
        : undefined
    const prev =
      at === undefined
        ? undefined
        : readKeyValue(this.applyView(ctx, readRev), key, at.main, at.sub)
    const value = req.ignoreValue ? prev!.value : req.value
    const lease = req.ignoreLease ? prev!.lease : (req.lease ?? 0n)
    const main = txn.main
    const sub = txn.sub++
    const { createRevision, version } = this.src.index.put(key, main, sub)
    this.src.lessor.attach(key, lease)
    const fields = { main, sub, tombstone: false, createRevision, version, lease }
    const record = encodeRecord(fields, req.key, value)
    ctx.pending.set(`${main}/${sub}`, record)
    // Published reads never ask for a revision above the published one: caching it now is safe.
    this.src.cache.set(main, sub, record)
    ctx.ops.push({ type: 'put', key: recordKey(main, sub, false), value: record })
    const kv: KeyValue = { key: req.key, createRevision, modRevision: main, version, value, lease }
    ctx.changes.push({ key, event: { type: 'put', kv } })
    return prev !== undefined && req.prevKv ? { prevKv: prev, revision: main } : { revision: main }
  }

  private deleteRange(
    ctx: BatchContext,
    txn: WriteTxn,
    req: DeleteRangeRequest,
  ): DeleteRangeResponse {
    const readRev = txn.readRev
    const victims: Array<{ key: KeyString; main: number; sub: number }> = []
    this.src.index.visit(keyRange(req.key, req.rangeEnd), readRev, (key, main, sub) => {
      victims.push({ key, main, sub })
    })
    const view = this.applyView(ctx, readRev)
    const prevKvs = req.prevKv ? victims.map((v) => readKeyValue(view, v.key, v.main, v.sub)) : []
    for (const v of victims) this.tombstone(ctx, txn, v.key)
    return { deleted: victims.length, prevKvs, revision: txn.readRev }
  }

  private tombstone(ctx: BatchContext, txn: WriteTxn, key: KeyString): void {
    const main = txn.main
    const sub = txn.sub++
    this.src.index.tombstone(key, main, sub)
    this.src.lessor.attach(key, 0n)
    const bytes = keyBytes(key)
    const record = encodeRecord(
      { main, sub, tombstone: true, createRevision: 0, version: 0, lease: 0n },
      bytes,
      EMPTY,
    )
    ctx.ops.push({ type: 'put', key: recordKey(main, sub, true), value: record })
    const kv: KeyValue = {
      key: bytes,
      createRevision: 0,
      modRevision: main,
      version: 0,
      value: EMPTY,
      lease: 0n,
    }
    ctx.changes.push({ key, event: { type: 'delete', kv } })
  }

  /**
   * Evaluates the compares of the txn and of every nested txn on the branch taken, all against
   * the state before the txn (etcd's compareToPath). The path lists, depth first, whether each
   * txn met on the way succeeded.
   */
  private txnPath(view: ReadView, req: TxnRequest): boolean[] {
    const path: boolean[] = []
    const walk = (t: TxnRequest) => {
      const ok = t.compare.every((c) => evaluateCompare(view, c))
      path.push(ok)
      for (const op of ok ? t.success : t.failure) if ('requestTxn' in op) walk(op.requestTxn)
    }
    walk(req)
    return path
  }

  /**
   * Checks the ops on the path against the state before the txn, so that executing it cannot
   * fail half way:
   * - puts: etcd's checkPut (ignoreValue / ignoreLease need the key, a lease must exist);
   * - ranges: revision not compacted and not above the state before the txn (etcd lets a range
   *   read the txn's own new revision; we refuse it up front rather than half way through), and
   *   the result within rangeBytesMax: read at the state before the txn, it may grow by at most
   *   the bytes the txn itself puts, so it must fit with that much room to spare;
   * - no key written twice on the path. etcd's static check (validate.ts) refuses most such
   *   txns already; this also catches one key written by two nested txns, which etcd accepts but
   *   which would write a key twice in one revision.
   */
  private checkTxnPath(before: ReadView, req: TxnRequest, path: boolean[], txnBytes: number): void {
    const puts = new Set<KeyString>()
    const dels: KeyRange[] = []
    const rangeBytesMax = Math.max(0, this.src.limits.rangeBytesMax - txnBytes)
    let at = 0
    const walk = (t: TxnRequest) => {
      const ops: RequestOp[] = path[at++] ? t.success : t.failure
      for (const op of ops) {
        if ('requestPut' in op) {
          const key = keyString(op.requestPut.key)
          this.checkPut(before.revision, op.requestPut, key)
          if (puts.has(key) || dels.some((r) => inRange(r, key))) throw new DuplicateKeyError()
          puts.add(key)
        } else if ('requestDeleteRange' in op) {
          const r = keyRange(op.requestDeleteRange.key, op.requestDeleteRange.rangeEnd)
          for (const key of puts) if (inRange(r, key)) throw new DuplicateKeyError()
          dels.push(r)
        } else if ('requestRange' in op) {
          executeRange(before, { ...op.requestRange, countOnly: false }, rangeBytesMax)
        } else {
          walk(op.requestTxn)
        }
      }
    }
    walk(req)
  }

  private executeTxn(
    ctx: BatchContext,
    txn: WriteTxn,
    req: TxnRequest,
    path: boolean[],
  ): TxnResponse {
    let at = 0
    const run = (t: TxnRequest, nested: boolean): TxnResponse => {
      const succeeded = path[at++]!
      const responses: ResponseOp[] = []
      for (const op of succeeded ? t.success : t.failure) {
        if ('requestRange' in op) {
          const view = this.applyView(ctx, txn.readRev)
          // Within bounds: checkTxnPath read it at the state before with room for the txn's puts.
          responses.push({ responseRange: executeRange(view, op.requestRange, Infinity) })
        } else if ('requestPut' in op) {
          responses.push({
            responsePut: this.put(ctx, txn, op.requestPut, keyString(op.requestPut.key)),
          })
        } else if ('requestDeleteRange' in op) {
          responses.push({ responseDeleteRange: this.deleteRange(ctx, txn, op.requestDeleteRange) })
        } else {
          responses.push({ responseTxn: run(op.requestTxn, true) })
        }
      }
      // etcd 3.4 leaves the header of a nested txn's response empty: revision 0. Clients see
      // the same from us (etcd-compat.test.ts checks it against a real etcd).
      return { succeeded, responses, revision: nested ? 0 : txn.readRev }
    }
    return run(req, false)
  }

  /** Schedules the compaction: the records it drops are deleted in this batch. */
  private compact(ctx: BatchContext, rev: number): { revision: number } {
    ctx.compactDropped = this.src.index.compact(
      rev,
      (_key, main, sub, tombstone) =>
        ctx.ops.push({ type: 'del', key: recordKey(main, sub, tombstone) }),
      true,
    )
    ctx.compactRev = rev
    return { revision: ctx.rev }
  }
}

/** Whether a txn could put, on any branch at any depth. */
function txnHasPut(t: TxnRequest): boolean {
  return [...t.success, ...t.failure].some(
    (o) => 'requestPut' in o || ('requestTxn' in o && txnHasPut(o.requestTxn)),
  )
}
