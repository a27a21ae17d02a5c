/**
 * The `cluster/*` handlers: a connection's members with each one's health, leader, version,
 * DB size and raft position, asked of every member directly with the connection's credentials
 * (a member that does not answer within MEMBER_STATUS_MS is shown unhealthy with the reason,
 * not left out).
 */
import type { ClusterSummary, MemberHealth } from '../../contract'
import { fromClientError, type Connections } from './connections'
import type { Handlers } from './router'

/** How long a member may take to answer its status before it is shown unreachable. */
const MEMBER_STATUS_MS = 2_000

export function createClusterHandlers(conns: Connections): Pick<Handlers, 'cluster/summary'> {
  return {
    'cluster/summary': async ({ conn }): Promise<ClusterSummary> => {
      const client = (await conns.use(conn)).client
      let list
      try {
        list = await client.cluster.memberList({})
      } catch (err) {
        throw fromClientError(err)
      }
      // etcd's member list carries no revision; each member's status does.
      let revision = 0
      const members = await Promise.all(
        list.members.map(async (m): Promise<MemberHealth> => {
          const endpoint = (m.clientURLs[0] ?? '').replace(/^https?:\/\//, '')
          const base = {
            id: BigInt(m.ID).toString(16),
            name: m.name,
            endpoint,
            isLearner: m.isLearner,
          }
          try {
            const member = await conns.memberClient(conn, endpoint)
            const s = await member.maintenance.status({ deadline: Date.now() + MEMBER_STATUS_MS })
            revision = Math.max(revision, Number(s.header.revision))
            return {
              ...base,
              healthy: true,
              isLeader: s.leader === m.ID,
              version: s.version,
              dbSizeBytes: Number(s.dbSize),
              raftTerm: Number(s.raftTerm),
              raftIndex: Number(s.raftIndex),
              appliedIndex: Number(s.raftAppliedIndex),
            }
          } catch (err) {
            const e = fromClientError(err)
            return {
              ...base,
              healthy: false,
              isLeader: false,
              version: '',
              dbSizeBytes: 0,
              raftTerm: 0,
              raftIndex: 0,
              appliedIndex: 0,
              error: e instanceof Error ? e.message : String(e),
            }
          }
        }),
      )
      members.sort((a, b) => a.name.localeCompare(b.name))
      const leader = members.find((m) => m.isLeader)
      return {
        clusterId: BigInt(list.header.cluster_id).toString(16),
        leader: leader?.name ?? '',
        revision,
        members,
      }
    },
  }
}
