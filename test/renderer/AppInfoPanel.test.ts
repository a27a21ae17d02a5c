import { flushPromises, mount } from '@vue/test-utils'
import { createPinia } from 'pinia'
import { createAppI18n } from '../../renderer/src/i18n'
import { describe, expect, it } from 'vitest'
import type { AppInfo, RaftdeskBridge } from '../../contract'
import { createApiClient } from '../../renderer/src/api/client'
import { apiKey } from '../../renderer/src/api/inject'
import AppInfoPanel from '../../renderer/src/components/AppInfoPanel.vue'

const info: AppInfo = {
  name: 'raftdesk',
  version: '1.2.3',
  platform: 'linux',
  host: 'web',
  dataDir: '/home/ada/.config/raftdesk',
  versions: { node: '20.0.0' },
}

function mountWith(calls: Pick<RaftdeskBridge, 'invoke'> | undefined) {
  const bridge: RaftdeskBridge | undefined = calls && { ...calls, subscribe: () => () => {} }
  return mount(AppInfoPanel, {
    global: {
      plugins: [createPinia(), createAppI18n('en')],
      provide: { [apiKey as symbol]: createApiClient(bridge) },
    },
  })
}

describe('AppInfoPanel', () => {
  it('shows version, platform and data directory from app/info', async () => {
    const calls: string[] = []
    const wrapper = mountWith({
      invoke: (async (channel: string) => {
        calls.push(channel)
        return { ok: true, value: info }
      }) as RaftdeskBridge['invoke'],
    })
    await flushPromises()
    expect(calls).toEqual(['app/info'])
    expect(wrapper.get('[data-test=version]').text()).toBe('1.2.3')
    expect(wrapper.get('[data-test=platform]').text()).toBe('linux (web)')
    expect(wrapper.get('[data-test=data-dir]').text()).toBe('/home/ada/.config/raftdesk')
  })

  it('shows a refusal as an alert with its message', async () => {
    const wrapper = mountWith({
      invoke: (async () => ({
        ok: false,
        error: { name: 'ForbiddenError', code: 'UNTRUSTED_SENDER', message: 'refused' },
      })) as RaftdeskBridge['invoke'],
    })
    await flushPromises()
    expect(wrapper.get('[role=alert]').text()).toBe('refused')
  })

  it('says so when there is no bridge at all', async () => {
    const wrapper = mountWith(undefined)
    await flushPromises()
    expect(wrapper.get('[role=alert]').text()).toMatch(/not available/)
  })
})
