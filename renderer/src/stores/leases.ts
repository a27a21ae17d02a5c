/**
 * The `leases` namespace's store: the connection's leases, refreshed while someone looks, with
 * the time each was read so the view counts down between refreshes.
 */
import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { LeaseInfo } from '../../../contract'
import { errorText } from '../api/client'
import { useApi } from '../api/inject'
import { useConnectionsStore } from './connections'

export const LEASES_EVERY_MS = 5_000

export const useLeasesStore = defineStore('leases', () => {
  const api = useApi()
  const connections = useConnectionsStore()
  const leases = ref<LeaseInfo[]>([])
  /** Leases the cluster holds (more than listed past the server's bound). */
  const total = ref(0)
  const readAtMs = ref(0)
  const loading = ref(false)
  const error = ref<string | null>(null)
  const message = ref<string | null>(null)

  async function refresh(): Promise<void> {
    loading.value = leases.value.length === 0
    try {
      const list = await api.call('leases/list', { conn: connections.current })
      leases.value = list.leases
      total.value = list.total
      readAtMs.value = Date.now()
      error.value = null
    } catch (err) {
      error.value = errorText(err)
    } finally {
      loading.value = false
    }
  }

  async function act(fn: () => Promise<unknown>): Promise<void> {
    message.value = null
    try {
      await fn()
    } catch (err) {
      message.value = errorText(err)
    }
    await refresh()
  }

  const grant = (ttl: number) =>
    act(() => api.call('leases/grant', { conn: connections.current, ttl }))
  const revoke = (id: string) =>
    act(() => api.call('leases/revoke', { conn: connections.current, id }))
  const keepAlive = (id: string) =>
    act(() => api.call('leases/keepAlive', { conn: connections.current, id }))

  return { leases, total, readAtMs, loading, error, message, refresh, grant, revoke, keepAlive }
})
