// The maintenance services against a real raftdesk cluster and a real etcd 3.4, with the same
// calls: sizes per member, compaction (refused on a production connection unless confirmed),
// defragmentation, alarms raised and disarmed, and a hash check across members.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Connections } from '../../node-core/services/connections'
import { createMaintenanceHandlers } from '../../node-core/services/maintenance'
import { startTestCluster, type TestCluster } from '../helpers/cluster'
import { startEtcdCluster, type EtcdCluster } from '../helpers/etcd'

const etcdInstalled = spawnSync('etcd', ['--version']).status === 0

function suite(
  name: string,
  start: () => Promise<{ endpoints: string[]; stop: () => Promise<void> }>,
) {
  describe(name, () => {
    const conns = new Connections()
    const m = createMaintenanceHandlers(conns)
    let stop: () => Promise<void>
    beforeAll(async () => {
      const c = await start()
      stop = c.stop
      conns.add({ id: 'c', name: 'cluster', endpoints: c.endpoints })
      conns.add({ id: 'prod', name: 'prod', endpoints: c.endpoints, production: true })
      const { client } = await conns.use('c')
      for (let i = 0; i < 50; i++) await client.put(`m/${i % 5}`).value('x'.repeat(200))
    }, 60_000)
    afterAll(async () => {
      conns.closeAll()
      await stop?.()
    })

    it('lists every member’s database size and the revision', async () => {
      const o = await m['maintenance/overview']({ conn: 'c' })
      expect(o.members.length).toBeGreaterThanOrEqual(1)
      for (const s of o.members) {
        expect(s.healthy).toBe(true)
        expect(s.dbSizeBytes).toBeGreaterThan(0)
        expect(s.dbSizeInUseBytes).toBeLessThanOrEqual(s.dbSizeBytes)
      }
      expect(o.members.filter((s) => s.isLeader)).toHaveLength(1)
      expect(o.revision).toBeGreaterThanOrEqual(51)
      expect(o.quotaBytes).toBe(2 * 1024 ** 3)
    })

    it('compacts to a revision (a production connection wants it typed), then hashes agree', async () => {
      const before = await m['maintenance/overview']({ conn: 'c' })
      const rev = before.revision - 10
      await expect(
        m['maintenance/compact']({ conn: 'prod', revision: rev, physical: true }),
      ).rejects.toThrow(/type \d+ to confirm the compaction/)
      await m['maintenance/compact']({
        conn: 'prod',
        revision: rev,
        physical: true,
        confirm: String(rev),
      })
      const after = await m['maintenance/overview']({ conn: 'c' })
      expect(after.compactRevision).toBe(rev)
      const h = await m['maintenance/hashCheck']({ conn: 'c' })
      expect(h.consistent).toBe(true)
      expect(h.members.every((x) => x.hash && x.compactRevision === rev)).toBe(true)
    })

    it('defragments a member and shows a raised alarm until it is disarmed', async () => {
      const o = await m['maintenance/overview']({ conn: 'c' })
      const target = o.members[0]!
      const d = await m['maintenance/defragment']({ conn: 'c', member: target.id })
      expect(d.afterBytes).toBeGreaterThan(0)
      const { client } = await conns.use('c')
      await client.maintenance.alarm({
        action: 'Activate',
        memberID: BigInt(`0x${target.id}`).toString(),
        alarm: 'Nospace',
      })
      await expect
        .poll(async () => (await m['maintenance/overview']({ conn: 'c' })).alarms)
        .toEqual([{ memberId: target.id, member: target.name, alarm: 'NOSPACE' }])
      await m['maintenance/disarm']({ conn: 'c', memberId: target.id, alarm: 'NOSPACE' })
      await expect
        .poll(async () => (await m['maintenance/overview']({ conn: 'c' })).alarms)
        .toEqual([])
    })
  })
}

suite('maintenance over raftdesk', async () => {
  const tc: TestCluster = await startTestCluster()
  await tc.cluster.waitForLeader()
  return { endpoints: [...tc.endpoints.values()], stop: () => tc.dispose() }
})

if (etcdInstalled || process.env['CI'] === 'true') {
  suite('maintenance over etcd 3.4', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'raftdesk-etcd-maint-'))
    const etcd: EtcdCluster = await startEtcdCluster({ dir, nodes: 3 })
    await etcd.leader()
    return {
      endpoints: [...etcd.endpoints.values()],
      stop: async () => {
        await etcd.stop()
        rmSync(dir, { recursive: true, force: true })
      },
    }
  })
}
