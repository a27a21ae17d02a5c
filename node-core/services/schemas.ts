/**
 * Argument schemas for every channel and topic of the API contract. Every argument that crosses
 * IPC or the web-mode WebSocket is parsed against these before a handler sees it.
 *
 * Each schema is typed against the contract (`Schema<ArgsOf<C>>`), so a schema and the
 * contract cannot drift: a channel without a schema, or a schema that accepts a different
 * shape than the contract declares, does not compile.
 */
import { z } from 'zod'
import type { ArgsOf, Channel, RaftAction, Topic, TopicArgsOf } from '../../contract'

type Schema<T> = z.ZodType<T, unknown>

/** Keys and values: Uint8Array on both transports, at most etcd's 1.5 MiB request. */
const BYTES_MAX = 1.5 * 1024 * 1024
const bytes = z
  .instanceof(Uint8Array, { message: 'expected bytes (Uint8Array)' })
  .refine((b) => b.byteLength <= BYTES_MAX, { message: `at most ${BYTES_MAX} bytes` })
const key = bytes.refine((b) => b.byteLength > 0, { message: 'a key cannot be empty' })
const conn = z.string().min(1).max(200)
const revision = z.number().int().min(0).optional()
const modRevision = z.number().int().min(0)
/** A user or role name, as etcd takes them. */
const authName = z.string().trim().min(1, 'a name cannot be empty').max(256)
const password = z.string().min(1, 'a password cannot be empty').max(1024)
/** Entries in one `bulk/import` batch. */
export const IMPORT_ENTRIES_MAX = 1_000
const leaseHex = z.string().regex(/^[0-9a-f]{1,16}$/, 'a lease id is up to 16 hex digits')

/** host:port or http(s)://host:port. */
const endpoint = z
  .string()
  .max(300)
  .regex(
    /^(https?:\/\/)?[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/,
    'an endpoint is host:port or http://host:port',
  )
/** A certificate or key in PEM, as read from its file. */
const pem = z
  .string()
  .max(64 * 1024)
  .refine((t) => t.includes('-----BEGIN '), { message: 'not a PEM file (no -----BEGIN line)' })
const newConnection = z.object({
  name: z.string().trim().min(1, 'a connection needs a name').max(100),
  endpoints: z.array(endpoint).min(1, 'at least one endpoint').max(20),
  username: z.string().min(1).max(200).optional(),
  password: z.string().max(1000).optional(),
  readOnly: z.boolean().optional(),
  production: z.boolean().optional(),
  tls: z
    .object({ ca: pem.optional(), cert: pem.optional(), key: pem.optional() })
    .refine((t) => (t.cert === undefined) === (t.key === undefined), {
      message: 'a client certificate needs its key, and a key its certificate',
    })
    .optional(),
})

/** A local node's name as the supervisor gives them (n1, n2...). */
const nodeName = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'a node name like n1')
const raftAction: Schema<RaftAction> = z.discriminatedUnion('type', [
  z.object({
    type: z.enum([
      'kill',
      'restart',
      'pause',
      'resume',
      'start',
      'stop',
      'campaign',
      'transfer',
      'promote',
      'remove',
    ]),
    node: nodeName,
  }),
  z.object({ type: z.literal('snapshot'), node: nodeName }),
  z.object({
    type: z.literal('partition'),
    groups: z.array(z.array(nodeName).min(1).max(9)).min(2, 'a partition needs two groups').max(9),
  }),
  z.object({
    type: z.literal('cutLink'),
    from: nodeName,
    to: nodeName,
    oneWay: z.boolean().optional(),
  }),
  z.object({
    type: z.literal('linkFault'),
    from: nodeName,
    to: nodeName,
    delayMs: z.number().int().min(0).max(60_000),
    lossRate: z.number().min(0).max(1),
  }),
  z.object({ type: z.literal('heal') }),
  z.object({ type: z.literal('addNode') }),
  // The supervisor checks how they relate (min < max, heartbeat below min) in one sentence.
  z.object({
    type: z.literal('timeouts'),
    electionMsMin: z.number().int().min(1).max(600_000),
    electionMsMax: z.number().int().min(2).max(600_000),
    heartbeatMs: z.number().int().min(1).max(600_000),
  }),
])

/** A member id as etcdctl prints it. */
const memberHex = z.string().regex(/^[0-9a-f]{1,16}$/, 'a member id is up to 16 hex digits')

/** A directory on the host, as a person types it. */
const walDir = z.string().trim().min(1, 'name a directory').max(4096)

/** What a person types into the join dialog (the manager checks the rest in one sentence). */
const joinForm = z.object({
  peer: z
    .string()
    .trim()
    .regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, 'the peer address is host:port'),
  token: z.string().min(1, 'the cluster token is required').max(200),
  name: z.string().trim().max(64).optional(),
  advertiseHost: z.string().trim().max(255).optional(),
  clusterId: z
    .string()
    .regex(/^[0-9a-f]{1,16}$/, 'a cluster id is up to 16 hex digits')
    .optional(),
})
const joinedName = z.object({ name: z.string().min(1).max(64) })

/** Which cluster the raft views show (services/raft.ts resolves it). */
const raftSource = z.object({ source: z.string().max(200).optional() })

export const argSchemas: { [C in Channel]: Schema<ArgsOf<C>> } = {
  'raft/sources': z.tuple([]),
  'join/list': z.tuple([]),
  'join/start': z.tuple([joinForm]),
  'join/promote': z.tuple([joinedName]),
  'join/retry': z.tuple([joinedName]),
  'join/leave': z.tuple([joinedName]),
  'join/invite': z.tuple([]),
  'raft/available': z.tuple([]),
  'raft/cluster': z.tuple([raftSource.optional()]),
  'raft/log': z.tuple([
    raftSource.extend({
      to: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
      limit: z.number().int().min(1).max(500),
    }),
  ]),
  'raft/events': z.tuple([
    raftSource.extend({ afterSeq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }),
  ]),
  'raft/history': z.tuple([
    raftSource.extend({ afterMs: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }),
  ]),
  'raft/act': z.tuple([raftAction, raftSource.optional()]),
  'maintenance/overview': z.tuple([z.object({ conn })]),
  'maintenance/compact': z.tuple([
    z.object({
      conn,
      revision: z.number().int().min(1),
      physical: z.boolean(),
      confirm: z.string().max(32).optional(),
    }),
  ]),
  'maintenance/defragment': z.tuple([z.object({ conn, member: memberHex })]),
  'maintenance/disarm': z.tuple([
    z.object({ conn, memberId: memberHex, alarm: z.enum(['NOSPACE', 'CORRUPT']) }),
  ]),
  'maintenance/hashCheck': z.tuple([z.object({ conn })]),
  'snapshots/list': z.tuple([z.object({ dir: walDir })]),
  'snapshots/verify': z.tuple([
    z.object({
      dir: walDir,
      name: z.string().regex(/^[0-9a-f]{16}-[0-9a-f]{16}\.snap$/, 'a snapshot file name'),
    }),
  ]),
  'snapshots/keys': z.tuple([
    z.object({
      dir: walDir,
      name: z.string().regex(/^[0-9a-f]{16}-[0-9a-f]{16}\.snap$/, 'a snapshot file name'),
      prefix: bytes,
      after: bytes.optional(),
      limit: z.number().int().min(1).max(1000),
    }),
  ]),
  'snapshots/restore': z.tuple([
    z.object({ path: walDir, name: z.string().trim().max(64).optional() }),
  ]),
  'wal/sources': z.tuple([]),
  'wal/open': z.tuple([z.object({ dir: walDir })]),
  'wal/records': z.tuple([
    z.object({
      dir: walDir,
      segment: z.string().regex(/^[0-9a-f]{16}-[0-9a-f]{16}\.wal$/, 'a segment name'),
      from: z.number().int().min(0),
      limit: z.number().int().min(1).max(500),
    }),
  ]),
  'connections/list': z.tuple([]),
  'connections/add': z.tuple([newConnection]),
  'connections/remove': z.tuple([z.object({ id: conn })]),
  'connections/test': z.tuple([newConnection]),
  'leases/list': z.tuple([z.object({ conn })]),
  'leases/grant': z.tuple([z.object({ conn, ttl: z.number().int().min(1).max(9_000_000_000) })]),
  'leases/revoke': z.tuple([z.object({ conn, id: leaseHex })]),
  'leases/keepAlive': z.tuple([z.object({ conn, id: leaseHex })]),
  'app/info': z.tuple([]),
  'app/startup': z.tuple([]),
  'kv/list': z.tuple([
    z.object({
      conn,
      prefix: bytes,
      separator: z.string().max(8),
      after: bytes.optional(),
      limit: z.number().int().min(1).max(1000),
      revision,
    }),
  ]),
  'kv/count': z.tuple([z.object({ conn, prefix: bytes, revision })]),
  'kv/get': z.tuple([z.object({ conn, key, revision })]),
  'kv/put': z.tuple([
    z.object({
      conn,
      key,
      value: bytes,
      expectedModRevision: modRevision.optional(),
      lease: leaseHex.optional(),
    }),
  ]),
  'kv/delete': z.tuple([
    z.object({
      conn,
      key,
      prefix: z.boolean().optional(),
      confirm: z.string().max(BYTES_MAX).optional(),
    }),
  ]),
  'kv/history': z.tuple([z.object({ conn, key, limit: z.number().int().min(1).max(200) })]),
  'cluster/summary': z.tuple([z.object({ conn })]),
  'bulk/import': z.tuple([
    z.object({
      conn,
      entries: z
        .array(z.object({ key, value: bytes }))
        .max(IMPORT_ENTRIES_MAX, `at most ${IMPORT_ENTRIES_MAX} entries per batch`),
      overwrite: z.boolean(),
      dryRun: z.boolean(),
    }),
  ]),
  'auth/overview': z.tuple([z.object({ conn })]),
  'auth/whoami': z.tuple([z.object({ conn })]),
  'auth/setEnabled': z.tuple([z.object({ conn, enabled: z.boolean() })]),
  'auth/addUser': z.tuple([z.object({ conn, name: authName, password })]),
  'auth/deleteUser': z.tuple([z.object({ conn, name: authName })]),
  'auth/setPassword': z.tuple([z.object({ conn, name: authName, password })]),
  'auth/grantRole': z.tuple([z.object({ conn, user: authName, role: authName })]),
  'auth/revokeRole': z.tuple([z.object({ conn, user: authName, role: authName })]),
  'auth/addRole': z.tuple([z.object({ conn, name: authName })]),
  'auth/deleteRole': z.tuple([z.object({ conn, name: authName })]),
  'auth/grantPermission': z.tuple([
    z.object({
      conn,
      role: authName,
      permission: z.object({
        type: z.enum(['read', 'write', 'readwrite']),
        key,
        rangeEnd: bytes,
      }),
    }),
  ]),
  'auth/revokePermission': z.tuple([z.object({ conn, role: authName, key, rangeEnd: bytes })]),
  'bulk/rename': z.tuple([
    z.object({ conn, from: key, to: key, expectedModRevision: z.number().int().min(1) }),
  ]),
}

const prefixRef = z.object({ conn, prefix: bytes })

/** A regular expression JavaScript accepts, at most 1,000 characters. */
const query = z.string().min(1).max(1000)

export const topicSchemas: { [T in Topic]: Schema<TopicArgsOf<T>> } = {
  'app/menu': z.tuple([]),
  'app/links': z.tuple([]),
  'raft/live': z.tuple([raftSource.optional()]),
  'join/live': z.tuple([]),
  'cluster/metrics': z.tuple([
    z.object({ conn, intervalMs: z.number().int().min(500).max(60_000).optional() }),
  ]),
  'wal/verify': z.tuple([z.object({ dir: walDir })]),
  'snapshots/save': z.tuple([z.object({ conn, path: walDir, overwrite: z.boolean().optional() })]),
  'kv/diff': z.tuple([
    z.object({
      conn,
      prefix: bytes,
      fromRevision: z.number().int().min(1),
      toRevision: z.number().int().min(0),
    }),
  ]),
  'bulk/copy': z.tuple([
    z.object({
      from: prefixRef,
      to: prefixRef,
      overwrite: z.boolean(),
      move: z.boolean(),
      dryRun: z.boolean(),
    }),
  ]),
  'bulk/export': z.tuple([z.object({ conn, prefix: bytes, format: z.enum(['json', 'lines']) })]),
  'kv/search': z.tuple([
    z
      .object({
        conn,
        prefix: bytes,
        query,
        mode: z.enum(['substring', 'regex']),
        target: z.enum(['keys', 'values']),
      })
      .superRefine((a, ctx) => {
        if (a.mode !== 'regex') return
        try {
          new RegExp(a.query, 'u')
        } catch (err) {
          ctx.addIssue({
            code: 'custom',
            message: `not a regular expression: ${(err as Error).message}`,
          })
        }
      }),
  ]),
  'kv/watch': z.tuple([
    z
      .object({
        conn,
        key: bytes,
        prefix: z.boolean(),
        startRevision: z.number().int().min(1).optional(),
      })
      .refine((a) => a.prefix || a.key.byteLength > 0, {
        message: 'a key cannot be empty (watch the empty prefix for every key)',
      }),
  ]),
}
