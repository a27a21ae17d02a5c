/**
 * A window's host for component tests: calls answered by the given functions (a thrown error
 * crosses as the host's error), topics opened by the component fed from the test, and every
 * call recorded in order.
 */
import { mount } from '@vue/test-utils'
import { createPinia, type Pinia } from 'pinia'
import type { App, Component } from 'vue'
import type { RaftdeskBridge, TopicMessage } from '../../contract'
import { createApiClient } from '../../renderer/src/api/client'
import { provideApi } from '../../renderer/src/api/inject'
import { createAppI18n } from '../../renderer/src/i18n'

export function mountWithHost(
  component: Component,
  answers: Record<string, (args: unknown[]) => unknown> = {},
  props: Record<string, unknown> = {},
  /** Runs in the app's context before the component mounts (stores filled in advance). */
  prepare?: (pinia: Pinia) => void,
) {
  const calls: Array<[string, unknown[]]> = []
  const topics = new Map<string, (m: TopicMessage<unknown>) => void>()
  const closed: string[] = []
  const bridge = {
    invoke: async (channel: string, ...args: unknown[]) => {
      calls.push([channel, args])
      try {
        return { ok: true, value: (await answers[channel]?.(args)) ?? null }
      } catch (err) {
        return { ok: false, error: { name: 'Error', code: 'X', message: (err as Error).message } }
      }
    },
    subscribe: (topic: string, args: unknown[], l: (m: TopicMessage<unknown>) => void) => {
      calls.push([topic, args])
      topics.set(topic, l)
      return () => closed.push(topic)
    },
  } as unknown as RaftdeskBridge
  const pinia = createPinia()
  const w = mount(component, {
    props,
    attachTo: document.body,
    global: {
      plugins: [
        { install: (app: App) => provideApi(app, createApiClient(bridge)) },
        pinia,
        createAppI18n('en'),
        { install: (app: App) => app.runWithContext(() => prepare?.(pinia)) },
      ],
    },
  })
  /** Sends an event on a topic the component opened. */
  const emit = (topic: string, event: unknown) => {
    const l = topics.get(topic)
    if (!l) throw new Error(`${topic} is not open`)
    l({ type: 'event', event })
  }
  return { w, calls, emit, closed, pinia }
}
