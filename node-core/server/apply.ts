/**
 * Applying what raft committed, step 6 of the Ready loop (node.ts): a received snapshot first
 * (the store restored from its file, the membership replaced), then the committed entries as ONE
 * store batch. Conf changes go to raft and the membership as they pass; the client waiting for
 * each write is answered with its result, and applied auth changes tell the token keeper which
 * tokens stay valid.
 *
 * The applier owns what applying moves: the applied index, the configuration, and whether this
 * member has applied its own removal. The node reads them; nothing else writes them.
 */
import type { Logger } from '../kernel/logger'
import type { Member } from '../kernel/member'
import type { AuthOp } from '../mvcc/auth'
import type { ApplyItem, MvccStore } from '../mvcc/store'
import type { WriteResult } from '../mvcc/types'
import {
  decodeConfChange,
  type ConfChangeType,
  type ConfState,
  type Entry,
  type RawNode,
  type Snapshot,
} from '../raft'
import { retainSnapshots } from '../snap'
import type { PeerTransport } from '../transport/types'
import type { Wal } from '../wal'
import type { TokenKeeper } from './auth-tokens'
import { decodeChangeContext, hostPort, type Membership } from './members'
import { decodeRequest } from './request-codec'
import { restoreSnapshot } from './snapshots'
import type { WaitRegistry } from './wait'

export interface ApplyTargets {
  id: number
  store: MvccStore
  membership: Membership
  raft: Pick<RawNode, 'applyConfChange'>
  transport: Pick<PeerTransport, 'addPeer' | 'updatePeer' | 'removePeer'>
  wal: Wal
  snapDir: string
  tokens: TokenKeeper
  /** Writes proposed here, answered as they apply. */
  writes: WaitRegistry<WriteResult>
  /** Membership changes proposed here, answered with the configuration they produce. */
  confChanges: WaitRegistry<ConfState>
  log: Logger
  /** Told of every membership change applied (the node's event ring). */
  onConfChange?: (type: ConfChangeType, nodeId: number, name: string, index: number) => void
}

export class Applier {
  private applied: number
  private conf: ConfState
  private removed = false

  constructor(
    private readonly t: ApplyTargets,
    start: { applied: number; confState: ConfState },
  ) {
    this.applied = start.applied
    this.conf = start.confState
  }

  get appliedIndex(): number {
    return this.applied
  }

  get confState(): ConfState {
    return this.conf
  }

  /** True once this member applied a change that removes it from the cluster. */
  get removedSelf(): boolean {
    return this.removed
  }

  /** Restores the store and the membership from a snapshot the leader sent (already on disk). */
  async applySnapshot(snapshot: Snapshot): Promise<void> {
    const { store, transport, tokens, log } = this.t
    const meta = snapshot.metadata
    const membership = await restoreSnapshot(this.t.snapDir, store, meta)
    for (const m of this.t.membership.list()) {
      if (!membership.get(m.id)) transport.removePeer(m.id)
    }
    this.t.membership.replaceWith(membership)
    this.conf = meta.confState
    this.t.membership.reconcile(meta.confState)
    for (const m of this.t.membership.list()) this.connectPeer(m)
    this.applied = meta.index
    // Tokens issued by entries inside the snapshot were never seen here; those seen stay valid
    // only while auth stays on.
    if (!store.auth.enabled) tokens.clear()
    log.info(`applied snapshot at ${meta.index} (term ${meta.term})`)
    void retainSnapshots(this.t.wal, this.t.snapDir).catch((err: unknown) =>
      log.warn(`retaining snapshots failed: ${(err as Error).message}`),
    )
  }

  /** Applies committed entries (those at or below the applied index are skipped). */
  async applyEntries(entries: Entry[]): Promise<void> {
    if (entries.length === 0) return
    const items: ApplyItem[] = []
    const requestIds: number[] = []
    for (const e of entries) {
      if (e.index <= this.applied) continue
      if (e.type === 'confChange') {
        this.applyConfChange(e)
        items.push({ index: e.index, op: null })
        requestIds.push(0)
        continue
      }
      const req = decodeRequest(e.data)
      items.push(
        req?.who
          ? { index: e.index, op: req.op, who: req.who }
          : { index: e.index, op: req?.op ?? null },
      )
      requestIds.push(req?.id ?? 0)
    }
    if (items.length > 0) {
      const results = await this.t.store.applyBatch(items)
      for (let i = 0; i < results.length; i++) {
        const id = requestIds[i]!
        const result = results[i]
        const op = items[i]!.op
        if (op?.type === 'auth' && result) this.observeAuth(op.auth, result)
        if (id !== 0 && result) this.t.writes.resolve(id, result)
      }
    }
    this.applied = Math.max(this.applied, entries[entries.length - 1]!.index)
  }

  /** Points the transport at a member's first peer URL (never at this member). */
  connectPeer(m: Member): void {
    if (m.id === this.t.id || m.peerUrls.length === 0) return
    const address = hostPort(m.peerUrls[0]!)
    try {
      this.t.transport.addPeer(m.id, address)
    } catch {
      this.t.transport.updatePeer(m.id, address)
    }
  }

  private applyConfChange(e: Entry): void {
    const { raft, membership, transport, log } = this.t
    const cc = decodeConfChange(e.data)
    const { member, requestId } = decodeChangeContext(cc.context)
    // raft refused every unfit change when it was proposed; a committed one that does not fit
    // means the logs diverged, and the node stops (the loop fails) rather than run on.
    const conf = raft.applyConfChange(cc)
    this.conf = conf
    const record = membership.apply(cc.type, cc.nodeId, member)
    log.info(`membership: ${cc.type} ${cc.nodeId}${record?.name ? ` (${record.name})` : ''}`)
    this.t.onConfChange?.(cc.type, cc.nodeId, record?.name ?? '', e.index)
    if (cc.type === 'removeNode') {
      transport.removePeer(cc.nodeId)
      if (cc.nodeId === this.t.id) this.removed = true
    } else if (record) {
      this.connectPeer(record)
    }
    if (requestId) this.t.confChanges.resolve(requestId, conf)
  }

  /** Applied auth changes that decide which tokens stay valid. */
  private observeAuth(op: AuthOp, result: WriteResult): void {
    if (!('auth' in result)) return
    const tokens = this.t.tokens
    switch (op.type) {
      case 'authenticate':
        if (result.auth.token) tokens.assign(result.auth.token, op.name)
        return
      case 'authEnable':
      case 'authDisable':
        return tokens.clear()
      case 'userDelete':
      case 'userChangePassword':
        return tokens.invalidateUser(op.name)
      default:
        return
    }
  }
}
