/**
 * Member, cluster and request ids.
 *
 * Ids are positive integers below 2^52 so that they survive every path they travel (JSON, the
 * etcd API's uint64 fields read as JavaScript numbers, the WAL). Like etcd, a bootstrapped
 * member's id is derived from what defines it (its name, its peer URL and the cluster token), so
 * every member computes the same ids for the initial cluster without talking; the cluster id is
 * derived from the sorted member ids and the token.
 */
import { createHash, randomBytes } from 'node:crypto'

const ID_BITS_MAX = 52

function hashToId(parts: string[]): number {
  const digest = createHash('sha256').update(parts.join('\u0000'), 'utf8').digest()
  // 52 bits: 6 bytes and a half. Zero is "none" everywhere, so it is mapped to 1.
  const hi = digest.readUInt32BE(0) & 0xfffff
  const lo = digest.readUInt32BE(4)
  return hi * 2 ** 32 + lo || 1
}

export function memberIdFor(name: string, peerUrl: string, token: string): number {
  return hashToId(['member', name, peerUrl, token])
}

export function clusterIdFor(memberIds: readonly number[], token: string): number {
  return hashToId(['cluster', ...[...memberIds].sort((a, b) => a - b).map(String), token])
}

/** A fresh random id for a member added at runtime (MemberAdd, join). */
export function randomMemberId(): number {
  return randomId(0xfffff)
}

/**
 * A lease id as a member picks it for a grant that names none: random in [1, 2^63 - 1], like
 * etcd's (a positive int64; 63 random bits make a repeat practically impossible, and a taken id
 * is drawn again).
 */
export function randomLeaseId(): bigint {
  return randomBytes(8).readBigUInt64BE(0) & (2n ** 63n - 1n) || 1n
}

/** A random positive id whose high 32 bits are masked by `highMask` (so it stays exact). */
function randomId(highMask: number): number {
  const b = randomBytes(8)
  return (b.readUInt32BE(0) & highMask) * 2 ** 32 + b.readUInt32BE(4) || 1
}

/** Hex as etcd prints ids (`etcdctl member list` shows 8e9e05c52164694d). */
export function idToHex(id: number): string {
  return id.toString(16)
}

/**
 * Request ids of one member: unique across its restarts without persisting a counter, by
 * starting from the wall clock in the high bits (as etcd's idutil does) and counting up.
 */
export class RequestIdGenerator {
  private next: number
  constructor(nowMs: number) {
    // ms since 2020 in the high bits, 12 bits of counter below: 2^52 lasts for centuries.
    this.next = Math.max(1, Math.floor(nowMs - 1_577_836_800_000)) * 4096
  }
  nextId(): number {
    const id = this.next++
    if (id >= 2 ** ID_BITS_MAX) throw new Error(`request id ${id} ran past 2^${ID_BITS_MAX}`)
    return id
  }
}
