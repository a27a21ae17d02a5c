// The "other clusters" panel and the join dialog: a member's way from learner to voter as the
// host reports it, promote and leave (asked first) sent for the right member, an invite link
// filling the form, a malformed link named as such, and a refusal shown with the form kept.
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia } from 'pinia'
import { describe, expect, it } from 'vitest'
import type { App } from 'vue'
import type { JoinedMember, RaftdeskBridge, TopicMessage } from '../../contract'
import { createApiClient } from '../../renderer/src/api/client'
import { provideApi } from '../../renderer/src/api/inject'
import JoinedPanel from '../../renderer/src/features/join/JoinedPanel.vue'
import { createAppI18n } from '../../renderer/src/i18n'

const member = (over: Partial<JoinedMember>): JoinedMember => ({
  name: 'far-1',
  peer: '10.0.0.5:2380',
  clusterId: 'c1a',
  memberId: 'be7',
  endpoint: '127.0.0.1:3379',
  phase: 'caughtUp',
  catchUp: 0.995,
  applied: 995,
  clusterCommit: 1000,
  snapshotBytes: 2048,
  ...over,
})

function setup(answers: Record<string, (args: unknown[]) => unknown> = {}) {
  const calls: Array<[string, unknown[]]> = []
  let listener: ((m: TopicMessage<JoinedMember[]>) => void) | null = null
  const bridge = {
    invoke: async (channel: string, ...args: unknown[]) => {
      calls.push([channel, args])
      try {
        return { ok: true, value: answers[channel]?.(args) ?? null }
      } catch (err) {
        return { ok: false, error: { name: 'Error', code: 'X', message: (err as Error).message } }
      }
    },
    subscribe: (_t: string, _a: unknown, l: (m: TopicMessage<JoinedMember[]>) => void) => {
      listener = l
      return () => undefined
    },
  } as unknown as RaftdeskBridge
  const w = mount(JoinedPanel, {
    attachTo: document.body,
    global: {
      plugins: [
        { install: (app: App) => provideApi(app, createApiClient(bridge)) },
        createPinia(),
        createAppI18n('en'),
      ],
    },
  })
  const send = async (list: JoinedMember[]) => {
    listener!({ type: 'event', event: list })
    await flushPromises()
  }
  return { w, calls, send }
}

describe('JoinedPanel', () => {
  it('shows each member on its way to voter, and sends promote and leave for it', async () => {
    const { w, calls, send } = setup()
    expect(w.find('[data-test=joined-empty]').exists()).toBe(true)
    await send([member({}), member({ name: 'far-2', phase: 'voter', catchUp: 1 })])
    const learner = w.find('[data-test=joined-far-1]')
    expect(learner.find('[data-test=joined-phase]').text()).toBe(
      'learner · caught up, ready to promote',
    )
    expect(learner.find('[data-test=joined-progress]').text()).toContain(
      '995 of 1000 entries applied (99%)',
    )
    expect(learner.find('[data-test=joined-progress]').text()).toContain('snapshot 2.0 KiB')
    expect(learner.find('[data-test=joined-promote]').classes()).toContain('primary')
    const voter = w.find('[data-test=joined-far-2]')
    expect(voter.find('[data-test=joined-promote]').exists()).toBe(false)
    expect(voter.find('[data-test=joined-progress]').exists()).toBe(false)

    await learner.find('[data-test=joined-promote]').trigger('click')
    const confirm = window.confirm
    const asked: string[] = []
    window.confirm = (text?: string) => (asked.push(String(text)), asked.length > 1)
    try {
      await voter.find('[data-test=joined-leave]').trigger('click')
      await voter.find('[data-test=joined-leave]').trigger('click')
    } finally {
      window.confirm = confirm
    }
    await flushPromises()
    expect(asked[0]).toContain('Leave cluster c1a with far-2?')
    expect(calls.filter(([c]) => c !== 'join/invite')).toEqual([
      ['join/promote', [{ name: 'far-1' }]],
      ['join/leave', [{ name: 'far-2' }]],
    ])
    w.unmount()
  })

  it('fills the join form from an invite link, names a bad link, and keeps the form on a refusal', async () => {
    const { w, calls } = setup({
      'join/start': () => {
        throw new Error('10.0.0.5:2379 refused the token: it is not this cluster’s')
      },
    })
    await w.find('[data-test=join-open]').trigger('click')
    const dialog = w.find('[data-test=join-dialog]')
    expect(dialog.find<HTMLButtonElement>('[data-test=join-run]').element.disabled).toBe(true)
    await dialog.find('[data-test=join-link]').setValue('raftdesk://join?peer=nope&token=t')
    expect(dialog.find('[data-test=join-link-bad]').exists()).toBe(true)
    await dialog
      .find('[data-test=join-link]')
      .setValue('raftdesk://join?peer=10.0.0.5:2380&token=s3cret&cluster=c1a')
    const peer = dialog.find<HTMLInputElement>('[data-test=join-peer]')
    expect(peer.element.value).toBe('10.0.0.5:2380')
    expect(dialog.find<HTMLInputElement>('[data-test=join-token]').element.value).toBe('s3cret')
    expect(dialog.find('[data-test=join-link-ok]').text()).toContain('Cluster c1a')
    await dialog.find('[data-test=join-name]').setValue('far-1')
    await dialog.find('form').trigger('submit')
    await flushPromises()
    expect(calls.find(([c]) => c === 'join/start')![1]).toEqual([
      { peer: '10.0.0.5:2380', token: 's3cret', name: 'far-1', clusterId: 'c1a' },
    ])
    expect(dialog.find('[data-test=join-problem]').text()).toContain('refused the token')
    expect(peer.element.value).toBe('10.0.0.5:2380')
    expect(w.find('[data-test=join-dialog]').exists()).toBe(true)
    w.unmount()
  })
})
