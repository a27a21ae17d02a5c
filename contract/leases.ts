/** The `leases/*` namespace: a connection's leases, their time left and the keys they hold. */
import type { Bytes, KvTarget } from './kv'

export interface LeaseInfo {
  /** The id as etcdctl prints it (hex). */
  id: string
  /** Seconds left when read (-1: expired or revoked meanwhile). */
  ttl: number
  grantedTtl: number
  /** The keys attached, at most LEASE_KEYS_SHOWN of them. */
  keys: Bytes[]
  keyCount: number
}

export interface LeaseList {
  /** The leases read (the first 1,000 by id), soonest to expire first. */
  leases: LeaseInfo[]
  /** Leases the cluster holds: more than listed when it holds more than 1,000. */
  total: number
}

export interface LeaseTarget extends KvTarget {
  id: string
}

export interface LeasesCalls {
  /** The leases (at most 1,000 of them read), soonest to expire first. */
  'leases/list': { args: [KvTarget]; result: LeaseList }
  'leases/grant': { args: [KvTarget & { ttl: number }]; result: LeaseInfo }
  'leases/revoke': { args: [LeaseTarget]; result: null }
  /** One keep-alive: the lease's TTL starts again; answers the new TTL. */
  'leases/keepAlive': { args: [LeaseTarget]; result: number }
}
