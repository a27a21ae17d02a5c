// The log view: every node's entries aligned by index, newest first, each in its state's class;
// an entry whose term differs from the leader's at that index flagged as a conflict; a node that
// did not answer named in its column; Older asks for the window before the newest.
import { flushPromises } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import type { LogEntryView, LogSlice, RaftClusterView } from '../../contract'
import RaftLog from '../../renderer/src/features/raft/RaftLog.vue'
import { LOG_WINDOW, useRaftStore } from '../../renderer/src/stores/raft'
import { mountWithHost } from './fake-host'

const entry = (index: number, term: number, state: LogEntryView['state']): LogEntryView => ({
  index,
  term,
  type: 'normal',
  op: `put "k${index}" = "v"`,
  bytes: 20,
  state,
})
const slice = (node: string, entries: LogEntryView[], error?: string): LogSlice => ({
  node,
  firstIndex: 1,
  lastIndex: Math.max(0, ...entries.map((e) => e.index)),
  stableIndex: 0,
  commit: 0,
  applied: 0,
  entries,
  ...(error ? { error } : {}),
})

describe('RaftLog', () => {
  it('aligns the nodes by index, colours by state, flags conflicts and pages back', async () => {
    const n1 = slice('n1', [
      entry(300, 4, 'unstable'),
      entry(299, 4, 'committed'),
      entry(298, 3, 'applied'),
    ])
    // n2 led in term 3 while cut off: its 299 is not the leader's.
    const n2 = slice('n2', [entry(299, 3, 'stable'), entry(298, 3, 'applied')])
    const n3 = slice('n3', [], 'n3 is crashed')
    const { w, calls, pinia } = mountWithHost(RaftLog, { 'raft/log': () => [n1, n2, n3] })
    const raft = useRaftStore(pinia)
    raft.cluster = { leader: 'n1', nodes: [] } as unknown as RaftClusterView
    await flushPromises()

    const rows = w.findAll('tbody tr')
    expect(rows.map((r) => r.attributes('data-test'))).toEqual([
      'log-row-300',
      'log-row-299',
      'log-row-298',
    ])
    const row299 = w.find('[data-test=log-row-299]')
    const [c1, c2, c3] = row299.findAll('td').slice(1)
    expect(c1!.classes()).toContain('committed')
    expect(c1!.text()).toContain('put "k299" = "v"')
    expect(c2!.classes()).toEqual(expect.arrayContaining(['stable', 'conflict']))
    expect(c2!.text()).toContain('conflict')
    expect(c3!.classes()).toContain('none')
    expect(w.find('[data-test=log-row-300] td:nth-child(3)').classes()).toContain('none')
    expect(w.find('[data-test=log-head-n3]').text()).toContain('n3 is crashed')
    expect(w.find('[data-test=log-row-298] td:nth-child(2)').classes()).not.toContain('conflict')

    expect(calls.filter(([c]) => c === 'raft/log')[0]![1]).toEqual([
      { to: 0, limit: LOG_WINDOW, source: 'local' },
    ])
    await w.find('[data-test=log-older]').trigger('click')
    await flushPromises()
    const last = calls.filter(([c]) => c === 'raft/log').at(-1)![1] as [{ to: number }]
    expect(last[0].to).toBe(Math.max(Math.min(LOG_WINDOW, 300), 300 - LOG_WINDOW))
    w.unmount()
  })
})
