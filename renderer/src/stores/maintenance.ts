/**
 * The `maintenance` namespace's store: the current connection's space, alarms and compaction
 * point, and the actions on them. Every action refreshes the overview when it is done.
 */
import { defineStore } from 'pinia'
import { ref, shallowRef } from 'vue'
import type { HashCheck, MaintenanceOverview } from '../../../contract'
import { errorText } from '../api/client'
import { useApi } from '../api/inject'
import { useConnectionsStore } from './connections'

export const useMaintenanceStore = defineStore('maintenance', () => {
  const api = useApi()
  const connections = useConnectionsStore()
  const overview = shallowRef<MaintenanceOverview | null>(null)
  const hash = shallowRef<HashCheck | null>(null)
  const error = ref<string | null>(null)
  const busy = ref<string | null>(null)
  const done = ref<string | null>(null)

  async function refresh(): Promise<void> {
    const conn = connections.current
    try {
      const next = await api.call('maintenance/overview', { conn })
      if (conn !== connections.current) return
      overview.value = next
      error.value = null
    } catch (err) {
      error.value = errorText(err)
    }
  }

  async function run(label: string, work: () => Promise<string>): Promise<void> {
    busy.value = label
    error.value = null
    done.value = null
    try {
      done.value = await work()
      await refresh()
    } catch (err) {
      error.value = errorText(err)
    } finally {
      busy.value = null
    }
  }

  const conn = () => connections.current

  return {
    overview,
    hash,
    error,
    busy,
    done,
    refresh,
    reset(): void {
      overview.value = null
      hash.value = null
      done.value = null
      void refresh()
    },
    compact: (label: string, revision: number, confirm: string | undefined, said: string) =>
      run(label, async () => {
        await api.call('maintenance/compact', {
          conn: conn(),
          revision,
          physical: true,
          ...(confirm ? { confirm } : {}),
        })
        return said
      }),
    defragment: (label: string, member: string, said: (before: number, after: number) => string) =>
      run(label, async () => {
        const r = await api.call('maintenance/defragment', { conn: conn(), member })
        return said(r.beforeBytes, r.afterBytes)
      }),
    disarm: (label: string, memberId: string, alarm: 'NOSPACE' | 'CORRUPT', said: string) =>
      run(label, async () => {
        await api.call('maintenance/disarm', { conn: conn(), memberId, alarm })
        return said
      }),
    checkHashes: (label: string) =>
      run(label, async () => {
        hash.value = await api.call('maintenance/hashCheck', { conn: conn() })
        return ''
      }),
  }
})
