/**
 * Watching a key or a prefix live (the `kv/watch` topic): the events in arrival order, bounded
 * (the oldest go first), with pause (events keep arriving and are held, counted) and clear.
 * With `notify` on, events that arrive while the window is in the background raise one desktop
 * notification per batch (not one per event: a busy prefix must not flood the desktop).
 */
import { defineStore } from 'pinia'
import { ref, shallowRef } from 'vue'
import type { WatchEvent } from '../../../contract'
import { errorText } from '../api/client'
import { useApi } from '../api/inject'
import { displayBytes, utf8 } from '../lib/bytes'

/** Events kept on screen; older ones are dropped (and counted). */
export const WATCH_EVENTS_KEPT = 10_000

export interface SeenEvent extends WatchEvent {
  seq: number
  atMs: number
}

export const useWatchStore = defineStore('watch', () => {
  const api = useApi()
  const key = ref('')
  const prefix = ref(true)
  const running = ref(false)
  const paused = ref(false)
  const error = ref<string | null>(null)
  const events = shallowRef<SeenEvent[]>([])
  /** Events that arrived while paused, shown on resume. */
  const held = shallowRef<SeenEvent[]>([])
  /** Events dropped: by the server while the window was behind, or beyond WATCH_EVENTS_KEPT. */
  const skipped = ref(0)
  /** Raise a desktop notification for events that arrive while the window is not in front. */
  const notify = ref(false)
  let seq = 0
  let close: (() => void) | null = null

  function add(list: SeenEvent[]): void {
    const all = events.value.concat(list)
    const over = all.length - WATCH_EVENTS_KEPT
    if (over > 0) skipped.value += over
    events.value = over > 0 ? all.slice(over) : all
  }

  function start(conn = 'local'): void {
    stop()
    error.value = null
    running.value = true
    paused.value = false
    close = api.subscribe('kv/watch', [{ conn, key: utf8(key.value), prefix: prefix.value }], {
      event(batch) {
        skipped.value += batch.skipped
        const now = Date.now()
        const list = batch.events.map((e) => ({ ...e, seq: ++seq, atMs: now }))
        if (paused.value) held.value = held.value.concat(list)
        else add(list)
        if (notify.value && list.length > 0) tell(list)
      },
      error(err) {
        error.value = errorText(err)
        running.value = false
        close = null
      },
    })
  }

  /** One notification for a batch, if the window is not the one the person is looking at. */
  function tell(list: SeenEvent[]): void {
    if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return
    if (!document.hidden && document.hasFocus()) return
    const first = list[0]!
    new Notification(`raftdesk: ${list.length === 1 ? '1 change' : `${list.length} changes`}`, {
      body: `${first.type} ${displayBytes(first.key)}${list.length > 1 ? ' …' : ''}`,
      tag: 'raftdesk-watch',
    })
  }

  /** Turns notifications on (asking the system first) or off; false if they were refused. */
  async function setNotify(on: boolean): Promise<boolean> {
    if (on && typeof Notification !== 'undefined' && Notification.permission !== 'granted') {
      const answer = await Notification.requestPermission()
      if (answer !== 'granted') {
        notify.value = false
        return false
      }
    }
    notify.value = on && typeof Notification !== 'undefined'
    return notify.value === on
  }

  function stop(): void {
    close?.()
    close = null
    running.value = false
  }

  function togglePause(): void {
    paused.value = !paused.value
    if (!paused.value && held.value.length > 0) {
      add(held.value)
      held.value = []
    }
  }

  function clear(): void {
    events.value = []
    held.value = []
    skipped.value = 0
  }

  return {
    key,
    prefix,
    running,
    paused,
    error,
    events,
    held,
    skipped,
    start,
    stop,
    togglePause,
    clear,
    notify,
    setNotify,
  }
})
