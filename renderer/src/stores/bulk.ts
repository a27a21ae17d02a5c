/**
 * Bulk work on a prefix (the `bulk/*` namespace, and kv/delete for a whole prefix): which
 * operation the person asked for, its preview, its progress while it runs, and its report.
 * One operation at a time. Copy, move and export stream from the server and stop between pages
 * when cancelled; an import is sent in batches by this store and stops between batches. A
 * cancelled run reports what it did: whole pages or batches, nothing half-written.
 */
import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import type {
  BulkCounts,
  ChangeSample,
  CopyArgs,
  EventOf,
  ExportFormat,
  ImportEntry,
  TopicArgsOf,
} from '../../../contract'
import { errorText } from '../api/client'
import { useApi } from '../api/inject'
import { batches, exportFileName } from '../lib/transfer'

export type BulkKind = 'copy' | 'move' | 'export' | 'import' | 'delete'
export type BulkState =
  'idle' | 'previewing' | 'previewed' | 'running' | 'done' | 'cancelled' | 'failed'

/** What the person asked for: an operation on a prefix of a connection. */
export interface BulkRequest {
  kind: BulkKind
  conn: string
  prefix: Uint8Array
  /** A delete of this one key rather than of everything under it. */
  exact?: boolean
}

export interface BulkReport extends BulkCounts {
  total: number
  revision: number
}

/** Changes listed in a preview or a report. */
export const SAMPLES_SHOWN_MAX = 200

function zero(): BulkReport {
  return {
    scanned: 0,
    total: 0,
    created: 0,
    updated: 0,
    unchanged: 0,
    skipped: 0,
    deleted: 0,
    conflicts: 0,
    revision: 0,
  }
}

function add(into: BulkReport, from: BulkCounts): BulkReport {
  return {
    ...into,
    scanned: into.scanned + from.scanned,
    created: into.created + from.created,
    updated: into.updated + from.updated,
    unchanged: into.unchanged + from.unchanged,
    skipped: into.skipped + from.skipped,
    deleted: into.deleted + from.deleted,
    conflicts: into.conflicts + from.conflicts,
  }
}

/** Hands finished export bytes to the person as a file download (a save dialog in the app). */
export function saveFile(name: string, parts: Uint8Array[], type: string): void {
  const url = URL.createObjectURL(new Blob(parts as BlobPart[], { type }))
  const a = document.createElement('a')
  a.href = url
  a.download = name
  a.style.display = 'none'
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 60_000)
}

export const useBulkStore = defineStore('bulk', () => {
  const api = useApi()
  const request = ref<BulkRequest | null>(null)
  const state = ref<BulkState>('idle')
  const report = ref<BulkReport>(zero())
  const samples = shallowRef<ChangeSample[]>([])
  const error = ref<string | null>(null)
  /** The export's file name once it is saved. */
  const savedAs = ref<string | null>(null)
  /** Export (lines format): keys or values with a line break the format cannot carry back. */
  const ambiguous = ref(0)
  let stopStream: (() => void) | null = null
  /** Ends the promise of the stream running, when Stop closes it. */
  let onCancel: (() => void) | null = null
  let cancelled = false

  const percent = computed(() => {
    const r = report.value
    if (r.total === 0) return state.value === 'done' ? 100 : 0
    return Math.min(100, (100 * r.scanned) / r.total)
  })
  const busy = computed(() => state.value === 'previewing' || state.value === 'running')

  function ask(kind: BulkKind, conn: string, prefix: Uint8Array, exact = false): void {
    cancel()
    request.value = { kind, conn, prefix, ...(exact ? { exact } : {}) }
    reset()
  }

  function reset(): void {
    state.value = 'idle'
    report.value = zero()
    samples.value = []
    error.value = null
    savedAs.value = null
    ambiguous.value = 0
  }

  function dismiss(): void {
    cancel()
    request.value = null
    reset()
  }

  function begin(next: BulkState): void {
    reset()
    cancelled = false
    state.value = next
  }

  function fail(err: unknown): void {
    stopStream = null
    error.value = errorText(err)
    state.value = 'failed'
  }

  function finish(): void {
    stopStream = null
    state.value = cancelled ? 'cancelled' : state.value === 'previewing' ? 'previewed' : 'done'
  }

  function keepSamples(more: ChangeSample[]): void {
    if (more.length === 0 || samples.value.length >= SAMPLES_SHOWN_MAX) return
    samples.value = samples.value.concat(more.slice(0, SAMPLES_SHOWN_MAX - samples.value.length))
  }

  /**
   * Runs a streamed bulk topic until it ends, however it ends (done, refused, or Stop): each
   * event goes to `onEvent`, which returns true for the last one.
   */
  function stream<T extends 'bulk/copy' | 'bulk/export'>(
    topic: T,
    args: TopicArgsOf<T>,
    onEvent: (event: EventOf<T>) => boolean,
  ): Promise<void> {
    return new Promise((resolve) => {
      onCancel = resolve
      stopStream = api.subscribe(topic, args, {
        event(e) {
          if (!onEvent(e)) return
          stopStream?.()
          finish()
          resolve()
        },
        error(err) {
          fail(err)
          resolve()
        },
      })
    })
  }

  /** Copy or move (the `bulk/copy` topic). */
  function copy(args: CopyArgs): Promise<void> {
    begin(args.dryRun ? 'previewing' : 'running')
    return stream('bulk/copy', [args], (p) => {
      report.value = { ...p }
      keepSamples(p.samples)
      return p.done
    })
  }

  /**
   * Streams an export and saves it as a file once complete, named after the connection
   * (`connName`), the prefix (`prefixText`) and the revision.
   */
  function exportPrefix(
    { conn, prefix }: { conn: string; prefix: Uint8Array },
    names: { connName: string; prefixText: string },
    format: ExportFormat,
  ): Promise<void> {
    begin('running')
    const parts: Uint8Array[] = []
    return stream('bulk/export', [{ conn, prefix, format }], (c) => {
      parts.push(c.data)
      ambiguous.value = c.ambiguous
      report.value = { ...zero(), scanned: c.scanned, total: c.total, revision: c.revision }
      if (!c.done) return false
      const name = exportFileName(names.connName, names.prefixText, c.revision, format)
      saveFile(name, parts, format === 'json' ? 'application/json' : 'text/plain')
      savedAs.value = name
      return true
    })
  }

  /** Sends parsed entries in batches (or counts what they would change, with `dryRun`). */
  async function importEntries(
    conn: string,
    entries: ImportEntry[],
    overwrite: boolean,
    dryRun: boolean,
  ): Promise<void> {
    begin(dryRun ? 'previewing' : 'running')
    report.value = { ...zero(), total: entries.length }
    try {
      for (const batch of batches(entries)) {
        if (cancelled) break
        const result = await api.call('bulk/import', { conn, entries: batch, overwrite, dryRun })
        report.value = add(report.value, result)
        keepSamples(result.samples)
      }
      finish()
    } catch (err) {
      fail(err)
    }
  }

  /** Counts the keys a delete would remove (one key, `exact`, or every key under a prefix). */
  async function countPrefix(conn: string, prefix: Uint8Array, exact = false): Promise<void> {
    begin('previewing')
    try {
      const total = exact
        ? Number((await api.call('kv/get', { conn, key: prefix })) !== null)
        : await api.call('kv/count', { conn, prefix })
      report.value = { ...zero(), total, scanned: total, deleted: total }
      finish()
    } catch (err) {
      fail(err)
    }
  }

  /** Deletes every key under the prefix (or the one key, `exact`) in one atomic request. */
  async function deletePrefix(
    conn: string,
    prefix: Uint8Array,
    confirm?: string,
    exact = false,
  ): Promise<void> {
    const total = report.value.total
    begin('running')
    report.value = { ...zero(), total }
    try {
      const res = await api.call('kv/delete', {
        conn,
        key: prefix,
        prefix: !exact,
        ...(confirm !== undefined ? { confirm } : {}),
      })
      report.value = {
        ...zero(),
        total,
        scanned: res.deleted,
        deleted: res.deleted,
        revision: res.revision,
      }
      finish()
    } catch (err) {
      fail(err)
    }
  }

  /** Stops the running work between pages (or batches); the report keeps what was done. */
  function cancel(): void {
    if (!busy.value) return
    cancelled = true
    if (stopStream) {
      stopStream()
      stopStream = null
      finish()
      onCancel?.()
      onCancel = null
    }
  }

  return {
    request,
    state,
    report,
    samples,
    error,
    savedAs,
    ambiguous,
    percent,
    busy,
    ask,
    dismiss,
    reset,
    copy,
    exportPrefix,
    importEntries,
    countPrefix,
    deletePrefix,
    cancel,
  }
})
