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
