// The startup banner: each node's state while the host's cluster comes up, asked again until it
// is ready (then gone) or failed (then the reason, as an alert).
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia } from 'pinia'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { RaftdeskBridge, StartupStatus } from '../../contract'
import { createApiClient } from '../../renderer/src/api/client'
import { apiKey } from '../../renderer/src/api/inject'
import StartupBanner from '../../renderer/src/components/StartupBanner.vue'
import { createAppI18n } from '../../renderer/src/i18n'

function mountWith(answers: StartupStatus[]) {
  let i = 0
  const bridge: RaftdeskBridge = {
    invoke: (async () => ({
      ok: true,
      value: answers[Math.min(i++, answers.length - 1)],
    })) as RaftdeskBridge['invoke'],
    subscribe: () => () => {},
  }
  return mount(StartupBanner, {
    global: {
      plugins: [createPinia(), createAppI18n('en')],
      provide: { [apiKey as symbol]: createApiClient(bridge) },
    },
  })
}

describe('StartupBanner', () => {
  afterEach(() => vi.useRealTimers())

  it('shows the nodes while starting, and goes once the cluster is ready', async () => {
    vi.useFakeTimers()
    const w = mountWith([
      {
        state: 'starting',
        nodes: [
          { name: 'n1', state: 'running' },
          { name: 'n2', state: 'starting' },
        ],
      },
      { state: 'ready', nodes: [] },
    ])
    await flushPromises()
    expect(w.get('[data-test=startup]').text()).toMatch(
      /Starting the local cluster…\s*n1 running\s*n2 starting/,
    )
    await vi.advanceTimersByTimeAsync(300)
    await flushPromises()
    expect(w.find('[data-test=startup]').exists()).toBe(false)
  })

  it('says why the cluster failed, as an alert', async () => {
    const w = mountWith([
      { state: 'failed', nodes: [], error: 'port 2379 on 127.0.0.1 is in use by another program' },
    ])
    await flushPromises()
    expect(w.get('[data-test=startup]').attributes('role')).toBe('alert')
    expect(w.get('[data-test=startup-error]').text()).toContain('port 2379')
  })
})
