/**
 * The `cluster/*` handlers: a connection's members with each one's health, leader, version,
 * DB size and raft position, asked of every member directly (a member that does not answer is
 * shown unhealthy with the reason, not left out).
 */
import { Etcd3 } from 'etcd3'
import type { ClusterSummary, MemberHealth } from '../../contract'
import { fromClientError, type Connections } from './connections'
import type { Handlers } from './router'

/** One client per member endpoint, kept for the next summary. */
const memberClients = new Map<string, Etcd3>()

function memberClient(endpoint: string): Etcd3 {
  let c = memberClients.get(endpoint)
  if (!c) {
    c = new Etcd3({
      hosts: [endpoint.includes('://') ? endpoint : `http://${endpoint}`],
      defaultCallOptions: () => ({ deadline: Date.now() + 2_000 }),
    })
    memberClients.set(endpoint, c)
  }
  return c
}

/** Closes the per-member clients (host shutdown). */
export function closeMemberClients(): void {
  for (const c of memberClients.values()) c.close()
  memberClients.clear()
}

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
            const s = await memberClient(endpoint).maintenance.status()
            revision = Math.max(revision, Number(s.header.revision))
            return {
              ...base,
              healthy: true,
              isLeader: s.leader === m.ID,
              version: s.version,
              dbSizeBytes: Number(s.dbSize),
              raftTerm: Number(s.raftTerm),
              raftIndex: Number(s.raftIndex),
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
              error: e instanceof Error ? e.message : String(e),
            }
          }
        }),
      )
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
