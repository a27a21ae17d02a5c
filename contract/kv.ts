/**
 * The `kv/*` namespace: browsing and editing the keys of one connection.
 *
 * Keys and values are bytes (etcd's are), carried as Uint8Array on every transport. Listings are
 * paged by the server and never return values: a value is fetched when its key is opened. With a
 * separator, a listing is one level of a tree: the keys directly under the prefix, and one folder
 * row for every deeper group (`a/b/` under `a/`), each folder read with one ranged call that jumps
 * past it, so a folder of a million keys costs one row.
 */

export type Bytes = Uint8Array

export interface KvTarget {
  /** The connection's id (`local` is the embedded or served cluster). */
  conn: string
}

export interface ListArgs extends KvTarget {
  /** List under this prefix (empty: the whole keyspace). */
  prefix: Bytes
  /** Tree separator, such as '/'; empty for a flat list of every key under the prefix. */
  separator: string
  /** Continue after this row's key (a key, or a folder's prefix) from the previous page. */
  after?: Bytes
  /** Rows in the page, at most 1,000. */
  limit: number
  /** Read the keyspace as of this revision (0 or absent: now). */
  revision?: number
}

export type ListRow =
  | {
      kind: 'key'
      key: Bytes
      createRevision: number
      modRevision: number
      version: number
      /** Lease id as etcdctl prints it (hex), '' when none. */
      lease: string
    }
  | { kind: 'folder'; prefix: Bytes }

export interface ListPage {
  rows: ListRow[]
  /** More rows follow: ask again with `after` set to the last row's key or prefix. */
  more: boolean
  /** The revision this page was read at: later pages should read at the same one. */
  revision: number
}

export interface CountArgs extends KvTarget {
  prefix: Bytes
  revision?: number
}

export interface GetArgs extends KvTarget {
  key: Bytes
  revision?: number
}

export interface KeyDetail {
  key: Bytes
  value: Bytes
  createRevision: number
  modRevision: number
  version: number
  lease: string
  /** The revision the read saw. */
  revision: number
}

export interface PutArgs extends KvTarget {
  key: Bytes
  value: Bytes
  /**
   * Write only if the key is still at this mod revision (0: only if it does not exist). Absent:
   * write whatever is there.
   */
  expectedModRevision?: number
  /** Attach to this lease (hex id); absent keeps none. */
  lease?: string
}

/** A put either lands or finds the key changed underneath; then `current` is what is there. */
export type PutResult =
  { ok: true; revision: number } | { ok: false; conflict: true; current: KeyDetail | null }

export interface DeleteArgs extends KvTarget {
  key: Bytes
  /** Delete every key starting with `key`. */
  prefix?: boolean
  /**
   * On a production connection, the key (or prefix) as the person typed it to confirm; the
   * services refuse the delete without it.
   */
  confirm?: string
}

export interface DeleteResult {
  deleted: number
  revision: number
}

export interface WatchArgs extends KvTarget {
  /** The key, or with `prefix` the prefix (empty: every key). */
  key: Bytes
  prefix: boolean
  /** Replay from this revision (must not be compacted); absent: from now. */
  startRevision?: number
}

export interface WatchEvent {
  type: 'put' | 'delete'
  key: Bytes
  value: Bytes
  prevValue?: Bytes
  modRevision: number
}

/** Events since the last batch; `skipped` counts events dropped while the window was behind. */
export interface WatchBatch {
  events: WatchEvent[]
  skipped: number
}

export interface SearchArgs extends KvTarget {
  /** Scan the keys under this prefix (empty: all). */
  prefix: Bytes
  /** What to look for: a substring (case-insensitive) or a regular expression (JavaScript's). */
  query: string
  mode: 'substring' | 'regex'
  /** Match against the keys, or the values (a value search reads every value under the prefix). */
  target: 'keys' | 'values'
}

export interface SearchMatch {
  key: Bytes
  modRevision: number
  /** For a value search: the matched text with some context, on one line. */
  excerpt?: string
}

/** Progress of a search: everything found since the last message, and how far the scan got. */
export interface SearchProgress {
  scanned: number
  /** Keys under the prefix when the scan began. */
  total: number
  matches: SearchMatch[]
  /** The scan reached the end (or stopped at the match limit). */
  done: boolean
  /** Matches beyond the limit were not collected: refine the search. */
  truncated: boolean
  revision: number
}

export interface HistoryArgs extends KvTarget {
  key: Bytes
  /** Versions to return, newest first (at most 200). */
  limit: number
}

export interface KeyVersion {
  value: Bytes
  modRevision: number
  version: number
}

/** The versions of a key since it was last created, newest first. */
export interface KeyHistory {
  versions: KeyVersion[]
  /** Older versions exist but were not returned (the limit). */
  more: boolean
  /** Older versions were removed by a compaction (at this revision). */
  compactedAt: number
}

export interface DiffArgs extends KvTarget {
  /** Compare the keys under this prefix (empty: all). */
  prefix: Bytes
  /** The earlier revision (must not be compacted). */
  fromRevision: number
  /** The later revision; 0: now. */
  toRevision: number
}

/** One key that differs between the two revisions, with its mod revision at each. */
export interface KeyChange {
  key: Bytes
  kind: 'added' | 'removed' | 'changed'
  /** Mod revision at `fromRevision` (absent for an added key). */
  before?: number
  /** Mod revision at `toRevision` (absent for a removed key). */
  after?: number
}

/** Progress of a comparison: the changes found since the last message, and how far it got. */
export interface DiffProgress {
  /** Keys read so far, at both revisions together. */
  scanned: number
  changes: KeyChange[]
  done: boolean
  /** Changes beyond the limit were not collected: narrow the prefix or the revisions. */
  truncated: boolean
  fromRevision: number
  /** The later revision as resolved (now, when 0 was asked). */
  toRevision: number
}

export interface KvCalls {
  'kv/list': { args: [ListArgs]; result: ListPage }
  'kv/count': { args: [CountArgs]; result: number }
  'kv/get': { args: [GetArgs]; result: KeyDetail | null }
  'kv/put': { args: [PutArgs]; result: PutResult }
  'kv/delete': { args: [DeleteArgs]; result: DeleteResult }
  'kv/history': { args: [HistoryArgs]; result: KeyHistory }
}

export interface KvTopics {
  'kv/watch': { args: [WatchArgs]; event: WatchBatch }
  /** A streamed scan; closing the topic cancels it. */
  'kv/search': { args: [SearchArgs]; event: SearchProgress }
  /** What changed under a prefix between two revisions: a streamed, cancellable comparison. */
  'kv/diff': { args: [DiffArgs]; event: DiffProgress }
}
