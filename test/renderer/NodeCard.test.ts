// A node's card: role, term and positions as the node reported them; the leader's followers
// with the one behind marked; the levers a running, a paused and a killed node offer, each
// emitted as an intent; a dead node's last known state kept and named.
import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import type { RaftNodeView } from '../../contract'
import NodeCard from '../../renderer/src/features/raft/NodeCard.vue'
import { createAppI18n } from '../../renderer/src/i18n'

const names = { a1: 'n1', b2: 'n2', c3: 'n3' }
function node(
  over: Partial<RaftNodeView> = {},
  raft: Partial<NonNullable<RaftNodeView['raft']>> = {},
): RaftNodeView {
  return {
    name: 'n1',
    id: 'a1',
    process: 'running',
    pid: 42,
    endpoint: '127.0.0.1:2379',
    peer: '127.0.0.1:2380',
    dataDir: '/d/n1',
    stale: false,
    cutTo: [],
    catchUp: null,
    raft: {
      role: 'leader',
      term: 7,
      vote: 'a1',
      leader: 'a1',
      firstIndex: 1,
      lastIndex: 120,
      stableIndex: 118,
      commit: 117,
      applied: 115,
      snapshotIndex: 0,
      revision: 90,
      compactRevision: 0,
      isLearner: false,
      walBytes: 2048,
      dbBytes: 4096,
      followers: [
        {
          id: 'b2',
          name: 'n2',
          match: 120,
          next: 121,
          state: 'replicate',
          inflight: 1,
          recentActive: true,
          isLearner: false,
          pendingSnapshot: 0,
          behind: 0,
        },
        {
          id: 'c3',
          name: 'n3',
          match: 100,
          next: 101,
          state: 'probe',
          inflight: 0,
          recentActive: false,
          isLearner: false,
          pendingSnapshot: 0,
          behind: 20,
        },
      ],
      electionElapsedTicks: 0,
      electionTimeoutTicks: 15,
      atMs: 0,
      ...raft,
    },
    ...over,
  }
}

const mountCard = (n: RaftNodeView, leader = 'n1') =>
  mount(NodeCard, {
    props: { node: n, leader, names, busy: false },
    global: { plugins: [createAppI18n('en')] },
  })

describe('NodeCard', () => {
  it('shows the leader with its positions and the follower that trails', () => {
    const w = mountCard(node())
    expect(w.find('[data-test=node-role]').text()).toBe('leader')
    expect(w.find('[data-test=node-term]').text()).toBe('term 7')
    expect(w.find('[data-test=node-last]').text()).toBe('120')
    expect(w.find('[data-test=node-commit]').text()).toBe('117')
    expect(w.find('[data-test=node-applied]').text()).toBe('115')
    expect(w.find('.ix.unstable .v').text()).toBe('2')
    const n3 = w.find('[data-test=follower-n3]')
    expect(n3.classes()).toContain('inactive')
    expect(n3.find('[data-test=follower-behind]').text()).toBe('20')
    // A leader is not offered to become leader or to campaign.
    expect(w.find('[data-test=act-transfer]').exists()).toBe(false)
    expect(w.find('[data-test=act-campaign]').exists()).toBe(false)
  })

  it('emits each lever of a running follower as an intent', async () => {
    const w = mountCard(
      node({ name: 'n2', id: 'b2' }, { role: 'follower', leader: 'a1', followers: [] }),
    )
    await w.find('[data-test=act-transfer]').trigger('click')
    await w.find('[data-test=act-campaign]').trigger('click')
    await w.find('[data-test=act-isolate]').trigger('click')
    await w.find('[data-test=act-kill]').trigger('click')
    const acts = w.emitted('act')!.map((e) => e[0])
    expect(acts).toEqual([
      { type: 'transfer', node: 'n2' },
      { type: 'campaign', node: 'n2' },
      { type: 'partition', groups: [['n2'], ['n1', 'n3']] },
      { type: 'kill', node: 'n2' },
    ])
    expect(w.find('[data-test=node-role]').text()).toBe('follower')
  })

  it('offers resume to a paused node and start to a killed one, keeping its last state', async () => {
    const paused = mountCard(
      node({ process: 'paused', stale: true }, { role: 'follower', followers: [] }),
    )
    expect(paused.find('[data-test=node-role]').text()).toBe('paused')
    expect(paused.find('[data-test=act-resume]').exists()).toBe(true)
    expect(paused.find('[data-test=act-pause]').exists()).toBe(false)
    const killed = mountCard(node({ process: 'crashed', stale: true, pid: null }))
    expect(killed.find('[data-test=node-role]').text()).toBe('down')
    expect(killed.find('[data-test=node-process]').text()).toContain('Killed or crashed')
    expect(killed.find('[data-test=node-process]').text()).toContain('last known state')
    expect(killed.classes()).toContain('stale')
    await killed.find('[data-test=act-start]').trigger('click')
    expect(killed.emitted('act')![0]![0]).toEqual({ type: 'start', node: 'n1' })
  })

  it('shows a learner catching up, offers promote instead of an election, and asks before removing', async () => {
    const learner = node(
      { name: 'n4', id: 'd4', catchUp: 0.456 },
      { role: 'learner', isLearner: true, leader: 'a1', followers: [] },
    )
    const w = mountCard(learner)
    expect(w.find('[data-test=node-catchup]').text()).toContain('45%')
    expect(w.find('[data-test=node-catchup] [role=progressbar]').attributes('aria-valuenow')).toBe(
      '45',
    )
    // A learner cannot vote: no campaign, no leadership.
    expect(w.find('[data-test=act-campaign]').exists()).toBe(false)
    expect(w.find('[data-test=act-transfer]').exists()).toBe(false)
    // Not yet primary: it trails; caught up, the promote button stands out.
    expect(w.find('[data-test=act-promote]').classes()).not.toContain('primary')
    expect(
      mountCard({ ...learner, catchUp: 0.95 })
        .find('[data-test=act-promote]')
        .classes(),
    ).toContain('primary')
    await w.find('[data-test=act-promote]').trigger('click')

    const answers = [false, true]
    const asked: string[] = []
    const confirm = window.confirm
    window.confirm = (text?: string) => {
      asked.push(String(text))
      return answers.shift()!
    }
    try {
      await w.find('[data-test=act-remove]').trigger('click')
      await w.find('[data-test=act-remove]').trigger('click')
    } finally {
      window.confirm = confirm
    }
    expect(asked[0]).toContain('Remove n4 from the cluster?')
    expect(w.emitted('act')!.map((e) => e[0])).toEqual([
      { type: 'promote', node: 'n4' },
      { type: 'remove', node: 'n4' },
    ])
    // A voter shows no catch-up and no promote.
    const voter = mountCard(node({ name: 'n2', id: 'b2' }, { role: 'follower', followers: [] }))
    expect(voter.find('[data-test=node-catchup]').exists()).toBe(false)
    expect(voter.find('[data-test=act-promote]').exists()).toBe(false)
  })

  it('offers only what a remote cluster allows: no process or link levers', () => {
    const w = mount(NodeCard, {
      props: {
        node: node({ name: 'n2', id: 'b2' }, { role: 'follower', leader: 'a1', followers: [] }),
        leader: 'n1',
        names,
        busy: false,
        remote: true,
      },
      global: { plugins: [createAppI18n('en')] },
    })
    const offered = w.findAll('.actions button').map((b) => b.attributes('data-test'))
    expect(offered).toEqual(['act-transfer', 'act-campaign', 'act-snapshot', 'act-remove'])
    const down = mount(NodeCard, {
      props: {
        node: node({ process: 'crashed', stale: true }),
        leader: 'n1',
        names,
        busy: false,
        remote: true,
      },
      global: { plugins: [createAppI18n('en')] },
    })
    expect(down.find('[data-test=act-start]').exists()).toBe(false)
  })

  it('names the links cut from the node, and an isolated one as such', () => {
    expect(
      mountCard(node({ cutTo: ['n3'] }))
        .find('[data-test=node-cut]')
        .text(),
    ).toBe('Links cut to n3')
    expect(
      mountCard(node({ cutTo: ['n2', 'n3'] }))
        .find('[data-test=node-cut]')
        .text(),
    ).toContain('Isolated')
  })
})
