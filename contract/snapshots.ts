/**
 * The `snapshots/*` namespace: a node's snapshot files (the state machine at an index, with the
 * membership it had), verified on demand; and saving a cluster's backend to a file the way
 * `etcdctl snapshot save` does (raftdesk or real etcd), with progress, which
 * `raftdesk serve --restore FILE` (or `etcdctl snapshot restore`) starts a new cluster from.
 */
export interface SnapshotFileView {
  name: string
  term: number
  index: number
  fileBytes: number
  imageBytes: number
  /** The membership at that index: member ids in hex. */
  voters: string[]
  learners: string[]
  /** When the file was written (its modification time). */
  atMs: number
}

export interface SnapshotList {
  dir: string
  snapshots: SnapshotFileView[]
}

export interface SnapshotSaveProgress {
  path: string
  bytes: number
  /** What the member said it would send (0 while unknown). */
  totalBytes: number
  done: boolean
}

/** One key as a snapshot holds it at its revision. */
export interface SnapshotKey {
  key: Uint8Array
  /** The value, cut at 4 KiB (valueBytes says how long it is). */
  value: Uint8Array
  valueBytes: number
  createRevision: number
  modRevision: number
  version: number
  /** Lease id in hex ('' for none). */
  lease: string
}

export interface SnapshotKeysPage {
  revision: number
  compactedRevision: number
  /** Raft index the image reflects. */
  consistentIndex: number
  /** Keys under the prefix in the whole snapshot. */
  total: number
  keys: SnapshotKey[]
  /** More keys follow the last one (ask again with `after` set to it). */
  more: boolean
}

/** A local cluster started from a saved snapshot file. */
export interface RestoredCluster {
  name: string
  dataDir: string
  endpoints: string[]
  keys: number
  revision: number
  /** The connection added for it (the key browser and the Cluster view open it). */
  connection: string
}

export interface SnapshotsCalls {
  /**
   * Restores a saved snapshot file (what Save or `etcdctl snapshot save` writes) into a new
   * local cluster of three nodes and starts it; it runs until the host stops.
   */
  'snapshots/restore': { args: [{ path: string; name?: string }]; result: RestoredCluster }
  /**
   * The keys a snapshot file holds at its revision, in key order: those under `prefix`, after
   * `after` (exclusive), at most `limit`.
   */
  'snapshots/keys': {
    args: [{ dir: string; name: string; prefix: Uint8Array; after?: Uint8Array; limit: number }]
    result: SnapshotKeysPage
  }
  /** The snapshot files under a node's data directory (or its snap/), newest first. */
  'snapshots/list': { args: [{ dir: string }]; result: SnapshotList }
  /** Reads a whole file through its checksum; fails with what is wrong. */
  'snapshots/verify': { args: [{ dir: string; name: string }]; result: SnapshotFileView }
}

export interface SnapshotsTopics {
  /**
   * Streams a member's backend into `path` (written aside and renamed when whole); closing the
   * stream cancels it and leaves no file. Refuses an existing file unless `overwrite`.
   */
  'snapshots/save': {
    args: [{ conn: string; path: string; overwrite?: boolean }]
    event: SnapshotSaveProgress
  }
}
