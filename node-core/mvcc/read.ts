/**
 * Range and Compare over a read view: the key index plus a way to fetch the record at a revision.
 * The store has two views: the published one (what clients read: the last durable batch, records
 * from a LevelDB snapshot taken when it was published) and the apply view (inside a batch being
 * applied: includes the batch's own writes so far).
 *
 * Range follows etcd 3.4 (applierV3backend.Range and mvcc rangeKeys):
 * - revision 0 reads the view's current revision; a revision above it is FutureRevisionError,
 *   one below the compacted revision is CompactedError (reading exactly at it is fine);
 * - `count` is the number of keys in the range at that revision, before the min/max filters
 *   and the limit;
 * - the min/max mod/create revision filters (each active when non-zero) drop kvs after reading;
 * - sort: order 'none' with a target other than 'key' sorts ascending; order 'none' with target
 *   'key' is key order, which is how the index yields keys anyway. Ties keep key order (our sort
 *   is stable; etcd's is not, so etcd may order ties differently);
 * - `more` is true when the limit cut the (filtered, sorted) result short;
 * - keysOnly empties the values; countOnly returns no kvs;
 * - `revision` in the response is the view's current revision, also for a historical read.
 *
 * Compare follows etcd's applyCompare: every key of the compare's range must satisfy it; an empty
 * range compares a zero KeyValue (version 0, revisions 0, lease 0), except a value compare, which
 * fails on a missing key whatever the operator (etcd cannot tell a missing value from an empty one).
 */
import {
  CompactedError,
  CorruptionError,
  FutureRevisionError,
  RequestTooLargeError,
} from './errors'
import type { KeyIndex } from './key-index'
import { compareBytes, keyRange, type KeyString } from './keys'
import { decodeRecord, recordKeyValue } from './layout'
import type { Compare, KeyValue, RangeRequest, RangeResponse, SortTarget } from './types'

export interface ReadView {
  index: KeyIndex
  /** The view's current revision. */
  revision: number
  compactedRevision: number
  /** The record stored at {main, sub} (never a tombstone: reads only visit visible revisions). */
  record(main: number, sub: number): Uint8Array | undefined
}

const EMPTY = new Uint8Array(0)

const ZERO_KV: KeyValue = {
  key: EMPTY,
  createRevision: 0,
  modRevision: 0,
  version: 0,
  value: EMPTY,
  lease: 0n,
}

/** The KeyValue at {main, sub}, checked against what the index expects. */
export function readKeyValue(view: ReadView, key: KeyString, main: number, sub: number): KeyValue {
  const bytes = view.record(main, sub)
  if (bytes === undefined) {
    throw new CorruptionError(
      `record ${main}/${sub} of key ${JSON.stringify(key)} is in the index but not on disk`,
    )
  }
  const rec = decodeRecord(bytes)
  if (rec.main !== main || rec.sub !== sub || rec.tombstone) {
    throw new CorruptionError(
      `record read at ${main}/${sub} says ${rec.main}/${rec.sub}${rec.tombstone ? ' tombstone' : ''}`,
    )
  }
  return recordKeyValue(bytes, rec)
}

/** The revision a read at `requested` (0: current) sees, after the compaction/future checks. */
export function readRevision(view: ReadView, requested: number | undefined): number {
  const rev = requested !== undefined && requested > 0 ? requested : view.revision
  if (rev > view.revision) throw new FutureRevisionError()
  if (rev < view.compactedRevision) throw new CompactedError(view.compactedRevision)
  return rev
}

function sortValue(kv: KeyValue, target: SortTarget): number {
  switch (target) {
    case 'version':
      return kv.version
    case 'create':
      return kv.createRevision
    case 'mod':
      return kv.modRevision
    default:
      return 0
  }
}

export function executeRange(view: ReadView, req: RangeRequest, bytesMax: number): RangeResponse {
  const atRev = readRevision(view, req.revision)
  const range = keyRange(req.key, req.rangeEnd)
  const limit = req.limit !== undefined && req.limit > 0 ? req.limit : 0
  const target = req.sortTarget ?? 'key'
  let order = req.sortOrder ?? 'none'
  if (order === 'none' && target !== 'key') order = 'ascend'
  const minMod = req.minModRevision ?? 0
  const maxMod = req.maxModRevision ?? 0
  const minCreate = req.minCreateRevision ?? 0
  const maxCreate = req.maxCreateRevision ?? 0
  const filtered = minMod !== 0 || maxMod !== 0 || minCreate !== 0 || maxCreate !== 0
  const sorted = order !== 'none' && !(order === 'ascend' && target === 'key')

  if (req.countOnly) {
    return { kvs: [], more: false, count: view.index.count(range, atRev), revision: view.revision }
  }
  // Without sorting or filtering only the first limit + 1 records are needed (the extra one
  // tells `more`); the rest of the range is only counted.
  const readMax = limit > 0 && !sorted && !filtered ? limit + 1 : Infinity
  let count = 0
  let bytes = 0
  let kvs: KeyValue[] = []
  view.index.visit(range, atRev, (key, main, sub) => {
    count++
    if (kvs.length >= readMax) return
    const kv = readKeyValue(view, key, main, sub)
    bytes += kv.key.length + kv.value.length
    if (bytes > bytesMax) throw new RequestTooLargeError('range result', bytes, bytesMax)
    kvs.push(kv)
  })
  if (filtered) {
    kvs = kvs.filter(
      (kv) =>
        (maxMod === 0 || kv.modRevision <= maxMod) &&
        (minMod === 0 || kv.modRevision >= minMod) &&
        (maxCreate === 0 || kv.createRevision <= maxCreate) &&
        (minCreate === 0 || kv.createRevision >= minCreate),
    )
  }
  if (sorted) {
    const sign = order === 'descend' ? -1 : 1
    if (target === 'key') {
      kvs.reverse() // descending by key: the index yields ascending keys
    } else if (target === 'value') {
      kvs.sort((a, b) => sign * compareBytes(a.value, b.value))
    } else {
      kvs.sort((a, b) => sign * (sortValue(a, target) - sortValue(b, target)))
    }
  }
  let more = false
  if (limit > 0 && kvs.length > limit) {
    kvs.length = limit
    more = true
  }
  if (req.keysOnly) kvs = kvs.map((kv) => ({ ...kv, value: EMPTY }))
  return { kvs, more, count, revision: view.revision }
}

function compareKeyValue(c: Compare, kv: KeyValue): boolean {
  let result: number
  switch (c.target) {
    case 'value':
      result = compareBytes(kv.value, c.value ?? EMPTY)
      break
    case 'create':
      result = Math.sign(kv.createRevision - (c.createRevision ?? 0))
      break
    case 'mod':
      result = Math.sign(kv.modRevision - (c.modRevision ?? 0))
      break
    case 'version':
      result = Math.sign(kv.version - (c.version ?? 0))
      break
    case 'lease':
      result = kv.lease === (c.lease ?? 0n) ? 0 : kv.lease < (c.lease ?? 0n) ? -1 : 1
      break
  }
  switch (c.result) {
    case 'equal':
      return result === 0
    case 'notEqual':
      return result !== 0
    case 'greater':
      return result > 0
    case 'less':
      return result < 0
  }
}

/** Evaluates one compare at the view's current revision. */
export function evaluateCompare(view: ReadView, c: Compare): boolean {
  let seen = false
  let ok = true
  view.index.visit(keyRange(c.key, c.rangeEnd), view.revision, (key, main, sub) => {
    seen = true
    if (!compareKeyValue(c, readKeyValue(view, key, main, sub))) {
      ok = false
      return false
    }
    return true
  })
  if (!seen) return c.target === 'value' ? false : compareKeyValue(c, ZERO_KV)
  return ok
}
