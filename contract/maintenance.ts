/**
 * The `maintenance/*` namespace: keeping a cluster healthy, for raftdesk and real etcd alike —
 * per-member database size against the quota, compaction (to a chosen revision, saying what
 * it removes), defragmentation, alarms with disarm, and a hash check across members.
 */
import type { KvTarget } from './kv'

export interface MemberSpace {
  /** Member id in hex. */
  id: string
  name: string
  endpoint: string
  healthy: boolean
  error?: string
  isLeader: boolean
  /** Bytes the database file takes, and the part of it in use (the rest defragment frees). */
  dbSizeBytes: number
  dbSizeInUseBytes: number
}

export interface MaintenanceAlarm {
  /** Member id in hex, and its name when known. */
  memberId: string
  member: string
  alarm: 'NOSPACE' | 'CORRUPT'
}

export interface MaintenanceOverview {
  revision: number
  /** The revision history is compacted to (0: never compacted). */
  compactRevision: number
  /** The backend quota each member refuses writes past (etcd's default 2 GiB unless known). */
  quotaBytes: number
  /** False when the quota is etcd's default, assumed rather than read. */
  quotaKnown: boolean
  members: MemberSpace[]
  alarms: MaintenanceAlarm[]
}

export interface HashCheck {
  revision: number
  members: Array<{
    id: string
    name: string
    hash?: string
    compactRevision?: number
    error?: string
  }>
  /** Every member that answered has the same hash at `revision`. */
  consistent: boolean
}

export interface MaintenanceCalls {
  'maintenance/overview': { args: [KvTarget]; result: MaintenanceOverview }
  /**
   * Compacts history below `revision` on every member; `confirm` must repeat the revision on a
   * production connection.
   */
  'maintenance/compact': {
    args: [KvTarget & { revision: number; physical: boolean; confirm?: string }]
    result: { compactRevision: number }
  }
  /** Defragments one member (it stops serving while it runs); sizes before and after. */
  'maintenance/defragment': {
    args: [KvTarget & { member: string }]
    result: { beforeBytes: number; afterBytes: number }
  }
  'maintenance/disarm': {
    args: [KvTarget & { memberId: string; alarm: 'NOSPACE' | 'CORRUPT' }]
    result: null
  }
  /** Every member's hash of the key-value history at one revision. */
  'maintenance/hashCheck': { args: [KvTarget]; result: HashCheck }
}
