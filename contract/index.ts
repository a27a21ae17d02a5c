/**
 * The one API contract between the renderer and the services behind it.
 *
 * Calls are keyed 'namespace/action': `Contract` maps each to the tuple of its arguments and
 * its result. Topics are live streams the renderer opens and closes ('kv/watch'): `Topics` maps
 * each to its arguments and the type of one event. Each namespace has its own file (app.ts,
 * kv.ts, bulk.ts, cluster.ts, connections.ts, leases.ts, raft.ts); this one joins them. Main serves the contract over Electron IPC, the
 * web-mode server over a WebSocket, and the renderer consumes it through `window.raftdesk`
 * without knowing which host serves it. Bytes (keys, values) are Uint8Array on both transports.
 *
 * Back-pressure: a topic's events are sent one message at a time, and the next only after the
 * renderer has acknowledged the last one. Events that arrive meanwhile are merged into the next
 * message (a watch's events appended, up to a bound beyond which the oldest are counted as
 * skipped), so a slow window gets fewer, larger updates, never an unbounded queue.
 *
 * Type-only apart from the channel and topic lists: the renderer (web project), preload, main
 * and node-core all import it, so it must not pull runtime code from any of them.
 */
import type { AppCalls, AppTopics } from './app'
import type { AuthCalls } from './auth'
import type { BulkCalls, BulkTopics } from './bulk'
import type { ClusterCalls, ClusterTopics } from './cluster'
import type { ConnectionsCalls } from './connections'
import type { JoinCalls, JoinTopics } from './join'
import type { KvCalls, KvTopics } from './kv'
import type { LeasesCalls } from './leases'
import type { MaintenanceCalls } from './maintenance'
import type { RaftCalls, RaftTopics } from './raft'
import type { SnapshotsCalls, SnapshotsTopics } from './snapshots'
import type { WalCalls, WalTopics } from './wal'

export type * from './app'
export type * from './auth'
export type * from './bulk'
export type * from './cluster'
export type * from './connections'
export type * from './join'
export type * from './kv'
export type * from './leases'
export type * from './maintenance'
export type * from './raft'
export type * from './snapshots'
export type * from './wal'

export interface Contract
  extends
    AppCalls,
    KvCalls,
    BulkCalls,
    AuthCalls,
    ClusterCalls,
    ConnectionsCalls,
    LeasesCalls,
    RaftCalls,
    WalCalls,
    MaintenanceCalls,
    SnapshotsCalls,
    JoinCalls {}
export interface Topics
  extends
    AppTopics,
    KvTopics,
    BulkTopics,
    RaftTopics,
    WalTopics,
    SnapshotsTopics,
    JoinTopics,
    ClusterTopics {}

export type Channel = keyof Contract
export type ArgsOf<C extends Channel> = Contract[C]['args']
export type ResultOf<C extends Channel> = Contract[C]['result']

export type Topic = keyof Topics
export type TopicArgsOf<T extends Topic> = Topics[T]['args']
export type EventOf<T extends Topic> = Topics[T]['event']

/** Every channel once; the compiler refuses a missing or an unknown one. */
const CHANNEL_SET = {
  'app/info': true,
  'app/startup': true,
  'kv/list': true,
  'kv/count': true,
  'kv/get': true,
  'kv/put': true,
  'kv/delete': true,
  'kv/history': true,
  'bulk/import': true,
  'bulk/rename': true,
  'auth/overview': true,
  'auth/whoami': true,
  'auth/setEnabled': true,
  'auth/addUser': true,
  'auth/deleteUser': true,
  'auth/setPassword': true,
  'auth/grantRole': true,
  'auth/revokeRole': true,
  'auth/addRole': true,
  'auth/deleteRole': true,
  'auth/grantPermission': true,
  'auth/revokePermission': true,
  'cluster/summary': true,
  'connections/list': true,
  'connections/add': true,
  'connections/remove': true,
  'connections/test': true,
  'leases/list': true,
  'leases/grant': true,
  'leases/revoke': true,
  'leases/keepAlive': true,
  'raft/available': true,
  'raft/sources': true,
  'raft/cluster': true,
  'raft/log': true,
  'raft/events': true,
  'raft/history': true,
  'raft/act': true,
  'maintenance/overview': true,
  'maintenance/compact': true,
  'maintenance/defragment': true,
  'maintenance/disarm': true,
  'maintenance/hashCheck': true,
  'wal/sources': true,
  'snapshots/list': true,
  'snapshots/verify': true,
  'snapshots/keys': true,
  'snapshots/restore': true,
  'wal/open': true,
  'wal/records': true,
  'join/list': true,
  'join/start': true,
  'join/promote': true,
  'join/retry': true,
  'join/leave': true,
  'join/invite': true,
} as const satisfies Record<Channel, true>

const TOPIC_SET = {
  'app/menu': true,
  'app/links': true,
  'kv/watch': true,
  'kv/search': true,
  'kv/diff': true,
  'bulk/copy': true,
  'bulk/export': true,
  'raft/live': true,
  'wal/verify': true,
  'snapshots/save': true,
  'join/live': true,
  'cluster/metrics': true,
} as const satisfies Record<Topic, true>

export const CHANNELS = Object.keys(CHANNEL_SET) as Channel[]
export const TOPICS = Object.keys(TOPIC_SET) as Topic[]

/**
 * An error as it crosses a process boundary. `name` is the error class (ValidationError,
 * NotFoundError, ...), `code` a stable machine-readable code, `message` the human sentence.
 */
export interface WireError {
  name: string
  code: string
  message: string
}

/** Every call answers with an envelope so that errors keep their name and code across IPC. */
export type Envelope<T> = { ok: true; value: T } | { ok: false; error: WireError }

/** What a subscription delivers: events, then at most one error or end. */
export type TopicMessage<E> =
  { type: 'event'; event: E } | { type: 'error'; error: WireError } | { type: 'end' }

/** The object preload (Electron) and the bridge script (web mode) expose as `window.raftdesk`. */
export interface RaftdeskBridge {
  invoke<C extends Channel>(channel: C, ...args: ArgsOf<C>): Promise<Envelope<ResultOf<C>>>
  /**
   * Opens a topic; `listener` gets its messages (each event is acknowledged once the listener
   * returns). The returned function closes it.
   */
  subscribe<T extends Topic>(
    topic: T,
    args: TopicArgsOf<T>,
    listener: (message: TopicMessage<EventOf<T>>) => void,
  ): () => void
}

/** Messages of the web-mode WebSocket (msgpack frames), both directions. */
export type BridgeRequest =
  | { t: 'call'; id: number; channel: string; args: unknown[] }
  | { t: 'sub'; id: number; topic: string; args: unknown[] }
  | { t: 'ack'; id: number }
  | { t: 'unsub'; id: number }

export type BridgeReply =
  | { t: 'reply'; id: number; envelope: Envelope<unknown> }
  | { t: 'topic'; id: number; message: TopicMessage<unknown> }
