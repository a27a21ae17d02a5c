/**
 * The `maintenance/*` handlers, over etcd's Maintenance and KV services, so they work the same
 * for a raftdesk cluster and a real etcd one. Per-member calls (status, defragment, hashKV) go to
 * each member directly with the connection's credentials (Connections.memberClient); a member
 * that does not answer is listed with the reason, not left out.
 */
import type { Etcd3 } from 'etcd3'
import type { HashCheck, MaintenanceAlarm, MaintenanceOverview, MemberSpace } from '../../contract'
import { RaftdeskError, ValidationError } from '../errors'
import { fromClientError, type Connections } from './connections'
import type { Handlers } from './router'

/** etcd's --quota-backend-bytes default: what a member refuses writes past unless told. */
export const ETCD_DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024

const hexId = (id: string | number) => BigInt(id).toString(16)

interface HashKvResponse {
  hash: number | string
  compact_revision: string
}

/**
 * Maintenance.HashKV of one member. The etcd3 package (1.1) asks grpc-js for a method named
 * 'hashKV', which does not exist (the loaded service names it 'HashKV'), so its hashKV() always
 * fails; this calls the same RPC through the package's own connection pool by its real name.
 */
function hashKV(c: Etcd3, revision: number): Promise<HashKvResponse> {
  const pool = (
    c.maintenance as unknown as {
      client: { exec(service: string, method: string, req: object): Promise<HashKvResponse> }
    }
  ).client
  return pool.exec('Maintenance', 'HashKV', { revision })
}
const message = (err: unknown) => {
  const e = fromClientError(err)
  return e instanceof Error ? e.message : String(e)
}

interface Member {
  id: string
  name: string
  endpoint: string
}

async function membersOf(conns: Connections, conn: string): Promise<Member[]> {
  const { client } = await conns.use(conn)
  try {
    const list = await client.cluster.memberList({})
    return list.members.map((m) => ({
      id: hexId(m.ID),
      name: m.name,
      endpoint: (m.clientURLs[0] ?? '').replace(/^https?:\/\//, ''),
    }))
  } catch (err) {
    throw fromClientError(err)
  }
}

async function call<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (err) {
    throw fromClientError(err)
  }
}

/**
 * The revision history is compacted to: the oldest revision a read may still ask for (etcd
 * refuses a read below it with "required revision has been compacted"), found by a binary
 * search of count-only reads of one key, about log2(revision) cheap calls. (HashKV also says
 * it, but hashes every key to do so: too heavy to run each time the view opens.) 0 when
 * nothing was ever compacted.
 */
async function compactRevisionOf(client: Etcd3, current: number): Promise<number> {
  const readable = async (rev: number) => {
    try {
      await client.kv.range({ key: Buffer.from([0]), revision: rev, count_only: true })
      return true
    } catch (err) {
      if (/compacted/.test((err as Error).message)) return false
      throw fromClientError(err)
    }
  }
  if (await readable(1)) return 0
  let lo = 1 // not readable
  let hi = current // readable: the current revision always is
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2)
    if (await readable(mid)) hi = mid
    else lo = mid
  }
  return hi
}

export interface MaintenanceOptions {
  /** The quota a connection's members run with, when this host knows it (its own cluster). */
  quotaBytesOf?: (conn: string) => number | undefined
}

export function createMaintenanceHandlers(
  conns: Connections,
  options: MaintenanceOptions = {},
): Pick<
  Handlers,
  | 'maintenance/overview'
  | 'maintenance/compact'
  | 'maintenance/defragment'
  | 'maintenance/disarm'
  | 'maintenance/hashCheck'
> {
  const memberClient = (conn: string, m: Member): Promise<Etcd3> =>
    conns.memberClient(conn, m.endpoint)

  return {
    'maintenance/overview': async ({ conn }): Promise<MaintenanceOverview> => {
      const members = await membersOf(conns, conn)
      const names = new Map(members.map((m) => [m.id, m.name]))
      let revision = 0
      const spaces = await Promise.all(
        members.map(async (m): Promise<MemberSpace> => {
          try {
            const c = await memberClient(conn, m)
            const s = await c.maintenance.status()
            revision = Math.max(revision, Number(s.header.revision))
            return {
              ...m,
              healthy: true,
              isLeader: hexId(s.leader) === m.id,
              dbSizeBytes: Number(s.dbSize),
              // etcd before 3.4 leaves it out: all of it then counts as in use.
              dbSizeInUseBytes: Number(s.dbSizeInUse || s.dbSize),
            }
          } catch (err) {
            return {
              ...m,
              healthy: false,
              isLeader: false,
              dbSizeBytes: 0,
              dbSizeInUseBytes: 0,
              error: message(err),
            }
          }
        }),
      )
      const { client } = await conns.use(conn)
      const compactRevision = revision > 0 ? await compactRevisionOf(client, revision) : 0
      const raised = await call(() => client.maintenance.alarm({ action: 'Get', memberID: 0 }))
      const alarms: MaintenanceAlarm[] = raised.alarms
        .filter((a) => a.alarm === 'Nospace' || a.alarm === 'Corrupt')
        .map((a) => ({
          memberId: hexId(a.memberID),
          member: names.get(hexId(a.memberID)) ?? hexId(a.memberID),
          alarm: a.alarm === 'Nospace' ? 'NOSPACE' : 'CORRUPT',
        }))
      const known = options.quotaBytesOf?.(conn)
      return {
        revision,
        compactRevision,
        quotaBytes: known ?? ETCD_DEFAULT_QUOTA_BYTES,
        quotaKnown: known !== undefined,
        members: spaces,
        alarms,
      }
    },

    'maintenance/compact': async ({ conn, revision, physical, confirm }) => {
      const c = await conns.useWritable(conn)
      if (c.spec.production && confirm !== String(revision)) {
        throw new RaftdeskError(
          'CONFIRM_COMPACT',
          `${c.spec.name} is a production connection: type ${revision} to confirm the compaction`,
        )
      }
      await call(() => c.client.kv.compact({ revision, physical }))
      return { compactRevision: revision }
    },

    'maintenance/defragment': async ({ conn, member }) => {
      await conns.useWritable(conn)
      const m = (await membersOf(conns, conn)).find((x) => x.id === member)
      if (!m) throw new ValidationError('UNKNOWN_MEMBER', `no member ${member} in this cluster`)
      const c = await memberClient(conn, m)
      const before = Number((await call(() => c.maintenance.status())).dbSize)
      // Defragmenting a large database takes a while: give it a minute, not the usual 5 s.
      await call(() => c.maintenance.defragment({ deadline: Date.now() + 60_000 }))
      const after = Number((await call(() => c.maintenance.status())).dbSize)
      return { beforeBytes: before, afterBytes: after }
    },

    'maintenance/disarm': async ({ conn, memberId, alarm }) => {
      const { client } = await conns.useWritable(conn)
      await call(() =>
        client.maintenance.alarm({
          action: 'Deactivate',
          memberID: BigInt(`0x${memberId}`).toString(),
          alarm: alarm === 'NOSPACE' ? 'Nospace' : 'Corrupt',
        }),
      )
      return null
    },

    'maintenance/hashCheck': async ({ conn }): Promise<HashCheck> => {
      const members = await membersOf(conns, conn)
      // One revision for all: the newest every member has applied (the smallest of theirs).
      const revisions = await Promise.all(
        members.map(async (m) =>
          Number(
            (await (await memberClient(conn, m)).maintenance.status().catch(() => null))?.header
              .revision ?? Infinity,
          ),
        ),
      )
      const revision = Math.min(...revisions.filter(Number.isFinite))
      if (!Number.isFinite(revision)) {
        throw new RaftdeskError('UNAVAILABLE', 'no member answered')
      }
      const results = await Promise.all(
        members.map(async (m) => {
          try {
            const r = await hashKV(await memberClient(conn, m), revision)
            return {
              id: m.id,
              name: m.name,
              hash: Number(r.hash).toString(16).padStart(8, '0'),
              compactRevision: Number(r.compact_revision),
            }
          } catch (err) {
            return { id: m.id, name: m.name, error: message(err) }
          }
        }),
      )
      const hashes = new Set(results.filter((r) => r.hash !== undefined).map((r) => r.hash))
      return { revision, members: results, consistent: hashes.size === 1 }
    },
  }
}
