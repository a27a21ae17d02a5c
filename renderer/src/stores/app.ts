import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { AppInfo } from '../../../contract'
import { useApi } from '../api/inject'

export const useAppStore = defineStore('app', () => {
  const api = useApi()
  const info = ref<AppInfo | null>(null)
  const error = ref<string | null>(null)
  const loading = ref(false)

  async function load() {
    loading.value = true
    error.value = null
    try {
      info.value = await api.call('app/info')
    } catch (err) {
      error.value = err instanceof Error ? err.message : String(err)
    } finally {
      loading.value = false
    }
  }

  return { info, error, loading, load }
})
