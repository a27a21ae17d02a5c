/**
 * The server's port (port.ts EtcdBackend, AdminBackend) over a RaftdeskNode: writes are proposed
 * through raft, reads go through ReadIndex unless serializable, watches come from the store's
 * watch hub, membership changes are conf changes.
 *
 * Leases: grant and revoke are replicated writes; keep-alive and time-to-live need the leader's
 * clock (only the leader's lessor counts down, as in etcd), so a follower hands them to the
 * leader through its LeaderLink, as it does a learner's promotion.
 */
import type {
  AlarmMember,
  AlarmRequest,
  AuthRequest,
  AuthResponse,
  CallOptions,
  EtcdBackend,
  HeaderInfo,
  LeaseTimeToLiveResult,
  Member,
  MemberAddRequest,
  MemberAddResult,
  MemberStatus,
  WatchCreateRequest,
  WatchHandle,
  WatchSink,
  AdminBackend,
  JoinRequest,
  JoinResult,
  LeaderLink,
} from './port'
import { EtcdServerError } from '../kernel/etcd-errors'
import { NotFoundError, RaftdeskError } from '../errors'
import type { AdminArgs, AdminCall, AdminHandlers, AdminResult } from './admin-port'
import { CompactedError, WatchFellBehindError } from '../mvcc/errors'
import type {
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  LeaseGrantRequest,
  LeaseId,
  LeaseGrantResponse,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
  WriteOp,
  WriteResult,
} from '../mvcc/types'
import { randomLeaseId, randomMemberId } from './ids'
import type { AuthInfo, AuthOp } from '../mvcc/auth'
import { unreachable } from '../kernel/assert'
import { tokenPrefix } from './auth-tokens'
import { hashPassword, verifyPassword } from './passwords'
import { composeImage } from './image'
import { encodeSavedSnapshot } from './saved-snapshot'
import { hostPort } from './members'
import type { RaftdeskNode } from './node'

/** The etcd version raftdesk answers with: the API level it implements (build metadata after +). */
export const ETCD_COMPAT_VERSION = '3.4.23+raftdesk'

/** A learner is promoted only once it holds this share of the leader's log (etcd: 90%). */
const LEARNER_READY_RATIO = 0.9

function toMember(m: Member): Member {
  return {
    id: m.id,
    name: m.name,
    peerUrls: m.peerUrls,
    clientUrls: m.clientUrls,
    isLearner: m.isLearner,
  }
}

/** etcd's default --quota-backend-bytes: 2 GiB. */
export const QUOTA_BACKEND_BYTES_DEFAULT = 2 * 1024 ** 3
/** How often the store's size on disk is measured for the quota (a directory listing). */
const DB_SIZE_SAMPLE_MS = 250
/** A member raises its NOSPACE alarm at most this often while writes keep hitting the quota. */
const NOSPACE_RAISE_INTERVAL_MS = 1000

export interface NodeBackendOptions {
  /** --quota-backend-bytes (0 or absent: 2 GiB). */
  quotaBackendBytes?: number
}

/**
 * The leader's client endpoint (host:port) as this member knows it, for the calls it forwards
 * there; etcd's "no leader" or "not leader" when it knows none.
 */
export function leaderClientEndpoint(node: RaftdeskNode): string {
  const lead = node.leaderId
  const member = lead === 0 ? undefined : node.membership.get(lead)
  const url = member?.clientUrls[0]
  if (!url) throw new EtcdServerError(lead === 0 ? 'NO_LEADER' : 'NOT_LEADER', 'leader unknown')
  return hostPort(url)
}

export class NodeBackend implements EtcdBackend {
  private readonly quotaBytes: number
  /** The store's size on disk as last measured (the quota compares against it). */
  private dbSizeBytes = 0
  private readonly sizer: NodeJS.Timeout
  private lastRaiseMs = -Infinity

  /** `leader` carries the calls only the leader can answer, from a follower to the leader. */
  constructor(
    private readonly node: RaftdeskNode,
    private readonly leader: LeaderLink,
    options: NodeBackendOptions = {},
  ) {
    this.quotaBytes = options.quotaBackendBytes || QUOTA_BACKEND_BYTES_DEFAULT
    this.sizer = setInterval(() => void this.measure(), DB_SIZE_SAMPLE_MS)
    this.sizer.unref()
    void this.measure()
  }

  private async measure(): Promise<void> {
    this.dbSizeBytes = await this.node.store.sizeOnDiskBytes().catch(() => this.dbSizeBytes)
  }

  /** Releases the link to the leader (its connections). */
  close(): void {
    clearInterval(this.sizer)
    this.leader.close()
  }

  /**
   * etcd's quota: a write that would take the store past --quota-backend-bytes is refused with
   * "database space exceeded", and this member raises its NOSPACE alarm through raft, which caps
   * every member (mvcc/alarms.ts) until an operator disarms it.
   */
  checkQuota(costBytes: number): void {
    if (this.dbSizeBytes + costBytes <= this.quotaBytes) return
    const now = this.node.clock.now()
    if (now - this.lastRaiseMs >= NOSPACE_RAISE_INTERVAL_MS) {
      this.lastRaiseMs = now
      const alarm = { action: 'activate', memberId: this.node.id, alarm: 'nospace' } as const
      this.node.propose({ type: 'alarm', alarm }).catch(() => {
        this.lastRaiseMs = -Infinity // not raised (no leader, stopping): the next write tries again
      })
    }
    throw new EtcdServerError(
      'NO_SPACE',
      `store ${this.dbSizeBytes} bytes + ${costBytes} > quota ${this.quotaBytes}`,
    )
  }

  header(): HeaderInfo {
    return {
      clusterId: this.node.clusterId,
      memberId: this.node.id,
      raftTerm: this.node.raftTerm,
      revision: this.node.store.revision,
      leader: this.node.leaderId,
      isLearner: this.node.isLearner,
    }
  }

  range(req: RangeRequest, call?: CallOptions): Promise<RangeResponse> {
    return this.node.range(req, call?.who, call?.token)
  }

  async put(req: PutRequest, call?: CallOptions): Promise<PutResponse> {
    const r = await this.write({ type: 'put', put: req }, call)
    if (!('put' in r)) throw unexpected(r)
    return r.put
  }

  async deleteRange(req: DeleteRangeRequest, call?: CallOptions): Promise<DeleteRangeResponse> {
    const r = await this.write({ type: 'deleteRange', deleteRange: req }, call)
    if (!('deleteRange' in r)) throw unexpected(r)
    return r.deleteRange
  }

  async txn(req: TxnRequest, call?: CallOptions): Promise<TxnResponse> {
    const r = await this.write({ type: 'txn', txn: req }, call)
    if (!('txn' in r)) throw unexpected(r)
    return r.txn
  }

  async compact(req: CompactionRequest, call?: CallOptions): Promise<CompactionResponse> {
    const r = await this.write({ type: 'compaction', compaction: req }, call)
    if (!('compaction' in r)) throw unexpected(r)
    return r.compaction
  }

  /**
   * A lease asked for without an id gets a random one here, before it is proposed (as etcd's
   * member picks one from its request id generator), so ids look like etcd's, not like log
   * indexes; the id travels in the entry, so every member applies the same.
   */
  async leaseGrant(req: LeaseGrantRequest, call?: CallOptions): Promise<LeaseGrantResponse> {
    for (let attempt = 1; ; attempt++) {
      const id = req.id === 0n ? randomLeaseId() : req.id
      try {
        const r = await this.write({ type: 'leaseGrant', leaseGrant: { ...req, id } }, call)
        if (!('leaseGrant' in r)) throw unexpected(r)
        return r.leaseGrant
      } catch (err) {
        // A random id that happens to be taken is drawn again; an id the client chose is not.
        const taken = err instanceof RaftdeskError && err.code === 'LEASE_EXIST'
        if (!taken || req.id !== 0n || attempt >= 3) throw err
      }
    }
  }

  async leaseRevoke(req: LeaseRevokeRequest, call?: CallOptions): Promise<LeaseRevokeResponse> {
    const r = await this.write({ type: 'leaseRevoke', leaseRevoke: req }, call)
    if (!('leaseRevoke' in r)) throw unexpected(r)
    return r.leaseRevoke
  }

  leaseKeepAlive(id: LeaseId): Promise<number> {
    return this.node.leaderCall(
      () => renewOnLeader(this.node, id),
      (deadlineMs) => this.leader.leaseRenew(id, deadlineMs),
    )
  }

  leaseTimeToLive(id: LeaseId, keys: boolean): Promise<LeaseTimeToLiveResult> {
    return this.node.leaderCall(
      () => timeToLiveOnLeader(this.node, id, keys),
      async (deadlineMs) => ({ id, ...(await this.leader.leaseTimeToLive(id, keys, deadlineMs)) }),
    )
  }

  async leaseLeases(): Promise<LeaseId[]> {
    await this.node.linearizableBarrier()
    return this.node.store.lessor.list()
  }

  watch(req: WatchCreateRequest, sink: WatchSink, call?: CallOptions): WatchHandle {
    this.node.store.auth.checkRead(call?.who, req.key, req.rangeEnd)
    const watcher = this.node.store.watch({
      key: req.key,
      ...(req.rangeEnd ? { rangeEnd: req.rangeEnd } : {}),
      startRevision: req.startRevision,
      prevKv: req.prevKv,
      noPut: req.filters.includes('noPut'),
      noDelete: req.filters.includes('noDelete'),
    })
    let paused = false
    let resumed: (() => void) | null = null
    let cancelled = false
    const pump = async () => {
      try {
        for (;;) {
          if (paused) await new Promise<void>((r) => (resumed = r))
          if (cancelled) return
          const next = await watcher.next()
          if (next.done || cancelled) return
          sink({ type: 'events', revision: next.value.revision, events: next.value.events })
        }
      } catch (err) {
        if (cancelled) return
        if (err instanceof CompactedError) {
          sink({ type: 'compacted', compactRevision: err.compactedRevision })
        } else if (err instanceof WatchFellBehindError) {
          sink({ type: 'canceled', reason: err.message })
        } else {
          sink({ type: 'canceled', reason: (err as Error).message })
        }
      }
    }
    void pump()
    return {
      cancel() {
        cancelled = true
        watcher.cancel()
        resumed?.()
      },
      pause() {
        paused = true
      },
      resume() {
        paused = false
        const r = resumed
        resumed = null
        r?.()
      },
      progressRevision: () => watcher.progressRevision(),
    }
  }

  async memberList(linearizable: boolean): Promise<Member[]> {
    if (linearizable) await this.node.linearizableBarrier()
    return this.node.membership.list().map(toMember)
  }

  async memberAdd(req: MemberAddRequest): Promise<MemberAddResult> {
    if (this.node.membership.usesPeerUrl(req.peerUrls)) throw new EtcdServerError('PEER_URL_EXIST')
    const id = randomMemberId()
    await this.node.changeMembership({
      type: req.isLearner ? 'addLearner' : 'addVoter',
      nodeId: id,
      member: { name: '', peerUrls: req.peerUrls, clientUrls: [] },
    })
    const member = this.node.membership.get(id)
    if (!member) throw new EtcdServerError('MEMBER_NOT_FOUND', `member ${id} vanished`)
    return { member: toMember(member), members: this.node.membership.list().map(toMember) }
  }

  async memberRemove(id: number): Promise<Member[]> {
    await removeMemberOn(this.node, id)
    return this.node.membership.list().map(toMember)
  }

  /**
   * etcd's member update: new peer URLs for a member, replicated as an updateNode conf change
   * (the quorum stays; every member records the URLs and redials the member there).
   */
  async memberUpdate(id: number, peerUrls: string[]): Promise<Member[]> {
    const member = this.node.membership.get(id)
    if (!member) throw new EtcdServerError('MEMBER_NOT_FOUND')
    if (this.node.membership.usesPeerUrl(peerUrls, id)) throw new EtcdServerError('PEER_URL_EXIST')
    await this.node.changeMembership({
      type: 'updateNode',
      nodeId: id,
      member: { name: member.name, peerUrls, clientUrls: member.clientUrls },
    })
    return this.node.membership.list().map(toMember)
  }

  /** Promotes on the leader, forwarded there from a follower (as etcd does). */
  async memberPromote(id: number): Promise<Member[]> {
    await this.node.leaderCall(
      () => promoteOnLeader(this.node, id),
      (deadlineMs) => this.leader.memberPromote(id, deadlineMs),
    )
    return this.node.membership.list().map(toMember)
  }

  async status(): Promise<MemberStatus> {
    const s = this.node.status()
    const dbSizeBytes = await this.node.store.sizeOnDiskBytes().catch(() => 0)
    return {
      version: ETCD_COMPAT_VERSION,
      dbSizeBytes,
      dbSizeInUseBytes: dbSizeBytes,
      leader: s.lead,
      raftIndex: s.commit,
      raftTerm: s.term,
      raftAppliedIndex: s.applied,
      errors: this.node.store.alarms
        .list()
        .map((a) => `memberID:${a.memberId} alarm:${a.alarm.toUpperCase()} `),
      isLearner: s.confState.learners.includes(this.node.id),
    }
  }

  async moveLeader(targetId: number, call?: CallOptions): Promise<void> {
    this.node.store.auth.checkAdmin(call?.who)
    this.requireLeader()
    if (!this.node.status().confState.voters.includes(targetId)) {
      throw new EtcdServerError('BAD_LEADER_TRANSFEREE', `${targetId} is not a voting member`)
    }
    this.node.transferLeadership(targetId)
    // Real time, not the node's clock: a bounded wait for the transfer, polled while it runs.
    const deadline = Date.now() + 5_000
    while (Date.now() < deadline) {
      if (this.node.leaderId === targetId) return
      await new Promise((r) => setTimeout(r, 20))
    }
    throw new EtcdServerError('TIMEOUT', `leadership did not move to ${targetId}`)
  }

  async hash(call?: CallOptions): Promise<{ hash: number; revision: number }> {
    this.node.store.auth.checkAdmin(call?.who)
    return this.node.store.hash()
  }

  async hashKV(revision: number, call?: CallOptions) {
    this.node.store.auth.checkAdmin(call?.who)
    return this.node.store.hashKV(revision)
  }

  async defragment(call?: CallOptions): Promise<void> {
    this.node.store.auth.checkAdmin(call?.who)
    await this.node.store.defragment()
    await this.measure() // the quota sees the space given back at once
  }

  snapshot(call?: CallOptions): AsyncIterable<Uint8Array> {
    this.node.store.auth.checkAdmin(call?.who)
    const image = composeImage(this.node.membership.toJSON(), this.node.store.snapshotImage())
    return encodeSavedSnapshot(image)
  }

  /**
   * etcd's Alarm: list (after a linearizable barrier), raise or disarm through raft. A disarm
   * names one member and one alarm (etcdctl lists the alarms and disarms each).
   */
  async alarm(req: AlarmRequest): Promise<AlarmMember[]> {
    if (req.action === 'get') {
      await this.node.linearizableBarrier()
      return this.node.store.alarms.list(req.alarm === 'none' ? undefined : req.alarm)
    }
    if (req.alarm === 'none') return [] // nothing to raise or disarm, as etcd answers
    const r = await this.write({
      type: 'alarm',
      alarm: { action: req.action, memberId: req.memberId, alarm: req.alarm },
    })
    if (!('alarm' in r)) throw unexpected(r)
    return r.alarm
  }

  authInfo(token: string, deadlineMs: number): Promise<AuthInfo> {
    return this.node.authInfo(token, deadlineMs)
  }

  /**
   * etcd's Authenticate: the password is checked here, against this member's state after a
   * linearizable barrier, and only the token's issue goes through raft (the entry carries no
   * password). If users changed meanwhile, the check runs again, as etcd's loop does.
   */
  async authenticate(
    name: string,
    password: string,
    call?: CallOptions,
  ): Promise<{ token: string; revision: number }> {
    await this.node.linearizableBarrier()
    for (;;) {
      const auth = this.node.store.auth
      if (!auth.enabled) throw new EtcdServerError('AUTH_NOT_ENABLED')
      const checkedRevision = auth.revision
      const user = auth.user(name)
      if (user && user.password === null) throw new EtcdServerError('NO_PASSWORD_USER')
      if (!(await verifyPassword(user?.password ?? undefined, password))) {
        throw new EtcdServerError('AUTH_FAILED', `wrong password or no user ${name}`)
      }
      const op: AuthOp = { type: 'authenticate', name, tokenPrefix: tokenPrefix() }
      const r = await this.write({ type: 'auth', auth: op }, call)
      if (!('auth' in r) || r.auth.token === undefined) throw unexpected(r)
      if (this.node.store.auth.revision === checkedRevision) {
        return { token: r.auth.token, revision: this.node.store.revision }
      }
    }
  }

  async auth(req: AuthRequest, call?: CallOptions): Promise<AuthResponse> {
    const read = await this.authRead(req, call?.who)
    if (read) return read
    const op = await this.authOp(req)
    const r = await this.write({ type: 'auth', auth: op }, call)
    if (!('auth' in r)) throw unexpected(r)
    return { revision: this.node.store.revision }
  }

  /**
   * The Auth reads, served by this member after a linearizable barrier with etcd's checks (etcd
   * sends them through raft; the answer is the same): a user may read itself and its own roles,
   * root reads everything.
   */
  private async authRead(
    req: AuthRequest,
    who: AuthInfo | undefined,
  ): Promise<AuthResponse | null> {
    if (!AUTH_READS.has(req.type)) return null
    await this.node.linearizableBarrier()
    const auth = this.node.store.auth
    const revision = this.node.store.revision
    switch (req.type) {
      case 'authStatus':
        return { revision, enabled: auth.enabled, authRevision: auth.revision }
      case 'userGet': {
        if (req.name !== who?.user) auth.checkAdmin(who)
        const user = auth.user(req.name)
        if (!user) throw new EtcdServerError('USER_NOT_FOUND')
        return { revision, roles: user.roles }
      }
      case 'userList':
        auth.checkAdmin(who)
        return { revision, users: auth.userNames() }
      case 'roleGet': {
        if (!who || !auth.hasRole(who.user, req.role)) auth.checkAdmin(who)
        const role = auth.role(req.role)
        if (!role) throw new EtcdServerError('ROLE_NOT_FOUND')
        return { revision, perms: role.permissions }
      }
      case 'roleList':
        auth.checkAdmin(who)
        return { revision, roles: auth.roleNames() }
      default:
        return null
    }
  }

  /** The replicated op for an Auth write; passwords are hashed here, before the log sees them. */
  private async authOp(req: AuthRequest): Promise<AuthOp> {
    switch (req.type) {
      case 'userAdd':
        return {
          type: 'userAdd',
          name: req.name,
          password: req.noPassword ? null : await hashPassword(req.password),
        }
      case 'userChangePassword':
        return {
          type: 'userChangePassword',
          name: req.name,
          password: await hashPassword(req.password),
        }
      case 'authEnable':
      case 'authDisable':
      case 'userDelete':
      case 'userGrantRole':
      case 'userRevokeRole':
      case 'roleAdd':
      case 'roleDelete':
      case 'roleGrantPermission':
      case 'roleRevokePermission':
        return req
      case 'authStatus':
      case 'userGet':
      case 'userList':
      case 'roleGet':
      case 'roleList':
        throw new Error(`${req.type} is a read, not a replicated op`)
      default:
        return unreachable(req, 'auth request')
    }
  }

  private requireLeader(): void {
    if (!this.node.isLeader) {
      throw new EtcdServerError(this.node.leaderId === 0 ? 'NO_LEADER' : 'NOT_LEADER')
    }
  }

  private async write(op: WriteOp, call?: CallOptions): Promise<WriteResult> {
    const result = await this.node.propose(op, {
      ...(call?.signal ? { signal: call.signal } : {}),
      ...(call?.who ? { who: call.who } : {}),
    })
    if ('error' in result) throw new RaftdeskError(result.error.code, result.error.message)
    return result
  }
}

/** Auth requests answered from this member's state rather than through the log. */
const AUTH_READS: ReadonlySet<AuthRequest['type']> = new Set([
  'authStatus',
  'userGet',
  'userList',
  'roleGet',
  'roleList',
])

function unexpected(r: WriteResult): Error {
  return new Error(`unexpected write result ${JSON.stringify(Object.keys(r))}`)
}

/** etcd's promote checks, then the conf change; the caller is the leader. */
/**
 * A lease renewal on the leader (asked here, or forwarded to it), once it has applied what is
 * committed: etcd's order (waitAppliedIndex), so that a lease just granted through another member
 * is found.
 */
async function renewOnLeader(node: RaftdeskNode, id: LeaseId): Promise<number> {
  await leaderApplied(node)
  return node.store.lessor.renew(id, node.clock.now())
}

/** Waits until the leader applied what is committed; NOT_LEADER if it is not (or no longer) it. */
async function leaderApplied(node: RaftdeskNode): Promise<void> {
  if (!node.isLeader) throw new EtcdServerError('NOT_LEADER')
  await node.appliedCommitted(Date.now() + node.requestTimeoutMs)
  // Leadership may have moved during the wait: the lessor here is no longer the primary one.
  if (!node.isLeader) throw new EtcdServerError('NOT_LEADER')
}

/** A lease's time to live on the leader, in the same order as renewOnLeader. */
async function timeToLiveOnLeader(node: RaftdeskNode, id: LeaseId, keys: boolean) {
  await leaderApplied(node)
  return node.store.lessor.timeToLive(id, node.clock.now(), keys)
}

export async function promoteOnLeader(node: RaftdeskNode, id: number): Promise<void> {
  const m = node.membership.get(id)
  if (!m) throw new EtcdServerError('MEMBER_NOT_FOUND')
  if (!m.isLearner) throw new EtcdServerError('MEMBER_NOT_LEARNER')
  if (!node.isLeader) throw new EtcdServerError('NOT_LEADER')
  const commit = node.commitIndex()
  if (node.matchOf(id) < commit * LEARNER_READY_RATIO) {
    throw new EtcdServerError(
      'LEARNER_NOT_READY',
      `learner ${id} has ${node.matchOf(id)} of ${commit} entries`,
    )
  }
  await node.changeMembership({ type: 'promoteLearner', nodeId: id })
}

/** The Admin service's backend: Join adds a learner after the token check in api/admin.ts. */
export class NodeAdmin implements AdminBackend {
  constructor(
    private readonly node: RaftdeskNode,
    private readonly token: string,
    /** The node's admin port, served through the Admin service's Call. */
    private readonly port?: AdminHandlers,
  ) {}

  adminCall<K extends AdminCall>(call: K, args: AdminArgs<K>): Promise<AdminResult<K>> {
    if (!this.port) throw new NotFoundError('NO_ADMIN_PORT', 'this node serves no admin port')
    const handler = this.port[call] as (a: AdminArgs<K>) => Promise<AdminResult<K>>
    return handler(args)
  }

  clusterToken(): string {
    return this.token
  }

  leaseRenew(id: LeaseId): Promise<number> {
    return renewOnLeader(this.node, id)
  }

  leaseTimeToLive(id: LeaseId, keys: boolean) {
    return timeToLiveOnLeader(this.node, id, keys)
  }

  memberPromote(id: number): Promise<void> {
    return promoteOnLeader(this.node, id)
  }

  addLearner(req: JoinRequest): Promise<JoinResult> {
    return addLearnerTo(this.node, req)
  }
}

/** Adds a named learner (Join, and the supervisor's "add a node"): names and peer URLs unique. */
export async function addLearnerTo(node: RaftdeskNode, req: JoinRequest): Promise<JoinResult> {
  if (node.membership.list().some((m) => m.name === req.name)) {
    throw new EtcdServerError('MEMBER_EXIST', `a member named ${req.name} exists`)
  }
  if (node.membership.usesPeerUrl(req.peerUrls)) throw new EtcdServerError('PEER_URL_EXIST')
  const id = randomMemberId()
  await node.changeMembership({
    type: 'addLearner',
    nodeId: id,
    member: { name: req.name, peerUrls: req.peerUrls, clientUrls: req.clientUrls },
  })
  return { memberId: id, clusterId: node.clusterId, members: node.membership.list().map(toMember) }
}

/** etcd's member remove; a leader removing itself hands leadership over first. */
export async function removeMemberOn(node: RaftdeskNode, id: number): Promise<void> {
  if (!node.membership.get(id)) throw new EtcdServerError('MEMBER_NOT_FOUND')
  // A leader that removes itself would leave the cluster leaderless for an election timeout;
  // handing over first keeps the gap to one round trip.
  if (id === node.id) await node.handOverLeadership()
  try {
    await node.changeMembership({ type: 'removeNode', nodeId: id })
  } catch (err) {
    // Removing itself, this member may hear that its removal committed from a member that
    // applied it (and now refuses it) before it applies it here: it stops, removed. Done.
    if (id === node.id && node.wasRemoved) return
    throw err
  }
}
