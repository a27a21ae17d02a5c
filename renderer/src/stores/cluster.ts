/** The `cluster` namespace's store: the connection's members at a glance, refreshed on a timer. */
import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { ClusterSummary } from '../../../contract'
import { errorText } from '../api/client'
import { useApi } from '../api/inject'
import { useConnectionsStore } from './connections'

/** How often the summary is asked for while someone looks at it. */
export const SUMMARY_EVERY_MS = 2_000

export const useClusterStore = defineStore('cluster', () => {
  const api = useApi()
  const connections = useConnectionsStore()
  const summary = ref<ClusterSummary | null>(null)
  const error = ref<string | null>(null)
  const loading = ref(false)
  let timer: ReturnType<typeof setTimeout> | null = null
  let watchers = 0

  async function refresh(): Promise<void> {
    const conn = connections.current
    loading.value = summary.value === null
    try {
      const next = await api.call('cluster/summary', { conn })
      if (conn !== connections.current) return // switched meanwhile
      summary.value = next
      error.value = null
    } catch (err) {
      error.value = errorText(err)
    } finally {
      loading.value = false
    }
  }

  function loop(): void {
    timer = setTimeout(() => {
      void refresh().finally(() => {
        if (watchers > 0) loop()
      })
    }, SUMMARY_EVERY_MS)
  }

  /** Keeps the summary fresh until the returned function is called. */
  function follow(): () => void {
    watchers++
    if (watchers === 1) {
      void refresh()
      loop()
    }
    return () => {
      watchers--
      if (watchers === 0 && timer) clearTimeout(timer)
    }
  }

  /** Another connection: forget the last one's summary and ask at once. */
  function reset(): void {
    summary.value = null
    error.value = null
    void refresh()
  }

  return { summary, error, loading, refresh, follow, reset }
})
