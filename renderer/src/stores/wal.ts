/**
 * The `wal` namespace's store: which WAL is open (a local node's or any directory on the host),
 * its segments, the page of records shown, and a verify run with its progress (stoppable).
 */
import { defineStore } from 'pinia'
import { ref, shallowRef } from 'vue'
import type { WalPage, WalSource, WalSummary, WalVerifyProgress } from '../../../contract'
import { errorText } from '../api/client'
import { useApi } from '../api/inject'

/** Records per page. */
export const WAL_PAGE = 200

export const useWalStore = defineStore('wal', () => {
  const api = useApi()
  const sources = ref<WalSource[]>([])
  const dir = ref('')
  const summary = shallowRef<WalSummary | null>(null)
  const segment = ref('')
  const page = shallowRef<WalPage | null>(null)
  const from = ref(0)
  const loading = ref(false)
  const error = ref<string | null>(null)
  const verify = shallowRef<WalVerifyProgress | null>(null)
  const verifying = ref(false)
  const verifyError = ref<string | null>(null)
  let stopVerify: (() => void) | null = null

  async function loadSources(): Promise<void> {
    try {
      sources.value = await api.call('wal/sources')
      if (!dir.value && sources.value[0]) await openDir(sources.value[0].dir)
    } catch (err) {
      error.value = errorText(err)
    }
  }

  /** Each open and page request is numbered; answers to older ones are dropped. */
  let asks = 0

  async function openDir(path: string): Promise<void> {
    const mine = ++asks
    cancelVerify()
    verify.value = null
    dir.value = path
    loading.value = true
    error.value = null
    try {
      const next = await api.call('wal/open', { dir: path })
      if (mine !== asks) return
      summary.value = next
      const last = next.segments.at(-1)
      if (last) await openSegment(last.name)
    } catch (err) {
      if (mine !== asks) return
      summary.value = null
      page.value = null
      error.value = errorText(err)
    } finally {
      if (mine === asks) loading.value = false
    }
  }

  async function openSegment(name: string, at = 0): Promise<void> {
    if (!summary.value) return
    const mine = ++asks
    segment.value = name
    from.value = at
    try {
      const next = await api.call('wal/records', {
        dir: summary.value.dir,
        segment: name,
        from: at,
        limit: WAL_PAGE,
      })
      if (mine !== asks) return
      page.value = next
      error.value = null
    } catch (err) {
      error.value = errorText(err)
    }
  }

  function turn(delta: number): void {
    const total = page.value?.total ?? 0
    const next = Math.max(0, Math.min(from.value + delta * WAL_PAGE, Math.max(0, total - 1)))
    void openSegment(segment.value, next - (next % WAL_PAGE))
  }

  function startVerify(): void {
    if (!summary.value) return
    cancelVerify()
    verifying.value = true
    verifyError.value = null
    verify.value = null
    stopVerify = api.subscribe('wal/verify', [{ dir: summary.value.dir }], {
      event(p) {
        verify.value = p
        if (p.done) {
          verifying.value = false
          stopVerify?.()
          stopVerify = null
        }
      },
      error(err) {
        verifyError.value = errorText(err)
        verifying.value = false
        stopVerify = null
      },
    })
  }

  function cancelVerify(): void {
    stopVerify?.()
    stopVerify = null
    verifying.value = false
  }

  return {
    sources,
    dir,
    summary,
    segment,
    page,
    from,
    loading,
    error,
    verify,
    verifying,
    verifyError,
    loadSources,
    openDir,
    openSegment,
    turn,
    startVerify,
    cancelVerify,
  }
})
