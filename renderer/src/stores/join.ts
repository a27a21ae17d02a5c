/**
 * The `join` namespace's store: this machine's members of other raftdesk clusters, live while a
 * view shows them, the actions on them, and the local cluster's invite. An invite link the
 * operating system handed the app waits here (`pendingLink`) until the join dialog takes it.
 */
import { defineStore } from 'pinia'
import { ref, shallowRef } from 'vue'
import type { JoinForm, JoinInvite, JoinedMember } from '../../../contract'
import { errorText } from '../api/client'
import { useApi } from '../api/inject'

export const useJoinStore = defineStore('join', () => {
  const api = useApi()
  const members = shallowRef<JoinedMember[]>([])
  /** The member an action runs on now, and the last action's failure. */
  const busy = ref<string | null>(null)
  const actionError = ref<string | null>(null)
  const pendingLink = ref<string | null>(null)
  let close: (() => void) | null = null
  let watchers = 0

  /** Follows the members while at least one view shows them. */
  function watch(): () => void {
    if (watchers++ === 0) {
      close = api.subscribe('join/live', [], {
        event(list) {
          members.value = list
        },
        error(err) {
          actionError.value = errorText(err)
        },
      })
    }
    return () => {
      if (--watchers === 0) {
        close?.()
        close = null
      }
    }
  }

  /** Joins; throws the refusal for the dialog to show (the form keeps what was typed). */
  async function join(form: JoinForm): Promise<JoinedMember> {
    const member = await api.call('join/start', form)
    members.value = [...members.value.filter((m) => m.name !== member.name), member]
    return member
  }

  async function act(type: 'promote' | 'leave' | 'retry', name: string): Promise<boolean> {
    busy.value = name
    actionError.value = null
    try {
      await api.call(`join/${type}`, { name })
      if (type === 'leave') members.value = members.value.filter((m) => m.name !== name)
      return true
    } catch (err) {
      actionError.value = errorText(err)
      return false
    } finally {
      busy.value = null
    }
  }

  function invite(): Promise<JoinInvite> {
    return api.call('join/invite')
  }

  return { members, busy, actionError, pendingLink, watch, join, act, invite }
})
