/**
 * The conversation between the local-cluster supervisor and one node process, over the
 * process's IPC channel (child_process.fork today, Electron's utilityProcess in the app).
 *
 * The supervisor starts a node with its NodeProcessConfig (JSON in the RAFTDESK_NODE_CONFIG
 * environment variable), then:
 *   supervisor -> node   requests { type: 'request', id, call, args } (NodeCalls) answered by
 *   node -> supervisor   { type: 'reply', id, ok, value | error }
 *   node -> supervisor   { type: 'started', ... } once, when the node serves clients
 *                        { type: 'status', status, events } whenever it changes, at most
 *                          every statusIntervalMs (roles, terms, indexes, and the events
 *                          recorded since the last one: the live view of the UI)
 *                        { type: 'stopped', reason } just before a clean exit
 *                        { type: 'fatal', error } just before exiting on an error
 * Faults that act on the process itself (kill -9, SIGSTOP/SIGCONT) are signals sent by the
 * supervisor; faults on links are commands, applied by the node's transport.
 */
import type { Member } from '../kernel/member'
import { z } from 'zod'
import type { RaftEvent, WireError } from '../../contract'
import { ADMIN_ARG_SCHEMAS, type AdminCalls, type AdminStatus } from '../server/admin-port'

export interface ClusterMemberSpec {
  name: string
  /** host:port of the member's peer listener. */
  peerUrl: string
  /** host:port of the member's etcd gRPC listener. */
  clientUrl: string
}

/** The largest --max-request-bytes: an entry must fit in one 8 MiB peer frame with room to spare. */
export const MAX_REQUEST_BYTES_LIMIT = 7 * 1024 * 1024

/** kernel/member.ts's Member, checked (typed against it, so the two cannot drift). */
const memberSchema = z.object({
  id: z.number().int().positive(),
  name: z.string(),
  peerUrls: z.array(z.string()),
  clientUrls: z.array(z.string()),
  isLearner: z.boolean(),
}) satisfies z.ZodType<Member>

export const nodeProcessConfigSchema = z.object({
  name: z.string().min(1).max(64),
  dataDir: z.string().min(1),
  clientUrl: z.string().min(3),
  peerUrl: z.string().min(3),
  /** The members a new cluster starts with (clusterState 'new'); ignored on restart. */
  initialCluster: z.array(
    z.object({ name: z.string(), peerUrl: z.string(), clientUrl: z.string() }),
  ),
  /** 'new': bootstrap a cluster; 'existing': join one that already added this member. */
  clusterState: z.enum(['new', 'existing']),
  token: z.string().min(1).max(256),
  tickMs: z.number().int().min(1).max(1000),
  electionMsMin: z.number().int().min(1),
  electionMsMax: z.number().int().min(2),
  heartbeatMs: z.number().int().min(1),
  snapshotCount: z.number().int().min(1),
  /** Entries kept behind a snapshot for followers slightly behind (default 5000). */
  snapshotCatchUpEntries: z.number().int().min(0).optional(),
  /** A per-client rate limit on the client port (absent: none). */
  rateLimit: z.object({ rps: z.number().positive(), burst: z.number().int().min(1) }).optional(),
  /** etcd's server settings under etcd's flag names (absent: etcd's defaults). */
  etcd: z
    .object({
      /** --auth-token-ttl: seconds a token lives after its last use (default 300). */
      authTokenTtlSeconds: z.number().int().min(1).max(1e9).optional(),
      /** --quota-backend-bytes: the store's size past which writes are refused (default 2 GiB). */
      quotaBackendBytes: z.number().int().min(1).optional(),
      /**
       * --max-request-bytes (default 1.5 MiB). Every member must use the same: the store checks
       * it again when it applies an entry. At most 7 MiB: a peer frame carries up to 8 MiB.
       */
      maxRequestBytes: z.number().int().min(1024).max(MAX_REQUEST_BYTES_LIMIT).optional(),
      /** --max-txn-ops (default 128): operations in one level of a txn; the same on every member. */
      maxTxnOps: z.number().int().min(1).max(1024).optional(),
      /**
       * Client TLS (--cert-file, --key-file, --trusted-ca-file, --client-cert-auth): PEM files.
       * With clientCertAuth, clients must present a certificate the CA signed, and a call without
       * a token acts as the user its certificate's common name names.
       */
      tls: z
        .object({
          certFile: z.string().min(1),
          keyFile: z.string().min(1),
          trustedCaFile: z.string().min(1).optional(),
          clientCertAuth: z.boolean().optional(),
        })
        .optional(),
    })
    .optional(),
  statusIntervalMs: z.number().int().min(10).max(10_000),
  /** Members to expect when joining (clusterState 'existing'), as the cluster reported them. */
  existingMembers: z.array(memberSchema).optional(),
  /** The id the cluster assigned when it added this member (clusterState 'existing'). */
  memberId: z.number().int().positive().optional(),
  clusterId: z.number().int().positive().optional(),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']),
})

export type NodeProcessConfig = z.infer<typeof nodeProcessConfigSchema>

/**
 * The raft core's ticks for timeouts in milliseconds, as every node process computes them: the
 * supervisor checks settings in these units too, so a range narrower than a tick after rounding
 * is refused before any node is asked to run it.
 */
export function timeoutTicks(t: {
  tickMs: number
  electionMsMin: number
  electionMsMax: number
  heartbeatMs: number
}): { electionTicksMin: number; electionTicksMax: number; heartbeatTicks: number } {
  return {
    electionTicksMin: Math.max(2, Math.round(t.electionMsMin / t.tickMs)),
    electionTicksMax: Math.max(3, Math.round(t.electionMsMax / t.tickMs)),
    heartbeatTicks: Math.max(1, Math.round(t.heartbeatMs / t.tickMs)),
  }
}

export const NODE_CONFIG_ENV = 'RAFTDESK_NODE_CONFIG'

export type { LinkFaultSpec } from '../server/admin-port'

/** What a node reports about itself: the admin port's status plus where it listens. */
export type NodeStatus = AdminStatus & {
  clientUrl: string
  peerUrl: string
  pid: number
}

/**
 * The calls a node process answers, as a typed map like the UI contract: the admin port's
 * (server/admin-port.ts), with `status` carrying the process's addresses, and `stop`.
 */
export type NodeCalls = Omit<AdminCalls, 'status'> & {
  status: { args: Record<string, never>; result: NodeStatus }
  stop: { args: { transferLeadership: boolean }; result: { stopping: true } }
}
export type NodeCall = keyof NodeCalls
export type NodeArgs<K extends NodeCall> = NodeCalls[K]['args']
export type NodeResult<K extends NodeCall> = NodeCalls[K]['result']

/** Every call's arguments as the node checks them. */
export const NODE_ARG_SCHEMAS: { [K in NodeCall]: z.ZodType<NodeArgs<K>> } = {
  ...ADMIN_ARG_SCHEMAS,
  stop: z.object({ transferLeadership: z.boolean() }),
}

export function isNodeCall(value: unknown): value is NodeCall {
  return typeof value === 'string' && Object.hasOwn(NODE_ARG_SCHEMAS, value)
}

export type ToNode = { type: 'request'; id: number; call: NodeCall; args: unknown }

export type FromNode =
  | { type: 'started'; id: number; name: string; clientUrl: string; peerUrl: string; pid: number }
  /** The status, and the events recorded since the last report (oldest first). */
  | { type: 'status'; status: NodeStatus; events: RaftEvent[] }
  | { type: 'reply'; id: number; ok: true; value: unknown }
  | { type: 'reply'; id: number; ok: false; error: WireError }
  | { type: 'stopped'; reason: string }
  | { type: 'fatal'; error: WireError }
