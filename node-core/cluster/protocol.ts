/**
 * The conversation between the local-cluster supervisor and one node process, over the
 * process's IPC channel (child_process.fork today, Electron's utilityProcess in the app).
 *
 * The supervisor starts a node with its NodeProcessConfig (JSON in the RAFTDESK_NODE_CONFIG
 * environment variable), then:
 *   supervisor -> node   requests { type: 'request', id, command } answered by
 *   node -> supervisor   { type: 'reply', id, ok, value | error }
 *   node -> supervisor   { type: 'started', ... } once, when the node serves clients
 *                        { type: 'status', status } whenever it changes, at most every
 *                          statusIntervalMs (roles, terms, indexes: the live view of the UI)
 *                        { type: 'stopped', reason } just before a clean exit
 *                        { type: 'fatal', error } just before exiting on an error
 * Faults that act on the process itself (kill -9, SIGSTOP/SIGCONT) are signals sent by the
 * supervisor; faults on links are commands, applied by the node's transport.
 */
import type { Member } from '../kernel/member'
import { z } from 'zod'
import type { WireError } from '../../contract'
import type { NodeRuntimeStatus } from '../server/node'

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

export const NODE_CONFIG_ENV = 'RAFTDESK_NODE_CONFIG'

export type LinkFaultSpec = {
  /** Peer member id whose link is affected. */
  peer: number
  drop?: boolean
  delayMs?: number
  lossRate?: number
  direction?: 'send' | 'receive' | 'both'
}

export type NodeCommand =
  | { type: 'status' }
  | { type: 'stop'; transferLeadership: boolean }
  | { type: 'linkFault'; fault: LinkFaultSpec }
  | { type: 'healLinks' }
  | { type: 'transferLeadership'; to: number }
  | { type: 'campaign' }
  | { type: 'snapshot' }

export const nodeCommandSchema: z.ZodType<NodeCommand> = z.discriminatedUnion('type', [
  z.object({ type: z.literal('status') }),
  z.object({ type: z.literal('stop'), transferLeadership: z.boolean() }),
  z.object({
    type: z.literal('linkFault'),
    fault: z.object({
      peer: z.number().int().positive(),
      drop: z.boolean().optional(),
      delayMs: z.number().int().min(0).max(60_000).optional(),
      lossRate: z.number().min(0).max(1).optional(),
      direction: z.enum(['send', 'receive', 'both']).optional(),
    }),
  }),
  z.object({ type: z.literal('healLinks') }),
  z.object({ type: z.literal('transferLeadership'), to: z.number().int().positive() }),
  z.object({ type: z.literal('campaign') }),
  z.object({ type: z.literal('snapshot') }),
]) as z.ZodType<NodeCommand>

/** What a node reports about itself: the Raft picture (server/node.ts) plus where it listens. */
export type NodeStatus = NodeRuntimeStatus & {
  clientUrl: string
  peerUrl: string
  pid: number
}

export type ToNode = { type: 'request'; id: number; command: NodeCommand }

export type FromNode =
  | { type: 'started'; id: number; name: string; clientUrl: string; peerUrl: string; pid: number }
  | { type: 'status'; status: NodeStatus }
  | { type: 'reply'; id: number; ok: true; value: unknown }
  | { type: 'reply'; id: number; ok: false; error: WireError }
  | { type: 'stopped'; reason: string }
  | { type: 'fatal'; error: WireError }
