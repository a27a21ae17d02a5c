/**
 * The node admin port: what a tool may ask of one running node about its Raft machinery, and
 * the levers it may pull, defined once as a typed map and implemented once over the node.
 * Three thin adapters serve it: the local supervisor's IPC (cluster/protocol.ts, node-main.ts),
 * raftdesk's Admin gRPC service, and through them the UI services.
 *
 *   call                args                         result
 *   status              {}                           AdminStatus: raft state, leader's view of
 *                                                    every follower, WAL and DB bytes
 *   log                 { to, limit }                the log's entries (to-limit, to], decoded,
 *                                                    each with its state (unstable, stable,
 *                                                    committed, applied)
 *   events              { afterSeq, limit? }         the event ring (events.ts) after afterSeq
 *   campaign            { force? }                   this node starts an election now (forced:
 *                                                    as a transfer's, past the leader lease)
 *   transferLeadership  { to }                       (on the leader) hand leadership to `to`
 *   linkFault           LinkFaultSpec                drop, delay or lose messages to a peer
 *   healLinks           {}                           every link fault removed
 *   snapshot            {}                           save a snapshot at the applied index
 *   memberAdd           { name, peerUrls, clientUrls }  (on the leader) add a learner; its id,
 *                                                    the cluster id and the members
 *   memberPromote       { id }                       (on the leader) a caught-up learner votes
 *   memberRemove        { id }                       (on the leader) the member leaves
 *
 * Arguments are checked with the schemas below wherever they cross a process boundary.
 */
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import type { LogEntryView, RaftEvent } from '../../contract'
import type { NodeRuntimeStatus, RaftdeskNode } from './node'
import { MEMBER_NAME_RE, MEMBER_NAME_RULE, MEMBER_URL_RE, type Member } from '../kernel/member'
import { addLearnerTo, promoteOnLeader, removeMemberOn } from './backend'
import { nodeDataDirs } from './node-open'
import { describeLogEntry } from './entry-text'

export interface LinkFaultSpec {
  /** Peer member id whose link is affected. */
  peer: number
  drop?: boolean
  delayMs?: number
  lossRate?: number
  direction?: 'send' | 'receive' | 'both'
}

export interface AdminStatus extends NodeRuntimeStatus {
  /** Bytes of the WAL and of the store on disk, sampled about once a second. */
  walBytes: number
  dbBytes: number
  /** When this was read (wall clock, ms). */
  atMs: number
}

export interface AdminLogSlice {
  firstIndex: number
  lastIndex: number
  stableIndex: number
  commit: number
  applied: number
  entries: LogEntryView[]
}

/** Entries one log call returns at most. */
export const LOG_SLICE_ENTRIES_MAX = 500

export interface AdminCalls {
  status: { args: Record<string, never>; result: AdminStatus }
  log: { args: { to: number; limit: number }; result: AdminLogSlice }
  events: { args: { afterSeq: number; limit?: number }; result: RaftEvent[] }
  campaign: { args: { force?: boolean }; result: null }
  transferLeadership: { args: { to: number }; result: null }
  linkFault: { args: LinkFaultSpec; result: null }
  healLinks: { args: Record<string, never>; result: null }
  snapshot: { args: Record<string, never>; result: { index: number } }
  memberAdd: {
    args: { name: string; peerUrls: string[]; clientUrls: string[] }
    result: { memberId: number; clusterId: number; members: Member[] }
  }
  memberPromote: { args: { id: number }; result: null }
  memberRemove: { args: { id: number }; result: null }
}

export type AdminCall = keyof AdminCalls
export type AdminArgs<K extends AdminCall> = AdminCalls[K]['args']
export type AdminResult<K extends AdminCall> = AdminCalls[K]['result']
export type AdminHandlers = {
  [K in AdminCall]: (args: AdminArgs<K>) => Promise<AdminResult<K>>
}

const empty = z.object({}).strict() as unknown as z.ZodType<Record<string, never>>
const index = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
const memberId = z.number().int().positive()
const memberUrl = z.string().regex(MEMBER_URL_RE, 'http://host:port')

/** Every call's arguments, checked; the compiler refuses a call without its schema. */
export const ADMIN_ARG_SCHEMAS: { [K in AdminCall]: z.ZodType<AdminArgs<K>> } = {
  status: empty,
  log: z.object({ to: index, limit: z.number().int().min(1).max(LOG_SLICE_ENTRIES_MAX) }),
  events: z.object({ afterSeq: index, limit: z.number().int().min(1).max(10_000).optional() }),
  campaign: z.object({ force: z.boolean().optional() }),
  transferLeadership: z.object({ to: z.number().int().positive() }),
  linkFault: z.object({
    peer: z.number().int().positive(),
    drop: z.boolean().optional(),
    delayMs: z.number().int().min(0).max(60_000).optional(),
    lossRate: z.number().min(0).max(1).optional(),
    direction: z.enum(['send', 'receive', 'both']).optional(),
  }),
  healLinks: empty,
  snapshot: empty,
  memberAdd: z.object({
    name: z.string().regex(MEMBER_NAME_RE, MEMBER_NAME_RULE),
    peerUrls: z.array(memberUrl).min(1),
    clientUrls: z.array(memberUrl),
  }),
  memberPromote: z.object({ id: memberId }),
  memberRemove: z.object({ id: memberId }),
}

export function isAdminCall(value: unknown): value is AdminCall {
  return typeof value === 'string' && Object.hasOwn(ADMIN_ARG_SCHEMAS, value)
}

/** Sum of the sizes of the files directly in `dir` (0 when it cannot be read). */
async function dirBytes(dir: string): Promise<number> {
  try {
    const entries = await readdir(dir, { withFileTypes: true })
    const sizes = await Promise.all(
      entries
        .filter((e) => e.isFile())
        .map((e) =>
          stat(join(dir, e.name)).then(
            (s) => s.size,
            () => 0,
          ),
        ),
    )
    return sizes.reduce((a, b) => a + b, 0)
  } catch {
    return 0
  }
}

/** How often the disk sizes are read again: a stat per file, so not on every status. */
const SIZE_SAMPLE_MS = 1_000

/** The admin port over one node. `close()` stops its size sampling. */
export function createAdminPort(
  node: RaftdeskNode,
  dataDir: string,
): AdminHandlers & { close(): void } {
  const dirs = nodeDataDirs(dataDir)
  const sizes = { walBytes: 0, dbBytes: 0 }
  const sample = async () => {
    sizes.walBytes = await dirBytes(dirs.walDir)
    sizes.dbBytes = await dirBytes(dirs.dbDir)
  }
  void sample()
  const timer = setInterval(() => void sample(), SIZE_SAMPLE_MS)
  timer.unref()
  const nameOf = (id: number) => node.membership.get(id)?.name || id.toString(16)

  return {
    close: () => clearInterval(timer),
    status: async () => ({ ...node.status(), ...sizes, atMs: Date.now() }),
    log: async ({ to, limit }) => {
      const s = node.status()
      const last = to === 0 ? s.lastIndex : Math.min(to, s.lastIndex)
      const entries = node.logEntries(Math.max(1, last - limit + 1), last + 1).map((e) => {
        const state: LogEntryView['state'] =
          e.index <= s.applied
            ? 'applied'
            : e.index <= s.commit
              ? 'committed'
              : e.index <= s.stableIndex
                ? 'stable'
                : 'unstable'
        return {
          index: e.index,
          term: e.term,
          ...describeLogEntry(e, nameOf),
          bytes: e.data.byteLength,
          state,
        }
      })
      return {
        firstIndex: s.firstIndex,
        lastIndex: s.lastIndex,
        stableIndex: s.stableIndex,
        commit: s.commit,
        applied: s.applied,
        entries,
      }
    },
    events: async ({ afterSeq, limit }) => node.events.after(afterSeq, limit),
    campaign: async ({ force }) => {
      node.campaign({ force: force ?? false })
      return null
    },
    transferLeadership: async ({ to }) => {
      node.transferLeadership(to)
      return null
    },
    linkFault: async ({ peer, direction, ...fault }) => {
      node.setLinkFault(peer, fault, direction ?? 'both')
      return null
    },
    healLinks: async () => {
      node.healLinks()
      return null
    },
    snapshot: async () => ({ index: await node.snapshotNow() }),
    memberAdd: (req) => addLearnerTo(node, req),
    memberPromote: async ({ id }) => {
      await promoteOnLeader(node, id)
      return null
    },
    memberRemove: async ({ id }) => {
      await removeMemberOn(node, id)
      return null
    },
  }
}
