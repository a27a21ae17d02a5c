/**
 * A deliberately simple in-memory model of the store's API, written from etcd's documented
 * behaviour and independent of the store's code: it keeps every write ever made in one list and
 * answers every read by scanning it. Slow, obviously right; the randomised test compares the
 * store against it op by op.
 *
 * Compaction in the model only moves the compacted revision (what is observable through the
 * API: reads below it fail); the store's physical removal must be invisible otherwise.
 */
import type {
  Compare,
  Event,
  KeyValue,
  RangeRequest,
  RangeResponse,
  RequestOp,
  ResponseOp,
  TxnRequest,
  TxnResponse,
  WriteOp,
  WriteResult,
} from '../../../node-core/mvcc/types'

interface Write {
  key: string
  main: number
  sub: number
  deleted: boolean
  value: Uint8Array
  create: number
  version: number
  lease: bigint
}

const hex = (u: Uint8Array) => Buffer.from(u).toString('latin1')
const unhex = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'))

function cmpBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

class Refusal extends Error {
  constructor(readonly code: string) {
    super(code)
  }
}

export class Model {
  writes: Write[] = []
  /** A new store is at revision 1, as etcd's. */
  rev = 1
  compacted = 0
  leases = new Map<bigint, number>() // id -> ttl

  /** Every write as the event a watcher sees, in revision order. */
  events(): Event[] {
    return this.writes.map((w) =>
      w.deleted
        ? {
            type: 'delete' as const,
            kv: {
              key: unhex(w.key),
              createRevision: 0,
              modRevision: w.main,
              version: 0,
              value: new Uint8Array(0),
              lease: 0n,
            },
          }
        : { type: 'put' as const, kv: this.toKv(w) },
    )
  }

  private inRange(key: string, start: Uint8Array, end: Uint8Array | undefined): boolean {
    const k = unhex(key)
    if (end === undefined || end.length === 0) return cmpBytes(k, start) === 0
    if (end.length === 1 && end[0] === 0) return cmpBytes(k, start) >= 0
    return cmpBytes(k, start) >= 0 && cmpBytes(k, end) < 0
  }

  /** The latest write of every key at `rev`, live keys only, in key order. */
  private liveAt(rev: number): Write[] {
    const latest = new Map<string, Write>()
    for (const w of this.writes) if (w.main <= rev) latest.set(w.key, w)
    return [...latest.values()]
      .filter((w) => !w.deleted)
      .sort((a, b) => cmpBytes(unhex(a.key), unhex(b.key)))
  }

  private toKv(w: Write): KeyValue {
    return {
      key: unhex(w.key),
      createRevision: w.create,
      modRevision: w.main,
      version: w.version,
      value: w.value,
      lease: w.lease,
    }
  }

  range(req: RangeRequest, current = this.rev): RangeResponse {
    const rev = req.revision && req.revision > 0 ? req.revision : current
    if (rev > current) throw new Refusal('FUTURE_REV')
    if (rev < this.compacted) throw new Refusal('COMPACTED')
    const all = this.liveAt(rev).filter((w) => this.inRange(w.key, req.key, req.rangeEnd))
    const count = all.length
    if (req.countOnly) return { kvs: [], more: false, count, revision: current }
    let kvs = all.map((w) => this.toKv(w))
    const f = (n: number | undefined) => n ?? 0
    if (f(req.maxModRevision)) kvs = kvs.filter((k) => k.modRevision <= f(req.maxModRevision))
    if (f(req.minModRevision)) kvs = kvs.filter((k) => k.modRevision >= f(req.minModRevision))
    if (f(req.maxCreateRevision))
      kvs = kvs.filter((k) => k.createRevision <= f(req.maxCreateRevision))
    if (f(req.minCreateRevision))
      kvs = kvs.filter((k) => k.createRevision >= f(req.minCreateRevision))
    const target = req.sortTarget ?? 'key'
    let order = req.sortOrder ?? 'none'
    if (order === 'none' && target !== 'key') order = 'ascend'
    if (order !== 'none') {
      const by = (k: KeyValue): number | Uint8Array =>
        target === 'key'
          ? k.key
          : target === 'value'
            ? k.value
            : target === 'version'
              ? k.version
              : target === 'create'
                ? k.createRevision
                : k.modRevision
      const sign = order === 'descend' ? -1 : 1
      // Ties: key order (the store's sort is stable over key order).
      kvs = kvs
        .map((k, i) => ({ k, i }))
        .sort((x, y) => {
          const a = by(x.k)
          const b = by(y.k)
          const c = typeof a === 'number' ? a - (b as number) : cmpBytes(a, b as Uint8Array)
          return c !== 0 ? sign * Math.sign(c) : target === 'key' ? 0 : x.i - y.i
        })
        .map((x) => x.k)
    }
    const limit = req.limit ?? 0
    let more = false
    if (limit > 0 && kvs.length > limit) {
      kvs = kvs.slice(0, limit)
      more = true
    }
    if (req.keysOnly) kvs = kvs.map((k) => ({ ...k, value: new Uint8Array(0) }))
    return { kvs, more, count, revision: current }
  }

  private live(key: string, rev: number): Write | undefined {
    let found: Write | undefined
    for (const w of this.writes) if (w.key === key && w.main <= rev) found = w
    return found === undefined || found.deleted ? undefined : found
  }

  private compare(c: Compare, rev: number): boolean {
    const ws = this.liveAt(rev).filter((w) => this.inRange(w.key, c.key, c.rangeEnd))
    const kvs = ws.map((w) => this.toKv(w))
    if (kvs.length === 0) {
      if (c.target === 'value') return false
      kvs.push({
        key: new Uint8Array(0),
        createRevision: 0,
        modRevision: 0,
        version: 0,
        value: new Uint8Array(0),
        lease: 0n,
      })
    }
    return kvs.every((k) => {
      const r =
        c.target === 'value'
          ? cmpBytes(k.value, c.value ?? new Uint8Array(0))
          : c.target === 'version'
            ? k.version - (c.version ?? 0)
            : c.target === 'create'
              ? k.createRevision - (c.createRevision ?? 0)
              : c.target === 'mod'
                ? k.modRevision - (c.modRevision ?? 0)
                : Number(k.lease - (c.lease ?? 0n))
      return c.result === 'equal'
        ? r === 0
        : c.result === 'notEqual'
          ? r !== 0
          : c.result === 'greater'
            ? r > 0
            : r < 0
    })
  }

  /** Applies one op, etcd style; refusals come back as error results. */
  apply(op: WriteOp, index: number): WriteResult {
    try {
      return this.applyOrThrow(op, index)
    } catch (err) {
      if (err instanceof Refusal) return { error: { code: err.code, message: err.code } }
      throw err
    }
  }

  private applyOrThrow(op: WriteOp, index: number): WriteResult {
    if ('put' in op || 'deleteRange' in op) {
      const txn: TxnRequest = {
        compare: [],
        success: ['put' in op ? { requestPut: op.put } : { requestDeleteRange: op.deleteRange }],
        failure: [],
      }
      const r = this.txn(txn)
      const only = r.responses[0]!
      if ('responsePut' in only) return { put: only.responsePut }
      if ('responseDeleteRange' in only) return { deleteRange: only.responseDeleteRange }
      throw new Error('unreachable')
    }
    if ('txn' in op) return { txn: this.txn(op.txn) }
    if ('compaction' in op) {
      const rev = op.compaction.revision
      if (rev > this.rev) throw new Refusal('FUTURE_REV')
      if (rev <= this.compacted) throw new Refusal('COMPACTED')
      this.compacted = rev
      return { compaction: { revision: this.rev } }
    }
    if ('leaseGrant' in op) {
      let id = op.leaseGrant.id
      if (id === 0n) {
        id = BigInt(Math.max(1, index))
        while (this.leases.has(id)) id++
      }
      if (this.leases.has(id)) throw new Refusal('LEASE_EXIST')
      const ttl = Math.max(2, op.leaseGrant.ttlSeconds)
      this.leases.set(id, ttl)
      return { leaseGrant: { id, ttlSeconds: ttl, revision: this.rev } }
    }
    if (op.type !== 'leaseRevoke') throw new Error(`the model does not apply ${op.type}`)
    const id = op.leaseRevoke.id
    if (!this.leases.has(id)) throw new Refusal('LEASE_NOT_FOUND')
    this.leases.delete(id)
    const doomed = this.liveAt(this.rev).filter((w) => w.lease === id)
    if (doomed.length > 0) {
      const main = this.rev + 1
      doomed.forEach((w, sub) =>
        this.writes.push({
          ...w,
          main,
          sub,
          deleted: true,
          value: new Uint8Array(0),
          create: 0,
          version: 0,
          lease: 0n,
        }),
      )
      this.rev = main
    }
    return { leaseRevoke: { revision: this.rev } }
  }

  private txn(req: TxnRequest): TxnResponse {
    const before = this.rev
    const main = before + 1
    let sub = 0
    // Pre-checks against the state before the txn, on the path taken (etcd's checkRequests).
    const decide = (t: TxnRequest): RequestOp[] =>
      t.compare.every((c) => this.compare(c, before)) ? t.success : t.failure
    const check = (t: TxnRequest) => {
      for (const op of decide(t)) {
        if ('requestPut' in op) {
          const p = op.requestPut
          if ((p.ignoreValue || p.ignoreLease) && !this.live(hex(p.key), before))
            throw new Refusal('KEY_NOT_FOUND')
          if ((p.lease ?? 0n) !== 0n && !this.leases.has(p.lease!))
            throw new Refusal('LEASE_NOT_FOUND')
        } else if ('requestRange' in op) {
          this.range(op.requestRange, before)
        } else if ('requestTxn' in op) check(op.requestTxn)
      }
    }
    check(req)
    const readRev = () => (sub > 0 ? main : before)
    const run = (t: TxnRequest, nested = false): TxnResponse => {
      const succeeded = t.compare.every((c) => this.compare(c, before))
      const responses: ResponseOp[] = []
      for (const op of succeeded ? t.success : t.failure) {
        if ('requestRange' in op) {
          responses.push({ responseRange: this.range(op.requestRange, readRev()) })
        } else if ('requestPut' in op) {
          const p = op.requestPut
          const key = hex(p.key)
          const prev = this.live(key, readRev())
          const value = p.ignoreValue ? prev!.value : p.value
          const lease = p.ignoreLease ? prev!.lease : (p.lease ?? 0n)
          const w: Write = {
            key,
            main,
            sub: sub++,
            deleted: false,
            value,
            create: prev ? prev.create : main,
            version: prev ? prev.version + 1 : 1,
            lease,
          }
          this.writes.push(w)
          responses.push({
            responsePut:
              p.prevKv && prev ? { prevKv: this.toKv(prev), revision: main } : { revision: main },
          })
        } else if ('requestDeleteRange' in op) {
          const d = op.requestDeleteRange
          const doomed = this.liveAt(readRev()).filter((w) =>
            this.inRange(w.key, d.key, d.rangeEnd),
          )
          for (const w of doomed) {
            this.writes.push({
              ...w,
              main,
              sub: sub++,
              deleted: true,
              value: new Uint8Array(0),
              create: 0,
              version: 0,
              lease: 0n,
            })
          }
          responses.push({
            responseDeleteRange: {
              deleted: doomed.length,
              prevKvs: d.prevKv ? doomed.map((w) => this.toKv(w)) : [],
              revision: readRev(),
            },
          })
        } else {
          responses.push({ responseTxn: run(op.requestTxn, true) })
        }
      }
      // etcd 3.4 sends a nested txn's response with an empty header (revision 0).
      return { succeeded, responses, revision: nested ? 0 : readRev() }
    }
    const resp = run(req)
    if (sub > 0) this.rev = main
    return resp
  }
}
