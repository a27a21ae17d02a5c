/**
 * FakeBackend: a small in-memory EtcdBackend for the gRPC layer's tests. It is written to be
 * obviously correct rather than fast, and follows etcd 3.4's documented behaviour closely enough
 * that etcdctl prints the same things for it as for a real etcd:
 *
 * - The store starts at revision 1 (etcd's empty store). Every put bumps the revision; a delete
 *   or a txn bumps it once, and only if it wrote something. All writes of a txn share one
 *   revision, and reads inside a txn see the txn's earlier writes.
 * - Each key keeps its full list of versions (puts and tombstones, in revision order); a range at
 *   revision R takes each key's last version at or below R. Compaction at C drops, per key, the
 *   versions that a read at C or later can no longer see; ranges below C fail 'COMPACTED',
 *   ranges above the current revision 'FUTURE_REV'.
 * - Watchers replay the event log from their start revision in one batch (header revision = the
 *   current revision, as etcd's catch-up does), then get one batch per write. pause() queues
 *   batches instead of delivering them; resume() delivers the queue. This queue is the fake's
 *   stand-in for the real watch hub's slow-watcher handling.
 * - Leases expire lazily: every call first revokes leases whose deadline passed (clock injected).
 *
 * Tests may poke at the public fields (leader, raftTerm, members, failures) to drive the server
 * into the situations they check.
 */
import type { RaftdeskError } from '../../../node-core/errors'
import type { AuthInfo } from '../../../node-core/mvcc/auth'
import type {
  AlarmMember,
  AlarmRequest,
  AuthRequest,
  AuthResponse,
  EtcdBackend,
  HeaderInfo,
  LeaseTimeToLiveResult,
  Member,
  MemberAddRequest,
  MemberAddResult,
  MemberStatus,
  WatchCreateRequest,
  WatchHandle,
  WatchNotification,
  WatchSink,
} from '../../../node-core/server/port'
import { EtcdServerError, type EtcdErrorCode } from '../../../node-core/api/errors'
import { encodeSavedSnapshot } from '../../../node-core/server/saved-snapshot'
import type {
  Compare,
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  Event,
  KeyValue,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseId,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  RequestOp,
  ResponseOp,
  TxnRequest,
  TxnResponse,
} from '../../../node-core/mvcc/types'

/** Keys as latin1 strings: one char per byte, so string order is byte order. */
type KeyString = string

function ks(bytes: Uint8Array): KeyString {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}

function kb(key: KeyString): Buffer {
  return Buffer.from(key, 'latin1')
}

interface Version {
  modRevision: number
  /** Undefined for a tombstone. */
  kv: KeyValue | undefined
}

interface Lease {
  id: LeaseId
  grantedTtlSeconds: number
  deadlineMs: number
  keys: Set<KeyString>
}

/** The write context of one put/delete/txn: all its writes share revision base + 1. */
interface WriteScope {
  base: number
  wrote: boolean
  events: Event[]
}

const LEASE_TTL_MIN_SECONDS = 2
const LEASE_TTL_MAX_SECONDS = 9_000_000_000

function inRange(key: KeyString, from: KeyString, end: KeyString | undefined): boolean {
  if (end === undefined) return key === from
  if (end === '\0') return key >= from
  return key >= from && key < end
}

function copyKv(kv: KeyValue): KeyValue {
  return { ...kv }
}

class FakeWatcher implements WatchHandle {
  paused = false
  canceled = false
  readonly queue: WatchNotification[] = []
  delivered = 0
  pauseCount = 0

  constructor(
    readonly req: WatchCreateRequest,
    private readonly sink: WatchSink,
    private readonly backend: FakeBackend,
  ) {}

  matches(key: KeyString): boolean {
    const end = this.req.rangeEnd ? ks(this.req.rangeEnd) : undefined
    return inRange(key, ks(this.req.key), end)
  }

  /** Filters and trims events for this watcher; returns undefined when nothing is left. */
  shape(events: Event[]): Event[] | undefined {
    const out: Event[] = []
    for (const ev of events) {
      if (!this.matches(ks(ev.kv.key))) continue
      if (ev.type === 'put' && this.req.filters.includes('noPut')) continue
      if (ev.type === 'delete' && this.req.filters.includes('noDelete')) continue
      out.push(this.req.prevKv ? ev : { type: ev.type, kv: ev.kv })
    }
    return out.length > 0 ? out : undefined
  }

  enqueue(n: WatchNotification): void {
    if (this.canceled) return
    this.queue.push(n)
    this.flush()
  }

  flush(): void {
    while (!this.paused && !this.canceled && this.queue.length > 0) {
      const n = this.queue.shift()!
      if (n.type !== 'events') this.canceled = true
      this.delivered++
      this.sink(n)
    }
  }

  cancel(): void {
    this.canceled = true
    this.queue.length = 0
    this.backend.watchers.delete(this)
  }

  pause(): void {
    this.paused = true
    this.pauseCount++
  }

  resume(): void {
    this.paused = false
    // Deliver on a later turn, as a real hub would, never inside the caller's stack.
    setImmediate(() => this.flush())
  }

  progressRevision(): number | undefined {
    return this.queue.length > 0 ? undefined : this.backend.revision
  }
}

export interface FakeBackendOptions {
  nowMs?: () => number
}

export class FakeBackend implements EtcdBackend {
  clusterId = 0x1c2d_3e4f_5a6b
  memberId = 0x0a1b_2c3d_4e5f
  raftTerm = 2
  leader = this.memberId
  learner = false
  raftIndex = 42
  raftAppliedIndex = 41
  version = '3.4.23'
  members: Member[] = [
    {
      id: this.memberId,
      name: 'fake1',
      peerUrls: ['http://127.0.0.1:2380'],
      clientUrls: ['http://127.0.0.1:2379'],
      isLearner: false,
    },
  ]
  alarms: AlarmMember[] = []
  /** Errors to throw from the next call of a method, keyed by method name. */
  readonly failures = new Map<string, RaftdeskError>()
  readonly watchers = new Set<FakeWatcher>()
  /** Every watch request the server made, in order. */
  readonly watchRequests: WatchCreateRequest[] = []

  revision = 1
  compactRevision = 0
  private readonly history = new Map<KeyString, Version[]>()
  /** Every event with its revision, oldest first; trimmed below the compaction revision. */
  private eventLog: { revision: number; event: Event }[] = []
  private readonly leases = new Map<LeaseId, Lease>()
  // Above 2^53, as etcd's random ids usually are, so every path carries them exactly.
  private nextLeaseId = 0x694d_71dd_5a3e_0000n
  private nextMemberId = 0x0a1b_2c3d_5000
  private readonly nowMs: () => number

  constructor(options: FakeBackendOptions = {}) {
    this.nowMs = options.nowMs ?? Date.now
  }

  private failIfAsked(method: string): void {
    const err = this.failures.get(method)
    if (err) {
      this.failures.delete(method)
      throw err
    }
  }

  header(): HeaderInfo {
    return {
      clusterId: this.clusterId,
      memberId: this.memberId,
      raftTerm: this.raftTerm,
      revision: this.revision,
      leader: this.leader,
      isLearner: this.learner,
    }
  }

  // ---- reads ----

  /** The live value of `key` at `rev` (Infinity: the latest, including a txn's own writes). */
  private valueAt(key: KeyString, rev: number): KeyValue | undefined {
    const versions = this.history.get(key) ?? []
    let found: Version | undefined
    for (const v of versions) if (v.modRevision <= rev) found = v
    return found?.kv
  }

  private liveKeys(from: KeyString, end: KeyString | undefined, rev: number): KeyValue[] {
    const keys = [...this.history.keys()].filter((k) => inRange(k, from, end)).sort()
    const out: KeyValue[] = []
    for (const k of keys) {
      const kv = this.valueAt(k, rev)
      if (kv) out.push(kv)
    }
    return out
  }

  private checkReadRevision(rev: number): void {
    if (rev > this.revision) throw new EtcdServerError('FUTURE_REV')
    if (rev > 0 && rev < this.compactRevision) throw new EtcdServerError('COMPACTED')
  }

  private doRange(req: RangeRequest, scope?: WriteScope): RangeResponse {
    const rev = req.revision ?? 0
    this.checkReadRevision(rev)
    const readAt = rev > 0 ? rev : Number.POSITIVE_INFINITY
    const end = req.rangeEnd ? ks(req.rangeEnd) : undefined
    let kvs = this.liveKeys(ks(req.key), end, readAt)
    const count = kvs.length
    if (req.countOnly) {
      return { kvs: [], more: false, count, revision: scope ? scope.base : this.revision }
    }
    const minMod = req.minModRevision ?? 0
    const maxMod = req.maxModRevision ?? 0
    const minCreate = req.minCreateRevision ?? 0
    const maxCreate = req.maxCreateRevision ?? 0
    if (minMod !== 0) kvs = kvs.filter((kv) => kv.modRevision >= minMod)
    if (maxMod !== 0) kvs = kvs.filter((kv) => kv.modRevision <= maxMod)
    if (minCreate !== 0) kvs = kvs.filter((kv) => kv.createRevision >= minCreate)
    if (maxCreate !== 0) kvs = kvs.filter((kv) => kv.createRevision <= maxCreate)
    const target = req.sortTarget ?? 'key'
    let order = req.sortOrder ?? 'none'
    if (order === 'none' && target !== 'key') order = 'ascend'
    if (order !== 'none') {
      const field = (kv: KeyValue): number | string => {
        switch (target) {
          case 'key':
            return ks(kv.key)
          case 'version':
            return kv.version
          case 'create':
            return kv.createRevision
          case 'mod':
            return kv.modRevision
          case 'value':
            return ks(kv.value)
        }
      }
      kvs = [...kvs].sort((a, b) => {
        const fa = field(a)
        const fb = field(b)
        const c = fa < fb ? -1 : fa > fb ? 1 : 0
        return order === 'ascend' ? c : -c
      })
    }
    let more = false
    const limit = req.limit ?? 0
    if (limit > 0 && kvs.length > limit) {
      kvs = kvs.slice(0, limit)
      more = true
    }
    const shaped = kvs.map((kv) =>
      req.keysOnly ? { ...copyKv(kv), value: new Uint8Array(0) } : copyKv(kv),
    )
    return { kvs: shaped, more, count, revision: scope ? scope.base : this.revision }
  }

  async range(req: RangeRequest): Promise<RangeResponse> {
    this.expireLeases()
    this.failIfAsked('range')
    return this.doRange(req)
  }

  // ---- writes ----

  private beginWrite(): WriteScope {
    return { base: this.revision, wrote: false, events: [] }
  }

  private writeRevision(scope: WriteScope): number {
    scope.wrote = true
    return scope.base + 1
  }

  private commitWrite(scope: WriteScope): number {
    if (!scope.wrote) return this.revision
    this.revision = scope.base + 1
    for (const event of scope.events) this.eventLog.push({ revision: this.revision, event })
    this.notifyWatchers(this.revision, scope.events)
    return this.revision
  }

  private doPut(req: PutRequest, scope: WriteScope): PutResponse {
    const key = ks(req.key)
    const prev = this.valueAt(key, Number.POSITIVE_INFINITY)
    if ((req.ignoreValue || req.ignoreLease) && !prev) throw new EtcdServerError('KEY_NOT_FOUND')
    const lease = req.ignoreLease ? prev!.lease : (req.lease ?? 0n)
    if (lease !== 0n && !this.leases.has(lease)) throw new EtcdServerError('LEASE_NOT_FOUND')
    const rev = this.writeRevision(scope)
    const kv: KeyValue = {
      key: kb(key),
      createRevision: prev ? prev.createRevision : rev,
      modRevision: rev,
      version: prev ? prev.version + 1 : 1,
      value: req.ignoreValue ? prev!.value : Buffer.from(req.value),
      lease,
    }
    this.pushVersion(key, { modRevision: rev, kv })
    if (prev && prev.lease !== 0n) this.leases.get(prev.lease)?.keys.delete(key)
    if (lease !== 0n) this.leases.get(lease)!.keys.add(key)
    scope.events.push({ type: 'put', kv: copyKv(kv), prevKv: prev ? copyKv(prev) : undefined })
    return { prevKv: req.prevKv && prev ? copyKv(prev) : undefined, revision: rev }
  }

  private pushVersion(key: KeyString, version: Version): void {
    const versions = this.history.get(key) ?? []
    versions.push(version)
    this.history.set(key, versions)
  }

  private doDelete(req: DeleteRangeRequest, scope: WriteScope): DeleteRangeResponse {
    const end = req.rangeEnd ? ks(req.rangeEnd) : undefined
    const victims = this.liveKeys(ks(req.key), end, Number.POSITIVE_INFINITY)
    if (victims.length === 0) return { deleted: 0, prevKvs: [], revision: scope.base }
    const rev = this.writeRevision(scope)
    for (const prev of victims) {
      const key = ks(prev.key)
      this.pushVersion(key, { modRevision: rev, kv: undefined })
      if (prev.lease !== 0n) this.leases.get(prev.lease)?.keys.delete(key)
      const tombstone: KeyValue = {
        key: kb(key),
        createRevision: 0,
        modRevision: rev,
        version: 0,
        value: new Uint8Array(0),
        lease: 0n,
      }
      scope.events.push({ type: 'delete', kv: tombstone, prevKv: copyKv(prev) })
    }
    return {
      deleted: victims.length,
      prevKvs: req.prevKv ? victims.map(copyKv) : [],
      revision: rev,
    }
  }

  async put(req: PutRequest): Promise<PutResponse> {
    this.expireLeases()
    this.failIfAsked('put')
    const scope = this.beginWrite()
    const res = this.doPut(req, scope)
    return { ...res, revision: this.commitWrite(scope) }
  }

  async deleteRange(req: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    this.expireLeases()
    this.failIfAsked('deleteRange')
    const scope = this.beginWrite()
    const res = this.doDelete(req, scope)
    return { ...res, revision: this.commitWrite(scope) }
  }

  private compareOne(c: Compare, kv: KeyValue | undefined): boolean {
    if (!kv && c.target === 'value') return false
    const subject = kv ?? {
      key: c.key,
      createRevision: 0,
      modRevision: 0,
      version: 0,
      value: new Uint8Array(0),
      lease: 0n,
    }
    let cmp: number
    if (c.target === 'value') {
      cmp = Buffer.compare(Buffer.from(subject.value), Buffer.from(c.value ?? new Uint8Array(0)))
    } else {
      const have = {
        version: subject.version,
        create: subject.createRevision,
        mod: subject.modRevision,
        lease: subject.lease,
      }[c.target]
      const want = {
        version: c.version,
        create: c.createRevision,
        mod: c.modRevision,
        lease: c.lease,
      }[c.target]!
      cmp = have < want ? -1 : have > want ? 1 : 0
    }
    switch (c.result) {
      case 'equal':
        return cmp === 0
      case 'notEqual':
        return cmp !== 0
      case 'greater':
        return cmp > 0
      case 'less':
        return cmp < 0
    }
  }

  private compare(c: Compare): boolean {
    const key = ks(c.key)
    if (!c.rangeEnd) return this.compareOne(c, this.valueAt(key, Number.POSITIVE_INFINITY))
    const kvs = this.liveKeys(key, ks(c.rangeEnd), Number.POSITIVE_INFINITY)
    return kvs.every((kv) => this.compareOne(c, kv))
  }

  private doTxn(req: TxnRequest, scope: WriteScope): TxnResponse {
    const succeeded = req.compare.every((c) => this.compare(c))
    const ops = succeeded ? req.success : req.failure
    const responses = ops.map((op) => this.doOp(op, scope))
    return { succeeded, responses, revision: scope.base }
  }

  private doOp(op: RequestOp, scope: WriteScope): ResponseOp {
    if ('requestRange' in op) return { responseRange: this.doRange(op.requestRange, scope) }
    if ('requestPut' in op) return { responsePut: this.doPut(op.requestPut, scope) }
    if ('requestDeleteRange' in op) {
      return { responseDeleteRange: this.doDelete(op.requestDeleteRange, scope) }
    }
    return { responseTxn: this.doTxn(op.requestTxn, scope) }
  }

  /** etcd stamps every response of a txn with the txn's final revision. */
  private stamp(res: TxnResponse, revision: number): TxnResponse {
    const responses = res.responses.map((op): ResponseOp => {
      if ('responseRange' in op) return { responseRange: { ...op.responseRange, revision } }
      if ('responsePut' in op) return { responsePut: { ...op.responsePut, revision } }
      if ('responseDeleteRange' in op) {
        return { responseDeleteRange: { ...op.responseDeleteRange, revision } }
      }
      return { responseTxn: this.stamp(op.responseTxn, revision) }
    })
    return { ...res, responses, revision }
  }

  async txn(req: TxnRequest): Promise<TxnResponse> {
    this.expireLeases()
    this.failIfAsked('txn')
    const scope = this.beginWrite()
    const res = this.doTxn(req, scope)
    return this.stamp(res, this.commitWrite(scope))
  }

  async compact(req: CompactionRequest): Promise<CompactionResponse> {
    this.failIfAsked('compact')
    const rev = req.revision
    if (rev <= this.compactRevision) throw new EtcdServerError('COMPACTED')
    if (rev > this.revision) throw new EtcdServerError('FUTURE_REV')
    this.compactRevision = rev
    for (const [key, versions] of this.history) {
      // Keep what a read at rev or later can see: the last version at or below rev, if live,
      // and everything after it.
      const lastAtOrBelow = versions.filter((v) => v.modRevision <= rev).at(-1)
      const kept = versions.filter((v) => v.modRevision > rev)
      if (lastAtOrBelow?.kv) kept.unshift(lastAtOrBelow)
      if (kept.length === 0) this.history.delete(key)
      else this.history.set(key, kept)
    }
    this.eventLog = this.eventLog.filter((e) => e.revision >= rev)
    return { revision: this.revision }
  }

  // ---- leases ----

  private expireLeases(): void {
    const now = this.nowMs()
    for (const lease of [...this.leases.values()]) {
      if (lease.deadlineMs <= now) this.revokeLease(lease)
    }
  }

  private revokeLease(lease: Lease): number {
    this.leases.delete(lease.id)
    const scope = this.beginWrite()
    for (const key of [...lease.keys].sort()) this.doDelete({ key: kb(key) }, scope)
    return this.commitWrite(scope)
  }

  private requireLease(id: LeaseId): Lease {
    const lease = this.leases.get(id)
    if (!lease) throw new EtcdServerError('LEASE_NOT_FOUND')
    return lease
  }

  async leaseGrant(req: LeaseGrantRequest): Promise<LeaseGrantResponse> {
    this.expireLeases()
    this.failIfAsked('leaseGrant')
    if (req.ttlSeconds > LEASE_TTL_MAX_SECONDS) throw new EtcdServerError('LEASE_TTL_TOO_LARGE')
    const id = req.id !== 0n ? req.id : this.nextLeaseId++
    if (this.leases.has(id)) throw new EtcdServerError('LEASE_EXIST')
    const ttl = Math.max(req.ttlSeconds, LEASE_TTL_MIN_SECONDS)
    this.leases.set(id, {
      id,
      grantedTtlSeconds: ttl,
      deadlineMs: this.nowMs() + ttl * 1000,
      keys: new Set(),
    })
    return { id, ttlSeconds: ttl, revision: this.revision }
  }

  async leaseRevoke(req: LeaseRevokeRequest): Promise<LeaseRevokeResponse> {
    this.expireLeases()
    this.failIfAsked('leaseRevoke')
    return { revision: this.revokeLease(this.requireLease(req.id)) }
  }

  async leaseKeepAlive(id: LeaseId): Promise<number> {
    this.expireLeases()
    this.failIfAsked('leaseKeepAlive')
    const lease = this.requireLease(id)
    lease.deadlineMs = this.nowMs() + lease.grantedTtlSeconds * 1000
    return lease.grantedTtlSeconds
  }

  async leaseTimeToLive(id: LeaseId, keys: boolean): Promise<LeaseTimeToLiveResult> {
    this.expireLeases()
    this.failIfAsked('leaseTimeToLive')
    const lease = this.requireLease(id)
    return {
      id,
      ttlSeconds: Math.floor((lease.deadlineMs - this.nowMs()) / 1000),
      grantedTtlSeconds: lease.grantedTtlSeconds,
      keys: keys ? [...lease.keys].sort().map(kb) : [],
    }
  }

  async leaseLeases(): Promise<LeaseId[]> {
    this.expireLeases()
    this.failIfAsked('leaseLeases')
    return [...this.leases.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  }

  // ---- watches ----

  watch(req: WatchCreateRequest, sink: WatchSink): WatchHandle {
    this.failIfAsked('watch')
    this.watchRequests.push(req)
    const watcher = new FakeWatcher(req, sink, this)
    this.watchers.add(watcher)
    const start = req.startRevision
    if (start > 0 && start < this.compactRevision) {
      watcher.queue.push({ type: 'compacted', compactRevision: this.compactRevision })
    } else if (start > 0 && start <= this.revision) {
      const past = this.eventLog.filter((e) => e.revision >= start).map((e) => e.event)
      const events = watcher.shape(past)
      if (events) watcher.queue.push({ type: 'events', revision: this.revision, events })
    }
    // Never deliver inside watch(): the gRPC layer announces the watcher first.
    setImmediate(() => watcher.flush())
    return watcher
  }

  private notifyWatchers(revision: number, events: Event[]): void {
    for (const watcher of this.watchers) {
      if (watcher.req.startRevision > revision) continue
      const shaped = watcher.shape(events)
      if (shaped) watcher.enqueue({ type: 'events', revision, events: shaped })
    }
  }

  /** Cancels every watcher from the backend side, as a hub dropping slow watchers would. */
  cancelAllWatchers(reason: string): void {
    for (const watcher of [...this.watchers]) {
      this.watchers.delete(watcher)
      watcher.enqueue({ type: 'canceled', reason })
    }
  }

  // ---- membership and maintenance ----

  private requireMember(id: number): Member {
    const member = this.members.find((m) => m.id === id)
    if (!member) throw new EtcdServerError('MEMBER_NOT_FOUND')
    return member
  }

  async memberList(): Promise<Member[]> {
    this.failIfAsked('memberList')
    return this.members.map((m) => ({ ...m }))
  }

  async memberAdd(req: MemberAddRequest): Promise<MemberAddResult> {
    this.failIfAsked('memberAdd')
    const taken = new Set(this.members.flatMap((m) => m.peerUrls))
    if (req.peerUrls.some((u) => taken.has(u))) throw new EtcdServerError('PEER_URL_EXIST')
    const member: Member = {
      id: this.nextMemberId++,
      name: '',
      peerUrls: req.peerUrls,
      clientUrls: [],
      isLearner: req.isLearner,
    }
    this.members.push(member)
    return { member: { ...member }, members: await this.memberList() }
  }

  async memberRemove(id: number): Promise<Member[]> {
    this.failIfAsked('memberRemove')
    this.requireMember(id)
    this.members = this.members.filter((m) => m.id !== id)
    return this.memberList()
  }

  async memberUpdate(id: number, peerUrls: string[]): Promise<Member[]> {
    this.failIfAsked('memberUpdate')
    this.requireMember(id).peerUrls = peerUrls
    return this.memberList()
  }

  async memberPromote(id: number): Promise<Member[]> {
    this.failIfAsked('memberPromote')
    const member = this.requireMember(id)
    if (!member.isLearner) throw new EtcdServerError('MEMBER_NOT_LEARNER')
    member.isLearner = false
    return this.memberList()
  }

  async status(): Promise<MemberStatus> {
    this.failIfAsked('status')
    return {
      version: this.version,
      dbSizeBytes: 20480,
      dbSizeInUseBytes: 16384,
      leader: this.leader,
      raftIndex: this.raftIndex,
      raftTerm: this.raftTerm,
      raftAppliedIndex: this.raftAppliedIndex,
      errors: this.alarms.map((a) => `memberID:${a.memberId} alarm:${a.alarm.toUpperCase()} `),
      isLearner: false,
    }
  }

  async moveLeader(targetId: number): Promise<void> {
    this.failIfAsked('moveLeader')
    if (this.leader !== this.memberId) throw new EtcdServerError('NOT_LEADER')
    const target = this.members.find((m) => m.id === targetId)
    if (!target || target.isLearner) throw new EtcdServerError('BAD_LEADER_TRANSFEREE')
    this.leader = targetId
  }

  /** What hash() and hashKV() answer. */
  hashValue = 0x1234abcd
  hashKVAsked: number[] = []
  async hash(): Promise<{ hash: number; revision: number }> {
    this.failIfAsked('hash')
    return { hash: this.hashValue, revision: this.revision }
  }

  async hashKV(revision: number) {
    this.failIfAsked('hashKV')
    this.hashKVAsked.push(revision)
    return { hash: this.hashValue, revision: this.revision, compactRevision: 0 }
  }

  defragments = 0
  async defragment(): Promise<void> {
    this.failIfAsked('defragment')
    this.defragments++
  }

  /** Bytes the next snapshot() streams (as the saved-snapshot format of a fake image). */
  snapshotImage: Uint8Array = new TextEncoder().encode('fake image')
  snapshot(): AsyncIterable<Uint8Array> {
    this.failIfAsked('snapshot')
    const image = this.snapshotImage
    return encodeSavedSnapshot(
      (async function* () {
        yield image
      })(),
    )
  }

  checkQuota(): void {}

  /** Tokens the fake knows (token -> user), for tests of the call chain's authentication. */
  readonly tokens = new Map<string, string>()

  async authInfo(token: string): Promise<AuthInfo> {
    const user = this.tokens.get(token)
    if (user === undefined) throw etcdError('INVALID_AUTH_TOKEN')
    return { user, revision: 1 }
  }

  async authenticate(): Promise<{ token: string; revision: number }> {
    throw etcdError('AUTH_NOT_ENABLED')
  }

  async auth(req: AuthRequest): Promise<AuthResponse> {
    if (req.type === 'authStatus') return { revision: 0, enabled: false, authRevision: 1 }
    throw new EtcdServerError('NOT_CAPABLE', 'the fake backend has no users or roles')
  }

  async alarm(req: AlarmRequest): Promise<AlarmMember[]> {
    this.failIfAsked('alarm')
    const matches = (a: AlarmMember) =>
      (req.memberId === 0 || a.memberId === req.memberId) &&
      (req.alarm === 'none' || a.alarm === req.alarm)
    switch (req.action) {
      case 'get':
        return this.alarms.filter(matches)
      case 'activate': {
        const raised = { memberId: req.memberId, alarm: req.alarm }
        if (!this.alarms.some((a) => a.memberId === req.memberId && a.alarm === req.alarm)) {
          this.alarms.push(raised)
        }
        return [raised]
      }
      case 'deactivate': {
        const lowered = this.alarms.filter(matches)
        this.alarms = this.alarms.filter((a) => !matches(a))
        return lowered
      }
    }
  }
}

// Auth is served by real members only (test/e2e/auth.test.ts runs it end to end); the fake
// answers as a member with auth off and no users.
export interface FakeAuth {
  authInfo(): Promise<AuthInfo>
  authenticate(): Promise<{ token: string; revision: number }>
  auth(req: AuthRequest): Promise<AuthResponse>
}

/** A typed backend error with an etcd code, for tests that make the fake fail. */
export function etcdError(code: EtcdErrorCode): EtcdServerError {
  return new EtcdServerError(code)
}
