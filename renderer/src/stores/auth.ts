/**
 * The `auth` namespace's store: who the current connection is logged in as and what that user
 * may touch (whoami), and for an administrator the users and roles (overview). A user that is
 * not root cannot read the overview: `denied` says so, and the view shows what it may do
 * instead. Every change re-reads both, so the view always shows the cluster's state.
 */
import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { AuthCalls, AuthOverview, WhoAmI } from '../../../contract'
import { ApiError, errorText } from '../api/client'
import { useApi } from '../api/inject'
import { useConnectionsStore } from './connections'

type Change = Exclude<keyof AuthCalls, 'auth/overview' | 'auth/whoami'>

export const useAuthStore = defineStore('auth', () => {
  const api = useApi()
  const connections = useConnectionsStore()
  const overview = ref<AuthOverview | null>(null)
  const me = ref<WhoAmI | null>(null)
  const loading = ref(false)
  /** The overview was refused: this user may not manage users and roles. */
  const denied = ref(false)
  const error = ref<string | null>(null)
  /** The outcome of the last change, failed or not. */
  const message = ref<{ kind: 'ok' | 'error'; text: string } | null>(null)

  async function refresh(): Promise<void> {
    const conn = connections.current
    loading.value = overview.value === null && me.value === null
    try {
      me.value = await api.call('auth/whoami', { conn })
      error.value = null
    } catch (err) {
      me.value = null
      error.value = errorText(err)
    }
    try {
      overview.value = await api.call('auth/overview', { conn })
      denied.value = false
    } catch (err) {
      overview.value = null
      denied.value = err instanceof ApiError && err.code === 'PERMISSION_DENIED'
      if (!denied.value && error.value === null) error.value = errorText(err)
    } finally {
      loading.value = false
    }
  }

  /** Makes one change, then re-reads; `done` is the sentence shown when it worked. */
  async function change<C extends Change>(
    channel: C,
    args: Omit<AuthCalls[C]['args'][0], 'conn'>,
    done: string,
  ): Promise<boolean> {
    try {
      const call = api.call as (c: C, a: unknown) => Promise<unknown>
      await call(channel, { ...args, conn: connections.current })
      message.value = { kind: 'ok', text: done }
      await refresh()
      return true
    } catch (err) {
      message.value = { kind: 'error', text: errorText(err) }
      return false
    }
  }

  return { overview, me, loading, denied, error, message, refresh, change }
})
