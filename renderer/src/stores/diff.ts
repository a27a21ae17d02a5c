/**
 * Comparing a prefix between two revisions (the `kv/diff` topic): one comparison at a time,
 * its progress and the changed keys as they arrive, and the two values of the change opened.
 * Closing the topic (Stop, another comparison) stops the server's scans.
 */
import { defineStore } from 'pinia'
import { ref, shallowRef } from 'vue'
import type { KeyChange, KeyDetail } from '../../../contract'
import { errorText } from '../api/client'
import { useApi } from '../api/inject'

export type DiffState = 'idle' | 'running' | 'done' | 'cancelled' | 'failed'

export const useDiffStore = defineStore('diff', () => {
  const api = useApi()
  const state = ref<DiffState>('idle')
  const scanned = ref(0)
  const truncated = ref(false)
  const error = ref<string | null>(null)
  const changes = shallowRef<KeyChange[]>([])
  const range = ref<{ from: number; to: number } | null>(null)
  /** The change opened, with its value at each revision (null where the key did not exist). */
  const opened = ref<{
    change: KeyChange
    before: KeyDetail | null
    after: KeyDetail | null
  } | null>(null)
  let close: (() => void) | null = null
  let conn = ''

  function start(
    connId: string,
    prefix: Uint8Array,
    fromRevision: number,
    toRevision: number,
  ): void {
    stop()
    conn = connId
    state.value = 'running'
    scanned.value = 0
    truncated.value = false
    error.value = null
    changes.value = []
    opened.value = null
    range.value = null
    close = api.subscribe('kv/diff', [{ conn, prefix, fromRevision, toRevision }], {
      event(p) {
        scanned.value = p.scanned
        truncated.value = p.truncated
        range.value = { from: p.fromRevision, to: p.toRevision }
        if (p.changes.length > 0) changes.value = changes.value.concat(p.changes)
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
    })
  }

  function stop(): void {
    if (!close) return
    close()
    close = null
    if (state.value === 'running') state.value = 'cancelled'
  }

  /** Reads the key at both revisions, for the value diff. */
  async function open(change: KeyChange): Promise<void> {
    const r = range.value
    if (!r) return
    const at = (revision: number) => api.call('kv/get', { conn, key: change.key, revision })
    try {
      const [before, after] = await Promise.all([
        change.kind === 'added' ? null : at(r.from),
        change.kind === 'removed' ? null : at(r.to),
      ])
      opened.value = { change, before, after }
    } catch (err) {
      error.value = errorText(err)
    }
  }

  function clear(): void {
    stop()
    state.value = 'idle'
    changes.value = []
    opened.value = null
    error.value = null
  }

  return { state, scanned, truncated, error, changes, range, opened, start, stop, open, clear }
})
