/**
 * The `raft` namespace's store: the local cluster live (the `raft/live` topic), the events it
 * recorded, each node's log over a window of indexes, and the levers (`raft/act`).
 *
 * Live updates arrive at most about ten times a second (the server coalesces, topics.ts merges
 * while the window is behind); the store keeps only the newest cluster view and a bounded list
 * of events, so a busy cluster cannot grow the window's memory.
 */
import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import type {
  LogSlice,
  RaftAction,
  RaftClusterView,
  RaftEvent,
  RaftSample,
  RaftSourceInfo,
} from '../../../contract'
import { errorText } from '../api/client'
import { useApi } from '../api/inject'

/** Events kept in the window (the newest). */
export const RAFT_EVENTS_KEPT = 2_000
/** Once-a-second samples kept (fifteen minutes, what the host records). */
export const RAFT_SAMPLES_KEPT = 900
/** Entries per node the log view asks for. */
export const LOG_WINDOW = 40

export const useRaftStore = defineStore('raft', () => {
  const api = useApi()
  const available = ref<boolean | null>(null)
  const cluster = shallowRef<RaftClusterView | null>(null)
  const events = shallowRef<RaftEvent[]>([])
  const samples = shallowRef<RaftSample[]>([])
  const error = ref<string | null>(null)
  /** The action running now (its label), and the last one's failure. */
  const busy = ref<string | null>(null)
  const actionError = ref<string | null>(null)
  const logs = shallowRef<LogSlice[]>([])
  const logError = ref<string | null>(null)
  /** The last index the log view shows; 0 follows the newest. */
  const logTo = ref(0)
  const updates = ref(0)
  /** Which cluster the views show: 'local', or one this machine joined ('joined:<name>'). */
  const source = ref('local')
  const sources = shallowRef<RaftSourceInfo[]>([])
  let close: (() => void) | null = null
  let followers = 0

  function addEvents(list: RaftEvent[]): void {
    if (list.length === 0) return
    const all = events.value.concat(list)
    events.value = all.length > RAFT_EVENTS_KEPT ? all.slice(-RAFT_EVENTS_KEPT) : all
  }

  /** The clusters to pick from (the local one, and those this machine joined). */
  async function loadSources(): Promise<void> {
    try {
      sources.value = await api.call('raft/sources')
    } catch {
      sources.value = []
    }
  }

  async function open(): Promise<void> {
    try {
      const local = await api.call('raft/available')
      await loadSources()
      available.value = local || sources.value.length > 0
      if (!local && source.value === 'local' && sources.value[0]) source.value = sources.value[0].id
    } catch (err) {
      available.value = false
      error.value = errorText(err)
      return
    }
    if (!available.value || followers === 0 || close) return
    let first = true
    close = api.subscribe('raft/live', [{ source: source.value }], {
      event(live) {
        cluster.value = live.cluster
        // The first message carries the whole recorded history: it replaces what we had.
        if (first) events.value = live.events.slice(-RAFT_EVENTS_KEPT)
        else addEvents(live.events)
        if (first || live.samples.length > 0) {
          const all = (first ? [] : samples.value).concat(live.samples)
          samples.value = all.length > RAFT_SAMPLES_KEPT ? all.slice(-RAFT_SAMPLES_KEPT) : all
        }
        first = false
        error.value = null
        updates.value++
      },
      error(err) {
        error.value = errorText(err)
        close = null
        // The cluster elsewhere went away (its member here left): back to the local one.
        if (source.value !== 'local') setSource('local')
      },
    })
  }

  /** Keeps the cluster live until the returned function is called. */
  function follow(): () => void {
    followers++
    if (followers === 1) void open()
    return () => {
      followers--
      if (followers === 0) {
        close?.()
        close = null
      }
    }
  }

  async function act(action: RaftAction, label: string): Promise<boolean> {
    busy.value = label
    actionError.value = null
    try {
      await api.call('raft/act', action, { source: source.value })
      return true
    } catch (err) {
      actionError.value = errorText(err)
      return false
    } finally {
      busy.value = null
    }
  }

  let logLoading = false

  /**
   * Asks for the log window; a poll while an answer is still coming is skipped, and an answer
   * for a window the person has scrolled away from meanwhile is dropped.
   */
  async function loadLog(poll = false): Promise<void> {
    if (poll && logLoading) return
    const to = logTo.value
    const from = source.value
    logLoading = true
    try {
      const next = await api.call('raft/log', { to, limit: LOG_WINDOW, source: from })
      // Scrolled elsewhere, or another cluster shown meanwhile: not the log asked for now.
      if (to !== logTo.value || from !== source.value) return
      logs.value = next
      logError.value = null
    } catch (err) {
      if (to === logTo.value) logError.value = errorText(err)
    } finally {
      logLoading = false
    }
  }

  /** Moves the log window by `delta` entries (negative: older); back to 0 follows the tail. */
  function scrollLog(delta: number): void {
    const newest = Math.max(0, ...logs.value.map((l) => l.lastIndex))
    const at = logTo.value === 0 ? newest : logTo.value
    const next = Math.max(Math.min(LOG_WINDOW, newest), at + delta)
    logTo.value = next >= newest ? 0 : next
    void loadLog()
  }

  const leader = computed(() => cluster.value?.nodes.find((n) => n.name === cluster.value?.leader))

  /** Shows another cluster: the live stream, events and log start over for it. */
  function setSource(id: string): void {
    if (id === source.value) return
    source.value = id
    cluster.value = null
    events.value = []
    samples.value = []
    logs.value = []
    logTo.value = 0
    actionError.value = null
    close?.()
    close = null
    if (followers > 0) void open()
  }

  return {
    available,
    source,
    sources,
    setSource,
    loadSources,
    cluster,
    events,
    samples,
    error,
    busy,
    actionError,
    logs,
    logError,
    logTo,
    updates,
    leader,
    follow,
    act,
    loadLog,
    scrollLog,
  }
})
