/**
 * Searching the keyspace (the `kv/search` topic): one search at a time, its progress and the
 * matches as they arrive. Starting another, or cancelling, closes the topic, which stops the
 * server's scan.
 */
import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import type { SearchArgs, SearchMatch } from '../../../contract'
import { errorText } from '../api/client'
import { useApi } from '../api/inject'

export type SearchState = 'idle' | 'running' | 'done' | 'cancelled' | 'failed'

export const useSearchStore = defineStore('search', () => {
  const api = useApi()
  const state = ref<SearchState>('idle')
  const query = ref('')
  const target = ref<SearchArgs['target']>('keys')
  const mode = ref<SearchArgs['mode']>('substring')
  const scanned = ref(0)
  const total = ref(0)
  const truncated = ref(false)
  const error = ref<string | null>(null)
  const matches = shallowRef<SearchMatch[]>([])
  let close: (() => void) | null = null

  const percent = computed(() =>
    total.value === 0
      ? state.value === 'done'
        ? 100
        : 0
      : Math.min(100, (100 * scanned.value) / total.value),
  )

  function start(conn: string, prefix: Uint8Array): void {
    stop('cancelled')
    if (query.value.length === 0) return
    state.value = 'running'
    scanned.value = 0
    total.value = 0
    truncated.value = false
    error.value = null
    matches.value = []
    close = api.subscribe(
      'kv/search',
      [{ conn, prefix, query: query.value, mode: mode.value, target: target.value }],
      {
        event(p) {
          scanned.value = p.scanned
          total.value = p.total
          truncated.value = p.truncated
          if (p.matches.length > 0) matches.value = matches.value.concat(p.matches)
          if (p.done) {
            state.value = 'done'
            close?.()
            close = null
          }
        },
        error(err) {
          state.value = 'failed'
          error.value = errorText(err)
          close = null
        },
      },
    )
  }

  function stop(next: SearchState = 'cancelled'): void {
    if (close) {
      close()
      close = null
      if (state.value === 'running') state.value = next
    }
  }

  /** Leaves the results and goes back to the tree. */
  function clear(): void {
    stop()
    state.value = 'idle'
    matches.value = []
    error.value = null
  }

  return {
    state,
    query,
    target,
    mode,
    scanned,
    total,
    truncated,
    error,
    matches,
    percent,
    start,
    stop,
    clear,
  }
})
