// The dashboard's header and timing: who leads and how many may fail, Add node refused when the
// cluster is full, the timing form checked before it is sent (and sent as one action), and a
// remote cluster offered none of the local levers.
import { flushPromises } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import type { RaftClusterView } from '../../contract'
import RaftDashboard from '../../renderer/src/features/raft/RaftDashboard.vue'
import { useRaftStore } from '../../renderer/src/stores/raft'
import { mountWithHost } from './fake-host'

const view = (over: Partial<RaftClusterView> = {}): RaftClusterView => ({
  nodes: [],
  links: [],
  leader: 'n1',
  term: 4,
  voters: 3,
  quorum: 2,
  healthyVoters: 3,
  canFail: 1,
  timeouts: { electionMsMin: 150, electionMsMax: 300, heartbeatMs: 50 },
  maxMembers: 9,
  remote: false,
  atMs: 0,
  ...over,
})

const stubNode = (name: string): RaftClusterView['nodes'][number] => ({
  name,
  id: name,
  process: 'running',
  pid: 1,
  endpoint: '',
  peer: '',
  dataDir: '',
  raft: null,
  stale: false,
  cutTo: [],
  catchUp: null,
})

function mountDashboard(v: RaftClusterView) {
  return mountWithHost(RaftDashboard, { 'join/list': () => [] }, {}, () => {
    useRaftStore().cluster = v
  })
}

describe('RaftDashboard', () => {
  it('sums up the quorum, and checks the timing form before sending it', async () => {
    const { w, calls } = mountDashboard(view())
    expect(w.find('[data-test=leader-name]').text()).toBe('n1 leads in term 4')
    expect(w.find('[data-test=can-fail]').text()).toBe('can lose 1 more')
    expect(w.find('[data-test=timing-now]').text()).toBe('Election 150–300 ms · heartbeat 50 ms')

    await w.find('[data-test=timing-edit]').trigger('click')
    const apply = w.find<HTMLButtonElement>('[data-test=timing-apply]')
    await w.find('[data-test=timing-heartbeat]').setValue('200')
    expect(apply.element.disabled).toBe(true)
    expect(w.find('[data-test=timing-hint]').classes()).toContain('error')
    await w.find('[data-test=timing-heartbeat]').setValue('40')
    await w.find('[data-test=timing-max]').setValue('400')
    expect(apply.element.disabled).toBe(false)
    await w.find('[data-test=timing-form]').trigger('submit')
    await flushPromises()
    expect(calls.find(([c]) => c === 'raft/act')![1]).toEqual([
      { type: 'timeouts', electionMsMin: 150, electionMsMax: 400, heartbeatMs: 40 },
      { source: 'local' },
    ])
    // Sent and done: the form closes.
    expect(w.find('[data-test=timing-form]').exists()).toBe(false)
    w.unmount()
  })

  it('refuses Add node when the cluster is full or leaderless', () => {
    const full = mountDashboard(view({ maxMembers: 3, nodes: ['n1', 'n2', 'n3'].map(stubNode) }))
    expect(full.w.find<HTMLButtonElement>('[data-test=add-node]').element.disabled).toBe(true)
    expect(full.w.find('[data-test=add-node]').attributes('title')).toContain('at most 3 members')
    full.w.unmount()
    const leaderless = mountDashboard(view({ leader: '', canFail: -1 }))
    expect(leaderless.w.find<HTMLButtonElement>('[data-test=add-node]').element.disabled).toBe(true)
    expect(leaderless.w.find('[data-test=can-fail]').text()).toBe('writes stopped: no quorum')
    leaderless.w.unmount()
  })

  it('offers a remote cluster none of the local levers', () => {
    const { w } = mountDashboard(view({ remote: true }))
    expect(w.find('[data-test=remote-note]').exists()).toBe(true)
    for (const lever of ['add-node', 'heal', 'timing', 'links', 'partition', 'joined']) {
      expect(w.find(`[data-test=${lever}]`).exists(), lever).toBe(false)
    }
    w.unmount()
  })
})
