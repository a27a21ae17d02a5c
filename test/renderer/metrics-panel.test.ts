// The metrics panel: each member's latest reading in the table (no leader and failed proposals
// marked), a member without /metrics named on its row, one sentence when none serves metrics,
// charts only once three readings are in, and a new stream for another connection.
import { flushPromises } from '@vue/test-utils'
import { describe, expect, it, vi } from 'vitest'
import type { MemberMetrics, MetricsSample } from '../../contract'
import MetricsPanel from '../../renderer/src/features/cluster/MetricsPanel.vue'
import { useConnectionsStore } from '../../renderer/src/stores/connections'
import { mountWithHost } from './fake-host'

// uPlot needs a canvas; the panel's logic is what is tested here.
vi.mock('../../renderer/src/components/TimeChart.vue', () => ({
  default: {
    name: 'TimeChart',
    props: ['title', 'unit', 'series', 'data', 'theme'],
    template: '<figure class="chart-stub">{{ title }}</figure>',
  },
}))

const member = (name: string, over: Partial<MemberMetrics> = {}): MemberMetrics => ({
  name,
  endpoint: `${name}:2379`,
  hasLeader: 1,
  leaderChanges: 1,
  proposalsCommitted: 100,
  proposalsApplied: 100,
  proposalsPending: 0,
  proposalsFailed: 0,
  peerRtt: null,
  walFsync: null,
  ...over,
})
const sample = (atMs: number, members: MemberMetrics[]): MetricsSample => ({ atMs, members })

describe('MetricsPanel', () => {
  it('shows the latest readings, marks trouble, and charts after three readings', async () => {
    const { w, calls, emit, closed } = mountWithHost(MetricsPanel, {}, {}, () => {
      useConnectionsStore().current = 'etcd'
    })
    expect(calls).toEqual([['cluster/metrics', [{ conn: 'etcd' }]]])
    emit(
      'cluster/metrics',
      sample(1000, [
        member('e1', { hasLeader: 0, proposalsFailed: 3 }),
        member('e2', { error: 'cannot read http://e2:2379/metrics: ECONNREFUSED' }),
      ]),
    )
    await flushPromises()
    expect(w.find('[data-test=metrics-e1] [data-test=metrics-has-leader]').text()).toBe('no')
    expect(w.find('[data-test=metrics-e1] [data-test=metrics-has-leader]').classes()).toContain(
      'bad',
    )
    expect(w.find('[data-test=metrics-e2]').text()).toContain('ECONNREFUSED')
    expect(w.find('[data-test=metrics-collecting]').exists()).toBe(true)
    emit('cluster/metrics', sample(3000, [member('e1'), member('e2')]))
    emit('cluster/metrics', sample(5000, [member('e1'), member('e2')]))
    await flushPromises()
    expect(w.findAll('.chart-stub').map((c) => c.text())).toEqual([
      'Proposals committed per second',
      'Proposals pending',
      'Peer round trip p99',
      'WAL fsync p99',
    ])
    expect(w.find('[data-test=metrics-charts]').attributes('data-points')).toBe('2')

    // Another connection: the old stream closes, a new one starts empty.
    useConnectionsStore().current = 'local'
    await flushPromises()
    expect(closed).toEqual(['cluster/metrics'])
    expect(calls.at(-1)).toEqual(['cluster/metrics', [{ conn: 'local' }]])
    emit(
      'cluster/metrics',
      sample(7000, [member('n1', { error: 'no Prometheus metrics at http://n1:2379/metrics' })]),
    )
    await flushPromises()
    expect(w.find('[data-test=metrics-none]').text()).toContain('serve no Prometheus metrics')
    w.unmount()
  })
})
