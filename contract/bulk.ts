/**
 * The `bulk/*` namespace: work on many keys at once. Copy or move a prefix (within a connection
 * or to another one), export a prefix as a file's bytes, import keys from one, rename a key.
 *
 * Bulk work runs in pages, one transaction per page, and reads its source at one revision, so
 * what it did is always whole pages of one consistent keyspace. It reports progress as it goes;
 * closing its topic cancels it between pages, and the last progress says what was done. A
 * preview (`dryRun`) reads exactly as the real run would and counts what would change, with
 * the first changes listed, without writing anything.
 */
import type { Bytes } from './kv'

export interface PrefixRef {
  conn: string
  prefix: Bytes
}

export interface CopyArgs {
  from: PrefixRef
  /** Each key's remainder after `from.prefix` is put under `to.prefix`. */
  to: PrefixRef
  /**
   * Replace target keys that hold a different value. Off: they are kept and counted as
   * skipped (and, in a move, their source keys are kept too).
   */
  overwrite: boolean
  /**
   * Delete each source key in the transaction that writes its copy: renaming a prefix. Same
   * connection only; the prefixes must not contain one another.
   */
  move: boolean
  /** Count what would change, without writing. */
  dryRun: boolean
}

export type ChangeKind = 'create' | 'update' | 'skip'

export interface ChangeSample {
  /** The key as it is (or would be) at the target. */
  key: Bytes
  change: ChangeKind
}

/** What bulk work did (or, in a preview, would do), key by key. */
export interface BulkCounts {
  /** Source keys (or imported entries) handled so far. */
  scanned: number
  created: number
  updated: number
  /** Target keys already holding the value: left untouched. */
  unchanged: number
  /** Target keys holding another value, kept because overwrite was off. */
  skipped: number
  /** Source keys deleted by a move. */
  deleted: number
  /** Keys someone else changed while the work ran: left as that writer left them. */
  conflicts: number
}

export interface BulkProgress extends BulkCounts {
  /** Keys under the source prefix at `revision`. */
  total: number
  /** The first changes, in key order (at most 200 over the whole run). */
  samples: ChangeSample[]
  /** The work reached its end. A stream that ends without `done` was cancelled or failed. */
  done: boolean
  /** The source revision the work reads at. */
  revision: number
}

export type ExportFormat = 'json' | 'lines'

export interface ExportArgs {
  conn: string
  prefix: Bytes
  /**
   * json: raftdesk's export document (keys and values as UTF-8 text, or base64 where they are
   * not text). lines: what `etcdctl get --prefix` prints, a key line and a value line per key.
   */
  format: ExportFormat
}

/** The next bytes of the export file, and how far the export got. */
export interface ExportChunk {
  data: Bytes
  scanned: number
  total: number
  /**
   * lines format: keys or values holding a line break, which that format cannot carry back
   * (the JSON format can). Counted so the window can say so.
   */
  ambiguous: number
  done: boolean
  revision: number
}

export interface ImportEntry {
  key: Bytes
  value: Bytes
}

export interface ImportArgs {
  conn: string
  /** One batch of the file, at most 1,000 entries; the window sends the batches in order. */
  entries: ImportEntry[]
  overwrite: boolean
  dryRun: boolean
}

export interface ImportResult extends BulkCounts {
  samples: ChangeSample[]
}

export interface RenameArgs {
  conn: string
  from: Bytes
  to: Bytes
  /** The source's mod revision as the window saw it: a key changed since is not renamed. */
  expectedModRevision: number
}

export type RenameResult =
  { ok: true; revision: number } | { ok: false; reason: 'changed' | 'exists' }

export interface BulkCalls {
  /** Writes one batch of an import (or counts what it would change). */
  'bulk/import': { args: [ImportArgs]; result: ImportResult }
  /** Moves one key to a new name in one transaction (its lease goes with it). */
  'bulk/rename': { args: [RenameArgs]; result: RenameResult }
}

export interface BulkTopics {
  'bulk/copy': { args: [CopyArgs]; event: BulkProgress }
  'bulk/export': { args: [ExportArgs]; event: ExportChunk }
}
