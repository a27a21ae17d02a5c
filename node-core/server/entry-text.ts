/**
 * One line a person reads for a raft log entry: the operation it carries, decoded from the
 * server's request encoding (request-codec.ts) or the conf change, with keys and values shown
 * as text when printable and as hex otherwise (raft/describe.ts), cut to a readable length.
 *
 *   put "config/a" = "1"                    a put
 *   put "k" = "v" lease 694d8a1e3b5c0f07    a put attached to a lease
 *   delete "a" .. "b"                       a delete of the range [a, b)
 *   txn: 1 compare, 1 success op, 0 failure ops
 *   addLearner n4                           a conf change (the member's name when known)
 *   (empty: a new leader's first entry)
 */
import { describeBytes } from '../raft/describe'
import { decodeConfChange, type Entry } from '../raft'
import type { WriteOp } from '../mvcc/types'
import { decodeRequest } from './request-codec'

const leaseHex = (id: bigint) => BigInt.asUintN(64, id).toString(16).padStart(16, '0')

/** Characters of a key or value shown before it is cut. */
const SHOWN_CHARS_MAX = 64
const UTF8 = new TextDecoder('utf-8', { fatal: true })

/**
 * A key or value as a person reads it: text in JSON quotes when it is UTF-8 without control
 * characters (so a JSON value reads as itself), hex otherwise; long ones cut with their size.
 */
export function describeData(data: Uint8Array): string {
  let text: string
  try {
    text = UTF8.decode(data)
  } catch {
    return describeBytes(data)
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(text)) return describeBytes(data)
  if (text.length <= SHOWN_CHARS_MAX) return JSON.stringify(text)
  return `${JSON.stringify(text.slice(0, SHOWN_CHARS_MAX))}…(${data.byteLength} bytes)`
}

function rangeText(key: Uint8Array, rangeEnd?: Uint8Array): string {
  if (!rangeEnd || rangeEnd.byteLength === 0) return describeData(key)
  if (rangeEnd.byteLength === 1 && rangeEnd[0] === 0) return `${describeData(key)} and after`
  return `${describeData(key)} .. ${describeData(rangeEnd)}`
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`

export function describeWriteOp(op: WriteOp): string {
  switch (op.type) {
    case 'put': {
      const p = op.put
      const lease = p.lease ? ` lease ${leaseHex(p.lease)}` : ''
      return `put ${describeData(p.key)} = ${p.ignoreValue ? '(value kept)' : describeData(p.value)}${lease}`
    }
    case 'deleteRange':
      return `delete ${rangeText(op.deleteRange.key, op.deleteRange.rangeEnd)}`
    case 'txn': {
      const t = op.txn
      return `txn: ${plural(t.compare.length, 'compare')}, ${plural(t.success.length, 'success op')}, ${plural(t.failure.length, 'failure op')}`
    }
    case 'compaction':
      return `compact to revision ${op.compaction.revision}`
    case 'leaseGrant':
      return `lease grant ${leaseHex(op.leaseGrant.id)} ttl ${op.leaseGrant.ttlSeconds}s`
    case 'leaseRevoke':
      return `lease revoke ${leaseHex(op.leaseRevoke.id)}`
    case 'alarm':
      return `alarm ${op.alarm.action} ${op.alarm.alarm.toUpperCase()} on ${op.alarm.memberId.toString(16)}`
    case 'auth': {
      const a = op.auth
      const subject =
        'name' in a ? a.name : 'user' in a ? `${a.user} ${a.role}` : 'role' in a ? a.role : ''
      return `auth ${a.type}${subject ? ` ${subject}` : ''}`
    }
  }
}

/** The entry's kind for the log view, and its decoded operation. */
export function describeLogEntry(
  e: Entry,
  nameOf: (id: number) => string,
): { type: 'normal' | 'confChange' | 'empty'; op: string } {
  if (e.type === 'confChange') {
    try {
      const cc = decodeConfChange(e.data)
      return { type: 'confChange', op: `${cc.type} ${nameOf(cc.nodeId)}` }
    } catch {
      return { type: 'confChange', op: `malformed conf change ${describeBytes(e.data)}` }
    }
  }
  if (e.data.byteLength === 0) return { type: 'empty', op: "(empty: a new leader's first entry)" }
  try {
    const req = decodeRequest(e.data)
    if (!req) return { type: 'empty', op: '(empty)' }
    const by = req.who ? ` (by ${req.who.user})` : ''
    return { type: 'normal', op: describeWriteOp(req.op) + by }
  } catch {
    return { type: 'normal', op: `undecodable ${describeBytes(e.data)}` }
  }
}
