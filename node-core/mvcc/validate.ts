/**
 * Static checks of requests: what can be refused by looking at the request alone, before it is
 * proposed (the gRPC layer calls these) and again when it is applied (the store calls them, so a
 * bad entry in the log is refused the same way on every node).
 *
 * Checks and their errors (etcd's where etcd has one):
 * - an empty key (in a range, put, delete, compare): EmptyKeyError;
 * - a key or range end above keyBytesMax, a value above valueBytesMax, a whole request (all its
 *   keys, range ends and values) above requestBytesMax: RequestTooLargeError;
 * - Put with ignoreValue and a value, or ignoreLease and a lease: ValueProvidedError /
 *   LeaseProvidedError;
 * - a txn level with more than txnOpsMax compares, success ops or failure ops (etcd's
 *   --max-txn-ops, 128), nesting deeper than txnDepthMax or more than txnOpsTotalMax ops and
 *   compares in all: TooManyOpsError;
 * - a txn that could write the same key twice, by etcd's rules: two puts of one key at a level, a
 *   put inside a delete range of the same level, a nested txn's put clashing with the level's
 *   puts or deletes (a key put in both the success and the failure branch of one nested txn is
 *   fine, only one of them runs): DuplicateKeyError;
 * - numbers that are not safe integers, unknown enum values: InvalidArgumentError.
 */
import { isInt64 } from '../kernel/bytes'
import { unreachable } from '../kernel/assert'
import {
  DuplicateKeyError,
  EmptyKeyError,
  InvalidArgumentError,
  LeaseProvidedError,
  RequestTooLargeError,
  TooManyOpsError,
  ValueProvidedError,
} from './errors'
import { inRange, keyRange, keyString, type KeyRange, type KeyString } from './keys'
import type {
  Compare,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
  WriteOp,
} from './types'

export interface RequestLimits {
  keyBytesMax: number
  valueBytesMax: number
  requestBytesMax: number
  txnOpsMax: number
  txnOpsTotalMax: number
  txnDepthMax: number
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = {
  keyBytesMax: 64 * 1024,
  // etcd's --max-request-bytes default, 1.5 MiB, for a value and for a whole request.
  valueBytesMax: 1536 * 1024,
  requestBytesMax: 1536 * 1024,
  txnOpsMax: 128,
  txnOpsTotalMax: 1024,
  txnDepthMax: 16,
}

const SORT_ORDERS = new Set(['none', 'ascend', 'descend'])
const SORT_TARGETS = new Set(['key', 'version', 'create', 'mod', 'value'])
const COMPARE_RESULTS = new Set(['equal', 'greater', 'less', 'notEqual'])
const COMPARE_TARGETS = new Set(['version', 'create', 'mod', 'value', 'lease'])

function checkInt(name: string, n: number | undefined): void {
  if (n !== undefined && !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError(`${name} ${n} is not an integer below 2^53`)
  }
}

/** A lease id or operand: an int64, as etcd's lease fields are. */
function checkLeaseId(name: string, n: bigint | undefined): void {
  if (n !== undefined && (typeof n !== 'bigint' || !isInt64(n))) {
    throw new InvalidArgumentError(`${name} ${n} is not a 64-bit integer`)
  }
}

function checkKey(key: Uint8Array, rangeEnd: Uint8Array | undefined, limits: RequestLimits): void {
  if (key.length === 0) throw new EmptyKeyError()
  if (key.length > limits.keyBytesMax) {
    throw new RequestTooLargeError('key', key.length, limits.keyBytesMax)
  }
  if (rangeEnd !== undefined && rangeEnd.length > limits.keyBytesMax) {
    throw new RequestTooLargeError('range end', rangeEnd.length, limits.keyBytesMax)
  }
}

export function checkRangeRequest(req: RangeRequest, limits: RequestLimits): void {
  checkKey(req.key, req.rangeEnd, limits)
  checkInt('limit', req.limit)
  checkInt('revision', req.revision)
  checkInt('minModRevision', req.minModRevision)
  checkInt('maxModRevision', req.maxModRevision)
  checkInt('minCreateRevision', req.minCreateRevision)
  checkInt('maxCreateRevision', req.maxCreateRevision)
  if (req.sortOrder !== undefined && !SORT_ORDERS.has(req.sortOrder)) {
    throw new InvalidArgumentError(`unknown sort order ${JSON.stringify(req.sortOrder)}`)
  }
  if (req.sortTarget !== undefined && !SORT_TARGETS.has(req.sortTarget)) {
    throw new InvalidArgumentError(`unknown sort target ${JSON.stringify(req.sortTarget)}`)
  }
}

export function checkPutRequest(req: PutRequest, limits: RequestLimits): void {
  checkKey(req.key, undefined, limits)
  if (req.value.length > limits.valueBytesMax) {
    throw new RequestTooLargeError('value', req.value.length, limits.valueBytesMax)
  }
  checkLeaseId('lease', req.lease)
  if (req.ignoreValue && req.value.length !== 0) throw new ValueProvidedError()
  if (req.ignoreLease && (req.lease ?? 0n) !== 0n) throw new LeaseProvidedError()
}

export function checkDeleteRangeRequest(req: DeleteRangeRequest, limits: RequestLimits): void {
  checkKey(req.key, req.rangeEnd, limits)
}

function checkCompare(c: Compare, limits: RequestLimits): void {
  checkKey(c.key, c.rangeEnd, limits)
  if (!COMPARE_RESULTS.has(c.result)) {
    throw new InvalidArgumentError(`unknown compare result ${JSON.stringify(c.result)}`)
  }
  if (!COMPARE_TARGETS.has(c.target)) {
    throw new InvalidArgumentError(`unknown compare target ${JSON.stringify(c.target)}`)
  }
  if (c.value !== undefined && c.value.length > limits.valueBytesMax) {
    throw new RequestTooLargeError('compare value', c.value.length, limits.valueBytesMax)
  }
  checkInt('compare version', c.version)
  checkInt('compare createRevision', c.createRevision)
  checkInt('compare modRevision', c.modRevision)
  checkLeaseId('compare lease', c.lease)
}

export function checkTxnRequest(req: TxnRequest, limits: RequestLimits): void {
  let total = 0
  const walk = (txn: TxnRequest, depth: number) => {
    if (depth > limits.txnDepthMax) throw new TooManyOpsError()
    const widest = Math.max(txn.compare.length, txn.success.length, txn.failure.length)
    total += txn.compare.length + txn.success.length + txn.failure.length
    if (widest > limits.txnOpsMax || total > limits.txnOpsTotalMax) throw new TooManyOpsError()
    for (const c of txn.compare) checkCompare(c, limits)
    for (const op of [...txn.success, ...txn.failure]) {
      if ('requestRange' in op) checkRangeRequest(op.requestRange, limits)
      else if ('requestPut' in op) checkPutRequest(op.requestPut, limits)
      else if ('requestDeleteRange' in op) checkDeleteRangeRequest(op.requestDeleteRange, limits)
      else if ('requestTxn' in op) walk(op.requestTxn, depth + 1)
      else throw new InvalidArgumentError('txn op of unknown kind')
    }
  }
  walk(req, 1)
  txnWrites(req.success)
  txnWrites(req.failure)
}

/** Keys a list of txn ops may put and ranges it may delete; throws DuplicateKeyError. */
function txnWrites(ops: RequestOp[]): { puts: Set<KeyString>; dels: KeyRange[] } {
  const dels: KeyRange[] = []
  for (const op of ops) {
    if ('requestDeleteRange' in op) {
      dels.push(keyRange(op.requestDeleteRange.key, op.requestDeleteRange.rangeEnd))
    }
  }
  const deleted = (key: KeyString) => dels.some((r) => inRange(r, key))
  const puts = new Set<KeyString>()
  for (const op of ops) {
    if (!('requestTxn' in op)) continue
    const then = txnWrites(op.requestTxn.success)
    const otherwise = txnWrites(op.requestTxn.failure)
    for (const key of then.puts) {
      if (puts.has(key) || deleted(key)) throw new DuplicateKeyError()
      puts.add(key)
    }
    for (const key of otherwise.puts) {
      // Put by this nested txn's other branch: fine, only one branch runs.
      if ((puts.has(key) && !then.puts.has(key)) || deleted(key)) throw new DuplicateKeyError()
      puts.add(key)
    }
    dels.push(...then.dels, ...otherwise.dels)
  }
  for (const op of ops) {
    if (!('requestPut' in op)) continue
    const key = keyString(op.requestPut.key)
    if (puts.has(key) || deleted(key)) throw new DuplicateKeyError()
    puts.add(key)
  }
  return { puts, dels }
}

/** Bytes of keys, range ends and values in a request (compared with requestBytesMax). */
export function requestBytes(op: WriteOp): number {
  const rangeBytes = (r: RangeRequest | DeleteRangeRequest) =>
    r.key.length + (r.rangeEnd?.length ?? 0)
  const txnBytes = (t: TxnRequest): number => {
    let n = 0
    for (const c of t.compare)
      n += c.key.length + (c.rangeEnd?.length ?? 0) + (c.value?.length ?? 0)
    for (const o of [...t.success, ...t.failure]) {
      if ('requestRange' in o) n += rangeBytes(o.requestRange)
      else if ('requestPut' in o) n += o.requestPut.key.length + o.requestPut.value.length
      else if ('requestDeleteRange' in o) n += rangeBytes(o.requestDeleteRange)
      else if ('requestTxn' in o) n += txnBytes(o.requestTxn)
    }
    return n
  }
  switch (op.type) {
    case 'put':
      return op.put.key.length + op.put.value.length
    case 'deleteRange':
      return rangeBytes(op.deleteRange)
    case 'txn':
      return txnBytes(op.txn)
    case 'compaction':
    case 'leaseGrant':
    case 'leaseRevoke':
    case 'auth':
    case 'alarm':
      return 0
    default:
      return unreachable(op, 'write op')
  }
}

/** All static checks of one replicated write. */
export function checkWriteOp(op: WriteOp, limits: RequestLimits): void {
  switch (op.type) {
    case 'put':
      return checkPutRequest(op.put, limits)
    case 'deleteRange':
      return checkDeleteRangeRequest(op.deleteRange, limits)
    case 'txn':
      return checkTxnRequest(op.txn, limits)
    case 'compaction':
      return checkInt('compaction revision', op.compaction.revision)
    case 'leaseGrant':
      checkLeaseId('lease id', op.leaseGrant.id)
      return checkInt('lease TTL', op.leaseGrant.ttlSeconds)
    case 'leaseRevoke':
      return checkLeaseId('lease id', op.leaseRevoke.id)
    case 'auth':
      return // names and permissions are auth.ts's to judge, against the state
    case 'alarm':
      return checkInt('alarm member id', op.alarm.memberId)
    default:
      return unreachable(op, 'write op')
  }
  const bytes = requestBytes(op)
  if (bytes > limits.requestBytesMax) {
    throw new RequestTooLargeError('request', bytes, limits.requestBytesMax)
  }
}
