// A partition drawn by hand: nodes dragged (or clicked, the keyboard's way) into groups, applied
// as one partition action with the non-empty groups; one group alone is not a partition.
import { flushPromises } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import type { RaftClusterView } from '../../contract'
import PartitionPanel from '../../renderer/src/features/raft/PartitionPanel.vue'
import { useRaftStore } from '../../renderer/src/stores/raft'
import { mountWithHost } from './fake-host'

const node = (name: string) => ({ name, process: 'running', raft: { role: 'follower' } })

describe('PartitionPanel', () => {
  it('moves nodes between groups by drag or click and applies the groups as one partition', async () => {
    const { w, calls } = mountWithHost(PartitionPanel, {}, {}, () => {
      useRaftStore().cluster = {
        leader: 'n1',
        nodes: ['n1', 'n2', 'n3', 'n4', 'n5'].map(node),
      } as unknown as RaftClusterView
    })
    const apply = w.find<HTMLButtonElement>('[data-test=partition-apply]')
    expect(w.findAll('[data-test=group-1] .chip')).toHaveLength(5)
    expect(apply.element.disabled).toBe(true)

    // Drag n4 and n5 into group 2, as the browser does it: the name travels in dataTransfer.
    for (const name of ['n4', 'n5']) {
      const data = new Map<string, string>()
      const dataTransfer = {
        setData: (k: string, v: string) => data.set(k, v),
        getData: (k: string) => data.get(k) ?? '',
        effectAllowed: '',
      }
      await w.find(`[data-test=chip-${name}]`).trigger('dragstart', { dataTransfer })
      await w.find('[data-test=group-2]').trigger('drop', { dataTransfer })
    }
    // Click n3 twice: group 2, then group 3.
    await w.find('[data-test=chip-n3]').trigger('click')
    await w.find('[data-test=chip-n3]').trigger('click')
    const names = (g: number) => w.findAll(`[data-test=group-${g}] .chip`).map((c) => c.text())
    expect([names(1), names(2), names(3)]).toEqual([['n1', 'n2'], ['n4', 'n5'], ['n3']])

    await apply.trigger('click')
    await flushPromises()
    // What was cut before is healed first: the drawn partition is the whole picture.
    expect(calls.filter(([c]) => c === 'raft/act').map(([, a]) => a[0])).toEqual([
      { type: 'heal' },
      { type: 'partition', groups: [['n1', 'n2'], ['n4', 'n5'], ['n3']] },
    ])
    await w.find('[data-test=partition-reset]').trigger('click')
    expect(names(1)).toHaveLength(5)
    expect(apply.element.disabled).toBe(true)
    w.unmount()
  })
})
