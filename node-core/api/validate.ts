/**
 * The checks etcd's gRPC layer makes before a request reaches the server (etcd's v3rpc/key.go),
 * made here on the decoded protobuf messages so that their order and their errors are etcd's:
 *
 * - Range, Put, DeleteRange and every Compare need a non-empty key ('EMPTY_KEY').
 * - Put with ignore_value must not carry a value ('VALUE_PROVIDED'), with ignore_lease no lease
 *   ('LEASE_PROVIDED').
 * - A txn may have at most txnOpsMax compares, and at most txnOpsMax success and txnOpsMax
 *   failure ops ('TOO_MANY_OPS'); a nested txn gets the budget left by its parent (txnOpsMax
 *   minus the parent's largest list), which also bounds the nesting depth by txnOpsMax.
 * - An op with nothing set is refused as 'KEY_NOT_FOUND' (etcd's choice).
 * - Within one branch of a txn no key may be written twice: two puts of one key, or a put of a
 *   key that a delete of the same branch (or of a nested txn) covers, is 'DUPLICATE_KEY'. The
 *   success and failure branches of a nested txn may put the same key (only one of them runs).
 *   Ranges compare bytewise with etcd's quirk kept: a delete whose range_end is "\0" ("every key
 *   from key on") covers nothing in this check, because etcd's interval check treats it as the
 *   empty interval [key, "\0"); raftdesk accepts exactly the txns etcd accepts.
 */
import { EtcdServerError } from './errors'
import type {
  PbDeleteRangeRequest,
  PbPutRequest,
  PbRangeRequest,
  PbRequestOp,
  PbTxnRequest,
} from './wire'

export function checkRangeRequest(r: PbRangeRequest): void {
  if (r.key.length === 0) throw new EtcdServerError('EMPTY_KEY')
}

export function checkPutRequest(r: PbPutRequest): void {
  if (r.key.length === 0) throw new EtcdServerError('EMPTY_KEY')
  if (r.ignoreValue && r.value.length !== 0) throw new EtcdServerError('VALUE_PROVIDED')
  if (r.ignoreLease && r.lease !== '0') throw new EtcdServerError('LEASE_PROVIDED')
}

export function checkDeleteRangeRequest(r: PbDeleteRangeRequest): void {
  if (r.key.length === 0) throw new EtcdServerError('EMPTY_KEY')
}

export function checkTxnRequest(r: PbTxnRequest, txnOpsMax: number): void {
  const opCount = Math.max(r.compare.length, r.success.length, r.failure.length)
  if (opCount > txnOpsMax) {
    throw new EtcdServerError(
      'TOO_MANY_OPS',
      `txn has ${opCount} ops in one list, the limit is ${txnOpsMax}`,
    )
  }
  for (const c of r.compare) {
    if (c.key.length === 0) throw new EtcdServerError('EMPTY_KEY')
  }
  for (const op of r.success) checkRequestOp(op, txnOpsMax - opCount)
  for (const op of r.failure) checkRequestOp(op, txnOpsMax - opCount)
}

function checkRequestOp(op: PbRequestOp, txnOpsMax: number): void {
  switch (op.request) {
    case 'requestRange':
      return checkRangeRequest(op.requestRange!)
    case 'requestPut':
      return checkPutRequest(op.requestPut!)
    case 'requestDeleteRange':
      return checkDeleteRangeRequest(op.requestDeleteRange!)
    case 'requestTxn':
      return checkTxnRequest(op.requestTxn!, txnOpsMax)
    default:
      throw new EtcdServerError('KEY_NOT_FOUND', 'txn op with no request set')
  }
}

/** Refuses a txn that writes one key twice in a branch (see the module comment). */
export function checkTxnDuplicates(r: PbTxnRequest): void {
  writesOf(r.success)
  writesOf(r.failure)
}

interface Interval {
  begin: Buffer
  /** Exclusive. */
  end: Buffer
}

interface Writes {
  /** Put keys, as latin1 strings (one char per byte, so byte-exact). */
  puts: Set<string>
  deletes: Interval[]
}

function covers(deletes: Interval[], key: Buffer): boolean {
  return deletes.some((d) => Buffer.compare(d.begin, key) <= 0 && Buffer.compare(key, d.end) < 0)
}

function deleteInterval(d: PbDeleteRangeRequest): Interval {
  if (d.rangeEnd.length !== 0) return { begin: d.key, end: d.rangeEnd }
  // The single key k is the interval [k, k + "\0").
  return { begin: d.key, end: Buffer.concat([d.key, Buffer.from([0])]) }
}

function duplicate(key: Buffer): never {
  throw new EtcdServerError('DUPLICATE_KEY', `key ${JSON.stringify(key.toString('latin1'))}`)
}

function writesOf(ops: PbRequestOp[]): Writes {
  const deletes: Interval[] = []
  for (const op of ops) {
    if (op.request === 'requestDeleteRange') deletes.push(deleteInterval(op.requestDeleteRange!))
  }
  const puts = new Set<string>()
  for (const op of ops) {
    if (op.request !== 'requestTxn') continue
    const then = writesOf(op.requestTxn!.success)
    const otherwise = writesOf(op.requestTxn!.failure)
    for (const k of then.puts) {
      const key = Buffer.from(k, 'latin1')
      if (puts.has(k) || covers(deletes, key)) duplicate(key)
      puts.add(k)
    }
    for (const k of otherwise.puts) {
      const key = Buffer.from(k, 'latin1')
      // A key put by both branches of the same nested txn is fine: only one branch runs.
      if ((puts.has(k) && !then.puts.has(k)) || covers(deletes, key)) duplicate(key)
      puts.add(k)
    }
    deletes.push(...then.deletes, ...otherwise.deletes)
  }
  for (const op of ops) {
    if (op.request !== 'requestPut') continue
    const key = op.requestPut!.key
    const k = key.toString('latin1')
    if (puts.has(k) || covers(deletes, key)) duplicate(key)
    puts.add(k)
  }
  return { puts, deletes }
}
