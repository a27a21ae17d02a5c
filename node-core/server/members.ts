/**
 * The cluster membership as the state machine knows it: raft's ConfState says who votes, this
 * says what each member is (name, peer and client URLs). It changes only by applying committed
 * conf change entries, whose context carries the member's record, so every node agrees.
 *
 * A member's record is JSON in the conf change context:
 *   { "name": "n1", "peerUrls": ["http://127.0.0.1:2380"], "clientUrls": ["http://127.0.0.1:2379"] }
 * The same records, as an array, head every snapshot image (see image.ts of the server).
 */
import type { ConfChange, ConfState } from '../raft/types'
import { ValidationError } from '../errors'

export interface MemberRecord {
  id: number
  name: string
  peerUrls: string[]
  clientUrls: string[]
  isLearner: boolean
}

export interface MemberContext {
  name: string
  peerUrls: string[]
  clientUrls: string[]
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function encodeMemberContext(ctx: MemberContext): Uint8Array {
  return encoder.encode(JSON.stringify(ctx))
}

export function decodeMemberContext(data: Uint8Array): MemberContext | null {
  if (data.byteLength === 0) return null
  let parsed: unknown
  try {
    parsed = JSON.parse(decoder.decode(data))
  } catch {
    throw new ValidationError('BAD_MEMBER_CONTEXT', 'conf change context is not JSON')
  }
  const c = parsed as Partial<MemberContext>
  if (
    typeof c.name !== 'string' ||
    !Array.isArray(c.peerUrls) ||
    !Array.isArray(c.clientUrls) ||
    !c.peerUrls.every((u) => typeof u === 'string') ||
    !c.clientUrls.every((u) => typeof u === 'string')
  ) {
    throw new ValidationError('BAD_MEMBER_CONTEXT', `conf change context has the wrong shape`)
  }
  return { name: c.name, peerUrls: c.peerUrls, clientUrls: c.clientUrls }
}

/** host:port from an etcd-style URL ("http://127.0.0.1:2380" -> "127.0.0.1:2380"). */
export function hostPort(url: string): string {
  return url.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '')
}

export class Membership {
  private readonly members = new Map<number, MemberRecord>()
  private readonly removed = new Set<number>()

  constructor(records: readonly MemberRecord[] = [], removed: readonly number[] = []) {
    for (const r of records) this.members.set(r.id, { ...r })
    for (const id of removed) this.removed.add(id)
  }

  get(id: number): MemberRecord | undefined {
    return this.members.get(id)
  }

  list(): MemberRecord[] {
    return [...this.members.values()].sort((a, b) => a.id - b.id)
  }

  isRemoved(id: number): boolean {
    return this.removed.has(id)
  }

  removedIds(): number[] {
    return [...this.removed].sort((a, b) => a - b)
  }

  /** Applies a committed conf change; returns the record that changed. */
  apply(cc: ConfChange): MemberRecord | undefined {
    const ctx = decodeMemberContext(cc.context)
    const existing = this.members.get(cc.nodeId)
    switch (cc.type) {
      case 'addVoter':
      case 'addLearner': {
        const record: MemberRecord = {
          id: cc.nodeId,
          name: ctx?.name ?? existing?.name ?? '',
          peerUrls: ctx?.peerUrls ?? existing?.peerUrls ?? [],
          clientUrls: ctx?.clientUrls ?? existing?.clientUrls ?? [],
          isLearner: cc.type === 'addLearner',
        }
        this.members.set(cc.nodeId, record)
        return record
      }
      case 'promoteLearner': {
        if (!existing) return undefined
        existing.isLearner = false
        return existing
      }
      case 'removeNode': {
        this.members.delete(cc.nodeId)
        this.removed.add(cc.nodeId)
        return existing
      }
    }
  }

  /** Fills in a member's name and client URLs once it has started (etcd's publish). */
  update(id: number, ctx: Partial<MemberContext>): void {
    const m = this.members.get(id)
    if (!m) return
    if (ctx.name) m.name = ctx.name
    if (ctx.peerUrls && ctx.peerUrls.length > 0) m.peerUrls = ctx.peerUrls
    if (ctx.clientUrls && ctx.clientUrls.length > 0) m.clientUrls = ctx.clientUrls
  }

  /** Brings the learner flags in line with raft's view (after a snapshot). */
  reconcile(conf: ConfState): void {
    for (const m of this.members.values()) {
      if (conf.learners.includes(m.id)) m.isLearner = true
      else if (conf.voters.includes(m.id)) m.isLearner = false
    }
  }

  /** Takes over another membership's contents (after installing a snapshot). */
  replaceWith(other: Membership): void {
    this.members.clear()
    for (const m of other.list()) this.members.set(m.id, { ...m })
    this.removed.clear()
    for (const id of other.removedIds()) this.removed.add(id)
  }

  toJSON(): { members: MemberRecord[]; removed: number[] } {
    return { members: this.list(), removed: this.removedIds() }
  }
}
