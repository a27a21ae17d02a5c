/** The `cluster/*` namespace: a connection's cluster at a glance. */
import type { KvTarget } from './kv'

export interface MemberHealth {
  id: string
  name: string
  endpoint: string
  /** Answered a status call just now. */
  healthy: boolean
  isLeader: boolean
  isLearner: boolean
  version: string
  dbSizeBytes: number
  raftTerm: number
  /** Raft commit index, and the index the member has applied. */
  raftIndex: number
  appliedIndex: number
  /** Why it is not healthy. */
  error?: string
}

export interface ClusterSummary {
  clusterId: string
  leader: string
  revision: number
  members: MemberHealth[]
}

export interface ClusterCalls {
  'cluster/summary': { args: [KvTarget]; result: ClusterSummary }
}

/** A Prometheus histogram, cumulative since the member started: [upper bound, count] pairs. */
export interface MetricHistogram {
  buckets: [le: number, count: number][]
  count: number
  sum: number
}

/**
 * One member's reading of the etcd metrics the Cluster view charts, from its Prometheus
 * /metrics. Counters are cumulative (the window derives rates from two readings); null where
 * the member does not expose the metric.
 */
export interface MemberMetrics {
  name: string
  endpoint: string
  /** /metrics could not be read: why (the other fields are null). */
  error?: string
  /** etcd_server_has_leader: 1 or 0. */
  hasLeader: number | null
  /** etcd_server_leader_changes_seen_total. */
  leaderChanges: number | null
  /** etcd_server_proposals_committed_total, _applied_total (gauges of indexes in etcd). */
  proposalsCommitted: number | null
  proposalsApplied: number | null
  /** etcd_server_proposals_pending (gauge), etcd_server_proposals_failed_total. */
  proposalsPending: number | null
  proposalsFailed: number | null
  /** etcd_network_peer_round_trip_time_seconds, every peer summed. */
  peerRtt: MetricHistogram | null
  /** etcd_disk_wal_fsync_duration_seconds. */
  walFsync: MetricHistogram | null
}

export interface MetricsSample {
  atMs: number
  members: MemberMetrics[]
}

export interface ClusterTopics {
  /** Every member's /metrics, read every intervalMs (default 2 s). */
  'cluster/metrics': { args: [KvTarget & { intervalMs?: number }]; event: MetricsSample }
}
