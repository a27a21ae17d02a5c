/**
 * The cluster membership as the state machine knows it: raft's ConfState says who votes, this
 * says what each member is (name, peer and client URLs). It changes only by applying committed
 * conf change entries, whose context carries the member's record, so every node agrees.
 *
 * A member's record is JSON in the conf change context (see ChangeContext):
 *   { "name": "n1", "peerUrls": ["http://127.0.0.1:2380"], "clientUrls": ["http://127.0.0.1:2379"] }
 * The same records, as an array, head every snapshot image (see image.ts of the server).
 */
import type { Member } from '../kernel/member'
import type { ConfChangeType, ConfState } from '../raft/types'
import { ValidationError } from '../errors'

export interface MemberContext {
  name: string
  peerUrls: string[]
  clientUrls: string[]
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * What a conf change entry's context carries: the member's record (absent for a promotion or a
 * removal) and the id of the request waiting for the change, 0 when nobody waits. One flat JSON
 * object: { "name", "peerUrls", "clientUrls", "requestId" }, each field optional.
 */
export interface ChangeContext {
  member: MemberContext | null
  requestId: number
}

export function encodeChangeContext(member: MemberContext | null, requestId = 0): Uint8Array {
  if (!member && requestId === 0) return new Uint8Array(0)
  return encoder.encode(JSON.stringify({ ...member, ...(requestId ? { requestId } : {}) }))
}

export function decodeChangeContext(data: Uint8Array): ChangeContext {
  if (data.byteLength === 0) return { member: null, requestId: 0 }
  let c: Partial<MemberContext> & { requestId?: unknown }
  try {
    c = JSON.parse(decoder.decode(data)) as typeof c
  } catch {
    throw new ValidationError('BAD_MEMBER_CONTEXT', 'conf change context is not JSON')
  }
  const requestId = typeof c.requestId === 'number' ? c.requestId : 0
  if (c.name === undefined && c.peerUrls === undefined && c.clientUrls === undefined) {
    return { member: null, requestId }
  }
  const strings = (v: unknown) => Array.isArray(v) && v.every((u) => typeof u === 'string')
  if (typeof c.name !== 'string' || !strings(c.peerUrls) || !strings(c.clientUrls)) {
    throw new ValidationError('BAD_MEMBER_CONTEXT', 'conf change context has the wrong shape')
  }
  return {
    member: { name: c.name, peerUrls: c.peerUrls!, clientUrls: c.clientUrls! },
    requestId,
  }
}

/** host:port from an etcd-style URL ("http://127.0.0.1:2380" -> "127.0.0.1:2380"). */
export function hostPort(url: string): string {
  return url.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '')
}

export class Membership {
  private readonly members = new Map<number, Member>()
  private readonly removed = new Set<number>()

  constructor(records: readonly Member[] = [], removed: readonly number[] = []) {
    for (const r of records) this.members.set(r.id, { ...r })
    for (const id of removed) this.removed.add(id)
  }

  get(id: number): Member | undefined {
    return this.members.get(id)
  }

  list(): Member[] {
    return [...this.members.values()].sort((a, b) => a.id - b.id)
  }

  isRemoved(id: number): boolean {
    return this.removed.has(id)
  }

  removedIds(): number[] {
    return [...this.removed].sort((a, b) => a - b)
  }

  /** Applies a committed conf change; returns the record that changed. */
  /** Whether a member other than `exceptId` already has one of these peer URLs. */
  usesPeerUrl(urls: readonly string[], exceptId = 0): boolean {
    for (const m of this.members.values()) {
      if (m.id !== exceptId && m.peerUrls.some((u) => urls.includes(u))) return true
    }
    return false
  }

  apply(type: ConfChangeType, nodeId: number, member: MemberContext | null): Member | undefined {
    const existing = this.members.get(nodeId)
    switch (type) {
      case 'addVoter':
      case 'addLearner': {
        const record: Member = {
          id: nodeId,
          name: member?.name ?? existing?.name ?? '',
          peerUrls: member?.peerUrls ?? existing?.peerUrls ?? [],
          clientUrls: member?.clientUrls ?? existing?.clientUrls ?? [],
          isLearner: type === 'addLearner',
        }
        this.members.set(nodeId, record)
        return record
      }
      case 'promoteLearner': {
        if (!existing) return undefined
        existing.isLearner = false
        return existing
      }
      case 'removeNode': {
        this.members.delete(nodeId)
        this.removed.add(nodeId)
        return existing
      }
      case 'updateNode': {
        // etcd's member update changes the peer URLs only.
        if (!existing) return undefined
        if (member) existing.peerUrls = [...member.peerUrls]
        return existing
      }
    }
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

  toJSON(): { members: Member[]; removed: number[] } {
    return { members: this.list(), removed: this.removedIds() }
  }
}
