/**
 * The `snapshots` namespace's store: one node's snapshot files, a verify per file, and a save
 * of the cluster's backend to a file with progress (stoppable).
 */
import { defineStore } from 'pinia'
import { ref, shallowRef } from 'vue'
import type { RestoredCluster, SnapshotList, SnapshotSaveProgress } from '../../../contract'
import { errorText } from '../api/client'
import { useApi } from '../api/inject'

export type VerifyState = { state: 'running' } | { state: 'ok' } | { state: 'bad'; error: string }

export const useSnapshotsStore = defineStore('snapshots', () => {
  const api = useApi()
  const dir = ref('')
  const list = shallowRef<SnapshotList | null>(null)
  const error = ref<string | null>(null)
  const verified = ref<Record<string, VerifyState>>({})
  const saving = shallowRef<SnapshotSaveProgress | null>(null)
  const saveError = ref<string | null>(null)
  const savingNow = ref(false)
  let stopSave: (() => void) | null = null

  /** Answers to an earlier load are dropped: the list shown is the directory named. */
  let loads = 0

  async function load(path: string): Promise<void> {
    const mine = ++loads
    if (dir.value !== path) verified.value = {}
    dir.value = path
    try {
      const next = await api.call('snapshots/list', { dir: path })
      if (mine !== loads) return
      list.value = next
      error.value = null
    } catch (err) {
      if (mine !== loads) return
      list.value = null
      error.value = errorText(err)
    }
  }

  async function verify(name: string): Promise<void> {
    if (!list.value) return
    const at = dir.value
    verified.value = { ...verified.value, [name]: { state: 'running' } }
    let result: VerifyState
    try {
      await api.call('snapshots/verify', { dir: list.value.dir, name })
      result = { state: 'ok' }
    } catch (err) {
      result = { state: 'bad', error: errorText(err) }
    }
    // Another node's files are shown now: this answer is not about them.
    if (at === dir.value) verified.value = { ...verified.value, [name]: result }
  }

  function save(conn: string, path: string): void {
    cancelSave()
    saving.value = null
    saveError.value = null
    savingNow.value = true
    stopSave = api.subscribe('snapshots/save', [{ conn, path }], {
      event(p) {
        saving.value = p
        if (p.done) {
          savingNow.value = false
          stopSave?.()
          stopSave = null
        }
      },
      error(err) {
        saveError.value = errorText(err)
        savingNow.value = false
        stopSave = null
      },
    })
  }

  function cancelSave(): void {
    stopSave?.()
    stopSave = null
    savingNow.value = false
  }

  /** A cluster started from a file: the last one, and the last failure. */
  const restored = shallowRef<RestoredCluster | null>(null)
  const restoreError = ref<string | null>(null)
  const restoring = ref(false)

  async function restore(path: string): Promise<RestoredCluster | null> {
    restoring.value = true
    restoreError.value = null
    try {
      restored.value = await api.call('snapshots/restore', { path })
      return restored.value
    } catch (err) {
      restoreError.value = errorText(err)
      return null
    } finally {
      restoring.value = false
    }
  }

  return {
    dir,
    list,
    error,
    verified,
    saving,
    saveError,
    savingNow,
    load,
    verify,
    save,
    cancelSave,
    restored,
    restoreError,
    restoring,
    restore,
  }
})
