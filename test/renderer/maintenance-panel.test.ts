// The maintenance panel: each member's space against the quota, alarms with disarm, compaction
// that says what it removes and, on a production connection, runs only once the revision is
// typed; a hash check whose disagreement is said plainly.
import { flushPromises } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import type { ConnectionInfo, MaintenanceOverview } from '../../contract'
import MaintenancePanel from '../../renderer/src/features/cluster/MaintenancePanel.vue'
import { useConnectionsStore } from '../../renderer/src/stores/connections'
import { mountWithHost } from './fake-host'

const overview = (): MaintenanceOverview => ({
  revision: 120,
  compactRevision: 20,
  quotaBytes: 2 * 1024 ** 3,
  quotaKnown: false,
  members: [
    {
      id: 'a1',
      name: 'e1',
      endpoint: 'e1:2379',
      healthy: true,
      isLeader: true,
      dbSizeBytes: 4 << 20,
      dbSizeInUseBytes: 1 << 20,
    },
    {
      id: 'b2',
      name: 'e2',
      endpoint: 'e2:2379',
      healthy: false,
      isLeader: false,
      dbSizeBytes: 0,
      dbSizeInUseBytes: 0,
      error: 'e2:2379: deadline exceeded',
    },
  ],
  alarms: [{ memberId: 'a1', member: 'e1', alarm: 'NOSPACE' }],
})

describe('MaintenancePanel', () => {
  it('shows space and alarms, and compacts a production cluster only once confirmed', async () => {
    const { w, calls } = mountWithHost(
      MaintenancePanel,
      {
        'maintenance/overview': () => overview(),
        'maintenance/compact': () => ({ compactRevision: 100 }),
        'maintenance/disarm': () => null,
        'maintenance/hashCheck': () => ({
          revision: 120,
          consistent: false,
          members: [
            { id: 'a1', name: 'e1', hash: '1234' },
            { id: 'b2', name: 'e2', hash: '9999' },
          ],
        }),
      },
      {},
      () => {
        const c = useConnectionsStore()
        c.list = [
          { id: 'prod', name: 'prod', endpoints: [], production: true },
        ] as unknown as ConnectionInfo[]
        c.current = 'prod'
      },
    )
    await flushPromises()
    expect(w.find('[data-test=space-e1]').text()).toContain('1.0 MiB')
    expect(w.find('[data-test=space-e1]').text()).toContain('4.0 MiB')
    expect(w.find('[data-test=space-e2]').text()).toContain('deadline exceeded')
    expect(w.find('[data-test=space-e2] button').exists()).toBe(false)
    expect(w.find('[data-test=alarm]').text()).toContain('NOSPACE')

    const rev = w.find('[data-test=compact-revision]')
    expect((rev.element as HTMLInputElement).value).toBe('120')
    await rev.setValue(10)
    expect(w.find('[data-test=compact-removes]').text()).toContain('Already compacted to 20')
    await rev.setValue(100)
    expect(w.find('[data-test=compact-removes]').text()).toMatch(/21.*99/)
    const run = w.find<HTMLButtonElement>('[data-test=compact]')
    expect(run.element.disabled).toBe(true)
    await w.find('[data-test=compact-confirm]').setValue('10')
    expect(run.element.disabled).toBe(true)
    await w.find('[data-test=compact-confirm]').setValue('100')
    expect(run.element.disabled).toBe(false)
    await w.find('form.compact').trigger('submit')
    await flushPromises()
    expect(calls.find(([c]) => c === 'maintenance/compact')![1]).toEqual([
      { conn: 'prod', revision: 100, physical: true, confirm: '100' },
    ])

    await w.find('[data-test=disarm]').trigger('click')
    await flushPromises()
    expect(calls.find(([c]) => c === 'maintenance/disarm')![1]).toEqual([
      { conn: 'prod', memberId: 'a1', alarm: 'NOSPACE' },
    ])
    await w.find('[data-test=hash-check]').trigger('click')
    await flushPromises()
    expect(w.find('[data-test=hash-result]').text()).toContain('Members disagree at revision 120')
    w.unmount()
  })
})
