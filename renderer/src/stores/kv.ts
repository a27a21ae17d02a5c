/**
 * The `kv` namespace's store: the key tree of one connection and the key that is open.
 *
 * The tree is never loaded whole. Each folder (a prefix ending in the separator, or the root
 * prefix) holds the pages of its listing loaded so far, read at one revision; a folder's rows
 * are either keys or subfolders, one row however many keys a subfolder holds. The visible rows
 * are the expanded folders' rows in order, depth first, with a "more" row where a listing
 * continues: that is what the virtual list renders. A watch on the root prefix keeps loaded
 * folders current (a key put elsewhere appears, a deleted one goes) without reloading them.
 */
import { defineStore } from 'pinia'
import { computed, ref, shallowRef, triggerRef } from 'vue'
import type { KeyDetail, ListRow, PutResult, RenameResult, WatchBatch } from '../../../contract'
import { ApiError, errorText } from '../api/client'
import { useApi } from '../api/inject'
import { bytesId, idBytes, startsWith, utf8 } from '../lib/bytes'

/** Rows fetched per page. */
export const PAGE_ROWS = 500

export interface FolderState {
  rows: ListRow[]
  more: boolean
  loading: boolean
  error: string | null
  /** The refusal's code (PERMISSION_DENIED, ...), when the listing failed. */
  errorCode?: string
  revision: number
}

export type VisibleRow =
  | {
      kind: 'key'
      id: string
      depth: number
      /** Where the label starts: the length of the folder the row is listed in. */
      from: number
      row: Extract<ListRow, { kind: 'key' }>
    }
  | { kind: 'folder'; id: string; depth: number; from: number; open: boolean }
  | { kind: 'more'; id: string; depth: number; folder: string; loading: boolean }
  | {
      kind: 'status'
      id: string
      depth: number
      folder: string
      text: 'loading' | 'empty' | 'error'
      error?: string
    }

export function rowId(row: ListRow): string {
  return bytesId(row.kind === 'key' ? row.key : row.prefix)
}

export const useKvStore = defineStore('kv', () => {
  const api = useApi()
  const conn = ref('local')
  const separator = ref('/')
  /**
   * Browse the keyspace as it was at this revision (0: now). Past keyspaces are read-only and
   * still: no watch, no edits.
   */
  const asOf = ref(0)
  /** The root of the tree (a prefix filter), as bytes id. */
  const root = ref('')
  /** Folder listings by prefix id; a Map in a shallowRef, bumped by hand on change. */
  const folders = shallowRef(new Map<string, FolderState>())
  const expanded = shallowRef(new Set<string>())
  const selected = ref<string | null>(null)
  const detail = ref<KeyDetail | null>(null)
  const detailLoading = ref(false)
  const detailError = ref<string | null>(null)
  /** The open key was deleted (by us or by anyone). */
  const detailGone = ref(false)
  /** The newest revision a watch event reported for the open key (0: none since it opened). */
  const lastEventRevision = ref(0)
  /**
   * The open key changed in the cluster after the value shown was read. Computed, so a save of
   * our own (whose event may arrive before or after the re-read) clears itself once re-read.
   */
  const changedUnderneath = computed(
    () => detail.value !== null && lastEventRevision.value > detail.value.modRevision,
  )
  let stopWatch: (() => void) | null = null
  /** Keys under each folder, counted once it is on screen (a count-only range each). */
  const counts = shallowRef(new Map<string, number>())
  const counting = new Set<string>()

  function countFolder(id: string): void {
    if (counts.value.has(id) || counting.has(id)) return
    counting.add(id)
    api
      .call('kv/count', {
        conn: conn.value,
        prefix: idBytes(id),
        ...(asOf.value > 0 ? { revision: asOf.value } : {}),
      })
      .then((n) => {
        counts.value = new Map(counts.value).set(id, n)
      })
      .catch(() => undefined)
      .finally(() => counting.delete(id))
  }

  function touch() {
    triggerRef(folders)
  }

  function folderState(id: string): FolderState {
    let f = folders.value.get(id)
    if (!f) {
      f = { rows: [], more: false, loading: false, error: null, revision: 0 }
      folders.value.set(id, f)
    }
    return f
  }

  async function loadFolder(id: string, next = false): Promise<void> {
    const f = folderState(id)
    if (f.loading) return
    if (!next) {
      f.rows = []
      f.more = false
      f.revision = 0
    }
    f.loading = true
    f.error = null
    delete f.errorCode
    touch()
    try {
      const last = f.rows.at(-1)
      const page = await api.call('kv/list', {
        conn: conn.value,
        prefix: idBytes(id),
        separator: separator.value,
        limit: PAGE_ROWS,
        ...(next && last ? { after: last.kind === 'key' ? last.key : last.prefix } : {}),
        ...(asOf.value > 0
          ? { revision: asOf.value }
          : next && f.revision
            ? { revision: f.revision }
            : {}),
      })
      f.rows = next ? f.rows.concat(page.rows) : page.rows
      f.more = page.more
      f.revision = page.revision
    } catch (err) {
      f.error = errorText(err)
      if (err instanceof ApiError) f.errorCode = err.code
    } finally {
      f.loading = false
      touch()
    }
  }

  const visibleRows = computed<VisibleRow[]>(() => {
    const out: VisibleRow[] = []
    const walk = (id: string, depth: number) => {
      const f = folders.value.get(id)
      if (!f || (f.rows.length === 0 && f.loading)) {
        out.push({ kind: 'status', id: `${id}\u0000status`, depth, folder: id, text: 'loading' })
        return
      }
      if (f.error && f.rows.length === 0) {
        out.push({
          kind: 'status',
          id: `${id}\u0000status`,
          depth,
          folder: id,
          text: 'error',
          error: f.error,
        })
        return
      }
      if (f.rows.length === 0) {
        if (depth > 0) {
          out.push({ kind: 'status', id: `${id}\u0000status`, depth, folder: id, text: 'empty' })
        }
        return
      }
      for (const row of f.rows) {
        const rid = rowId(row)
        if (row.kind === 'key') {
          out.push({ kind: 'key', id: rid, depth, from: id.length, row })
        } else {
          const open = expanded.value.has(rid)
          out.push({ kind: 'folder', id: rid, depth, from: id.length, open })
          if (open) walk(rid, depth + 1)
        }
      }
      if (f.more) {
        out.push({ kind: 'more', id: `${id}\u0000more`, depth, folder: id, loading: f.loading })
      }
    }
    walk(root.value, 0)
    return out
  })

  /**
   * The root folder's state, copied: a folder is changed in place and the map bumped, and a
   * copy is what lets the views that read it see each change.
   */
  const rootState = computed(() => {
    const f = folders.value.get(root.value)
    return f ? { ...f } : undefined
  })

  async function toggle(id: string, open?: boolean): Promise<void> {
    const set = new Set(expanded.value)
    const willOpen = open ?? !set.has(id)
    if (willOpen) set.add(id)
    else set.delete(id)
    expanded.value = set
    if (willOpen && !folders.value.get(id)?.rows.length) await loadFolder(id)
  }

  async function open(id: string): Promise<void> {
    selected.value = id
    detailLoading.value = true
    detailError.value = null
    detailGone.value = false
    lastEventRevision.value = 0
    try {
      const d = await api.call('kv/get', {
        conn: conn.value,
        key: idBytes(id),
        ...(asOf.value > 0 ? { revision: asOf.value } : {}),
      })
      if (selected.value !== id) return
      detail.value = d
      detailGone.value = d === null
    } catch (err) {
      if (selected.value === id) detailError.value = errorText(err)
    } finally {
      if (selected.value === id) detailLoading.value = false
    }
  }

  /** Writes the open key, guarded by the mod revision it was read at. */
  async function save(value: Uint8Array, force = false): Promise<PutResult> {
    const d = detail.value
    if (!d) throw new Error('no key is open')
    const result = await api.call('kv/put', {
      conn: conn.value,
      key: d.key,
      value,
      ...(force ? {} : { expectedModRevision: d.modRevision }),
      ...(d.lease ? { lease: d.lease } : {}),
    })
    if (result.ok) await open(bytesId(d.key))
    return result
  }

  /** Creates a key that must not exist yet; false when it does. */
  async function create(key: Uint8Array, value: Uint8Array): Promise<boolean> {
    const result = await api.call('kv/put', {
      conn: conn.value,
      key,
      value,
      expectedModRevision: 0,
    })
    if (!result.ok) return false
    await reveal(key)
    return true
  }

  /**
   * Renames a key (its value and lease go with it) if it is still as last read: a key changed
   * meanwhile, or a new name already taken, comes back as the reason and nothing moves.
   */
  async function rename(from: Uint8Array, to: Uint8Array): Promise<RenameResult> {
    const current = await api.call('kv/get', { conn: conn.value, key: from })
    if (!current) return { ok: false, reason: 'changed' }
    const result = await api.call('bulk/rename', {
      conn: conn.value,
      from,
      to,
      expectedModRevision: current.modRevision,
    })
    if (result.ok) {
      removeKeyRow(from)
      await reveal(to)
    }
    return result
  }

  async function remove(key: Uint8Array): Promise<void> {
    await api.call('kv/delete', { conn: conn.value, key })
    removeKeyRow(key)
    if (selected.value === bytesId(key)) {
      detail.value = null
      detailGone.value = true
    }
  }

  /** Opens every folder on the way to `key`, loads them, and selects it. */
  async function reveal(key: Uint8Array): Promise<void> {
    const sep = utf8(separator.value)
    const rootBytes = idBytes(root.value)
    if (sep.length > 0) {
      for (let at = rootBytes.length; ;) {
        const rest = key.subarray(at)
        const idx = indexOf(rest, sep)
        if (idx < 0) break
        const folder = key.subarray(0, at + idx + sep.length)
        const fid = bytesId(folder)
        insertRow(bytesId(key.subarray(0, at)), { kind: 'folder', prefix: folder })
        await toggle(fid, true)
        at += idx + sep.length
      }
    }
    await open(bytesId(key))
  }

  function directRow(folder: Uint8Array, key: Uint8Array): ListRow {
    const sep = utf8(separator.value)
    const rest = key.subarray(folder.length)
    const idx = sep.length > 0 ? indexOf(rest, sep) : -1
    if (idx >= 0)
      return { kind: 'folder', prefix: key.subarray(0, folder.length + idx + sep.length) }
    return { kind: 'key', key, createRevision: 0, modRevision: 0, version: 0, lease: '' }
  }

  /** Puts a row into a loaded folder where it sorts, unless it is past the loaded pages. */
  function insertRow(folderId: string, row: ListRow): void {
    const f = folders.value.get(folderId)
    if (!f) return
    const id = rowId(row)
    let lo = 0
    let hi = f.rows.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (rowId(f.rows[mid]!) < id) lo = mid + 1
      else hi = mid
    }
    const here = f.rows[lo]
    if (here && rowId(here) === id) {
      if (row.kind === 'key' && here.kind === 'key' && row.modRevision > 0) f.rows[lo] = row
    } else if (lo < f.rows.length || !f.more) {
      f.rows = [...f.rows.slice(0, lo), row, ...f.rows.slice(lo)]
    }
    touch()
  }

  function removeKeyRow(key: Uint8Array): void {
    const id = bytesId(key)
    for (const [fid, f] of folders.value) {
      if (!startsWith(key, idBytes(fid))) continue
      const i = f.rows.findIndex((r) => r.kind === 'key' && rowId(r) === id)
      if (i >= 0) f.rows = [...f.rows.slice(0, i), ...f.rows.slice(i + 1)]
    }
    touch()
  }

  function onWatch(batch: WatchBatch): void {
    if (batch.events.length > 0 && counts.value.size > 0) {
      // Counts of folders holding changed keys are stale: count again when next shown.
      const next = new Map(counts.value)
      for (const e of batch.events) {
        for (const id of next.keys()) if (startsWith(e.key, idBytes(id))) next.delete(id)
      }
      counts.value = next
    }
    for (const e of batch.events) {
      if (e.type === 'put') {
        for (const fid of folders.value.keys()) {
          const folder = idBytes(fid)
          if (!startsWith(e.key, folder)) continue
          const row = directRow(folder, e.key)
          if (row.kind === 'key') {
            insertRow(fid, { ...row, modRevision: e.modRevision })
          } else {
            insertRow(fid, row)
          }
        }
      } else {
        removeKeyRow(e.key)
      }
      if (selected.value === bytesId(e.key)) {
        lastEventRevision.value = Math.max(lastEventRevision.value, e.modRevision)
        if (e.type === 'delete' && (detail.value?.modRevision ?? 0) < e.modRevision) {
          detailGone.value = true
        }
      }
    }
  }

  function watchRoot(): void {
    stopWatch?.()
    stopWatch = null
    if (asOf.value > 0) return
    stopWatch = api.subscribe(
      'kv/watch',
      [{ conn: conn.value, key: idBytes(root.value), prefix: true }],
      { event: onWatch },
    )
  }

  async function reload(): Promise<void> {
    folders.value = new Map()
    counts.value = new Map()
    const keep = [...expanded.value].filter((id) => id.startsWith(root.value))
    await loadFolder(root.value)
    for (const id of keep) if (folders.value.size < 50) await loadFolder(id)
    if (selected.value) await open(selected.value)
  }

  async function start(): Promise<void> {
    if (folders.value.has(root.value)) return
    watchRoot()
    await loadFolder(root.value)
  }

  async function setRoot(prefix: string): Promise<void> {
    root.value = bytesId(utf8(prefix))
    expanded.value = new Set()
    folders.value = new Map()
    watchRoot()
    await loadFolder(root.value)
  }

  /** Works with another connection: the tree starts over at its root. */
  async function switchConnection(id: string): Promise<void> {
    if (id === conn.value && folders.value.size > 0) return
    conn.value = id
    asOf.value = 0 // another cluster's revisions mean nothing here
    expanded.value = new Set()
    folders.value = new Map()
    counts.value = new Map()
    selected.value = null
    detail.value = null
    detailGone.value = false
    detailError.value = null
    watchRoot()
    await loadFolder(root.value)
  }

  /** Browses the keyspace as of `revision` (0: back to now), from the root down again. */
  async function setAsOf(revision: number): Promise<void> {
    asOf.value = revision
    expanded.value = new Set()
    folders.value = new Map()
    counts.value = new Map()
    watchRoot()
    await loadFolder(root.value)
    if (selected.value) await open(selected.value)
  }

  async function setSeparator(sep: string): Promise<void> {
    separator.value = sep
    expanded.value = new Set()
    folders.value = new Map()
    await loadFolder(root.value)
  }

  return {
    counts,
    countFolder,
    conn,
    separator,
    root,
    folders,
    expanded,
    selected,
    detail,
    detailLoading,
    detailError,
    detailGone,
    changedUnderneath,
    visibleRows,
    rootState,
    loadFolder,
    toggle,
    open,
    save,
    create,
    remove,
    rename,
    reveal,
    reload,
    start,
    setRoot,
    setSeparator,
    setAsOf,
    asOf,
    switchConnection,
    onWatch,
  }
})

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer
    return i
  }
  return -1
}
