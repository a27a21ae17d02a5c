// The events list: newest first, a vote's outcome and a fault in their tones, filtered by node
// and by kind.
import { describe, expect, it } from 'vitest'
import type { RaftClusterView, RaftEvent } from '../../contract'
import RaftEvents from '../../renderer/src/features/raft/RaftEvents.vue'
import { useRaftStore } from '../../renderer/src/stores/raft'
import { mountWithHost } from './fake-host'

const events: RaftEvent[] = [
  {
    seq: 1,
    atMs: 1000,
    node: 'n1',
    kind: 'role',
    term: 2,
    text: 'became candidate',
    detail: 'candidate',
  },
  {
    seq: 2,
    atMs: 1010,
    node: 'n2',
    kind: 'voted',
    term: 2,
    text: 'granted vote to n1',
    granted: true,
  },
  {
    seq: 3,
    atMs: 1020,
    node: 'n3',
    kind: 'voted',
    term: 2,
    text: 'refused vote to n1',
    granted: false,
  },
  {
    seq: 4,
    atMs: 1030,
    node: 'n1',
    kind: 'role',
    term: 2,
    text: 'became leader',
    detail: 'leader',
  },
  { seq: 5, atMs: 2000, node: 'n3', kind: 'fault', term: 2, text: 'killed (SIGKILL)' },
  { seq: 6, atMs: 2500, node: 'n1', kind: 'confChange', term: 2, text: 'added n4 as a learner' },
]

describe('RaftEvents', () => {
  it('lists newest first in tones, and filters by node and kind', async () => {
    const { w } = mountWithHost(RaftEvents, {}, {}, () => {
      const raft = useRaftStore()
      raft.cluster = {
        nodes: [{ name: 'n1' }, { name: 'n2' }, { name: 'n3' }],
      } as unknown as RaftClusterView
      raft.events = events
    })
    const texts = () => w.findAll('[data-test=event]').map((e) => e.text())
    expect(texts()[0]).toContain('added n4 as a learner')
    expect(texts().at(-1)).toContain('became candidate')
    const items = w.findAll('[data-test=event]')
    expect(items[1]!.classes()).toContain('fault')
    expect(items[2]!.classes()).toContain('role-leader')
    expect(items[3]!.classes()).toContain('refused')
    expect(items[4]!.classes()).toContain('granted')

    await w.find('[data-test=events-node]').setValue('n3')
    expect(texts()).toHaveLength(2)
    await w.find('[data-test=events-kind]').setValue('elections')
    expect(texts()).toEqual([expect.stringContaining('refused vote to n1')])
    await w.find('[data-test=events-node]').setValue('')
    await w.find('[data-test=events-kind]').setValue('membership')
    expect(texts()).toEqual([expect.stringContaining('added n4 as a learner')])
    w.unmount()
  })
})
