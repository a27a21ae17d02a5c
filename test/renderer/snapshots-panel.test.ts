// The snapshots tab: a node's snapshot files with the membership named, verify per file (a good
// one marked, a bad one saying why), take one now (the list read again), and a save of the
// cluster to a file with progress that ends with the --restore command.
import { flushPromises } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import type { RaftClusterView, SnapshotFileView } from '../../contract'
import SnapshotsPanel from '../../renderer/src/features/raft/SnapshotsPanel.vue'
import { useConnectionsStore } from '../../renderer/src/stores/connections'
import { useRaftStore } from '../../renderer/src/stores/raft'
import { mountWithHost } from './fake-host'

const file = (index: number): SnapshotFileView => ({
  name: `0000000000000002-${index.toString(16).padStart(16, '0')}.snap`,
  term: 2,
  index,
  fileBytes: 4096,
  imageBytes: 4000,
  voters: ['b2', 'a1'],
  learners: [],
  atMs: 0,
})

describe('SnapshotsPanel', () => {
  it('lists, verifies, takes and saves snapshots', async () => {
    let lists = 0
    const { w, calls, emit } = mountWithHost(
      SnapshotsPanel,
      {
        'snapshots/list': ([a]) => {
          lists++
          return { dir: (a as { dir: string }).dir, snapshots: [file(200), file(100)] }
        },
        'snapshots/verify': ([a]) => {
          const name = (a as { name: string }).name
          if (name === file(100).name) throw new Error('checksum mismatch at byte 812')
          return file(200)
        },
      },
      {},
      () => {
        useRaftStore().cluster = {
          leader: 'n1',
          nodes: [
            { name: 'n1', id: 'a1', dataDir: '/data/cluster/n1', process: 'running' },
            { name: 'n2', id: 'b2', dataDir: '/data/cluster/n2', process: 'crashed' },
          ],
        } as unknown as RaftClusterView
        useConnectionsStore().current = 'local'
      },
    )
    await flushPromises()
    expect(calls.find(([c]) => c === 'snapshots/list')![1]).toEqual([{ dir: '/data/cluster/n1' }])
    const rows = w.findAll('[data-test=snap-row]')
    expect(rows.map((r) => r.find('[data-test=snap-index]').text())).toEqual(['200', '100'])
    expect(rows[0]!.text()).toContain('n1, n2')

    await rows[0]!.find('[data-test=snap-verify]').trigger('click')
    await rows[1]!.find('[data-test=snap-verify]').trigger('click')
    await flushPromises()
    expect(rows[0]!.find('[data-test=snap-ok]').exists()).toBe(true)
    expect(rows[1]!.text()).toContain('checksum mismatch at byte 812')

    await w.find('[data-test=snap-take]').trigger('click')
    await flushPromises()
    expect(calls.find(([c]) => c === 'raft/act')![1]).toEqual([
      { type: 'snapshot', node: 'n1' },
      { source: 'local' },
    ])
    expect(lists).toBe(2)

    const path = w.find<HTMLInputElement>('[data-test=snap-path]')
    expect(path.element.value).toMatch(/^\/data\/cluster\/snapshot-\d{8}-\d{6}\.db$/)
    await path.setValue('/backups/today.db')
    await w.find('form').trigger('submit')
    expect(calls.at(-1)).toEqual(['snapshots/save', [{ conn: 'local', path: '/backups/today.db' }]])
    emit('snapshots/save', { path: '/backups/today.db', bytes: 512, totalBytes: 2048, done: false })
    await flushPromises()
    expect(w.find('.save [role=progressbar]').attributes('aria-valuenow')).toBe('25')
    expect(w.find('[data-test=snap-cancel]').exists()).toBe(true)
    emit('snapshots/save', { path: '/backups/today.db', bytes: 2048, totalBytes: 2048, done: true })
    await flushPromises()
    expect(w.find('[data-test=snap-saved]').text()).toContain(
      'npm run serve -- --restore /backups/today.db --data-dir NEW_DIR',
    )
    // A node that does not run cannot take one; its files are still listed.
    await w.find('[data-test=snap-node]').setValue('n2')
    await flushPromises()
    expect(w.find<HTMLButtonElement>('[data-test=snap-take]').element.disabled).toBe(true)
    expect(calls.filter(([c]) => c === 'snapshots/list').at(-1)![1]).toEqual([
      { dir: '/data/cluster/n2' },
    ])
    w.unmount()
  })
})
