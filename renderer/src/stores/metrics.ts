/**
 * The Prometheus readings of the current connection's members (`cluster/metrics`), kept for
 * fifteen minutes while the Cluster view shows them; another connection starts them over.
 */
import { defineStore } from 'pinia'
import { ref, shallowRef } from 'vue'
import type { MetricsSample } from '../../../contract'
import { errorText } from '../api/client'
import { useApi } from '../api/inject'

/** Readings kept: fifteen minutes at one every two seconds. */
export const METRICS_KEPT = 450

export const useMetricsStore = defineStore('metrics', () => {
  const api = useApi()
  const samples = shallowRef<MetricsSample[]>([])
  const error = ref<string | null>(null)
  let close: (() => void) | null = null
  let following = ''

  /** Reads `conn`'s members until stop(); a call for another connection starts over. */
  function follow(conn: string): void {
    if (following === conn && close) return
    stop()
    following = conn
    samples.value = []
    error.value = null
    close = api.subscribe('cluster/metrics', [{ conn }], {
      event(s) {
        const next = samples.value.concat(s)
        samples.value = next.length > METRICS_KEPT ? next.slice(-METRICS_KEPT) : next
      },
      error(err) {
        error.value = errorText(err)
        close = null
      },
    })
  }

  function stop(): void {
    close?.()
    close = null
    following = ''
  }

  return { samples, error, follow, stop }
})
