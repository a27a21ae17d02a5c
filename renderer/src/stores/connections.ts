/**
 * The `connections` namespace's store: the clusters this window can work with and the one it
 * works with now (remembered). Switching tells the other stores through `current`.
 */
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { ConnectionCheck, ConnectionInfo, NewConnection } from '../../../contract'
import { errorText } from '../api/client'
import { useApi } from '../api/inject'

const KEY = 'raftdesk.connection'

export const useConnectionsStore = defineStore('connections', () => {
  const api = useApi()
  const list = ref<ConnectionInfo[]>([])
  const error = ref<string | null>(null)
  const current = ref<string>(readCurrent())

  const active = computed(() => list.value.find((c) => c.id === current.value) ?? null)

  async function load(): Promise<void> {
    try {
      list.value = await api.call('connections/list')
      error.value = null
      if (!list.value.some((c) => c.id === current.value) && list.value[0]) {
        select(list.value[0].id)
      }
    } catch (err) {
      error.value = errorText(err)
    }
  }

  function select(id: string): void {
    current.value = id
    try {
      localStorage.setItem(KEY, id)
    } catch {
      // the choice lasts this session
    }
  }

  async function add(n: NewConnection): Promise<ConnectionInfo> {
    const info = await api.call('connections/add', n)
    await load()
    return info
  }

  async function remove(id: string): Promise<void> {
    await api.call('connections/remove', { id })
    await load()
  }

  function test(n: NewConnection): Promise<ConnectionCheck> {
    return api.call('connections/test', n)
  }

  return { list, error, current, active, load, select, add, remove, test }
})

function readCurrent(): string {
  try {
    return localStorage.getItem(KEY) ?? 'local'
  } catch {
    return 'local'
  }
}
