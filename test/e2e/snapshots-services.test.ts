// The snapshot services: a node's snapshot files listed with their membership and verified
// (a damaged copy named as such); a cluster's backend saved to a file with progress, for
// raftdesk (the file `raftdesk serve --restore` reads) and for a real etcd 3.4 (checked by
// `etcdctl snapshot status`); an existing file refused.
import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SnapshotSaveProgress } from '../../contract'
import { openSavedSnapshot } from '../../node-core/server/saved-snapshot'
import { Connections } from '../../node-core/services/connections'
import { createSnapshotHandlers, createSnapshotTopics } from '../../node-core/services/snapshots'
import { startTestCluster, type TestCluster } from '../helpers/cluster'
import { startEtcdCluster } from '../helpers/etcd'

const etcdInstalled = spawnSync('etcd', ['--version']).status === 0
const snaps = createSnapshotHandlers()

function save(conns: Connections, conn: string, path: string): Promise<SnapshotSaveProgress[]> {
  return new Promise((resolve, reject) => {
    const got: SnapshotSaveProgress[] = []
    Promise.resolve(
      createSnapshotTopics(conns)['snapshots/save'](
        { conn, path },
        {
          emit: (p) => {
            got.push(p)
            if (p.done) resolve(got)
          },
          fail: reject,
          drained: () => Promise.resolve(),
        },
      ),
    ).catch(reject)
  })
}

describe('snapshots over raftdesk', () => {
  let tc: TestCluster
  const conns = new Connections()
  const out = mkdtempSync(join(tmpdir(), 'raftdesk-snapsave-'))
  beforeAll(async () => {
    tc = await startTestCluster()
    await tc.cluster.waitForLeader()
    conns.add({ id: 'c', name: 'c', endpoints: [...tc.endpoints.values()] })
    const { client } = await conns.use('c')
    for (let i = 0; i < 200; i++) await client.put(`s/${i}`).value('v'.repeat(100))
  }, 60_000)
  afterAll(async () => {
    conns.closeAll()
    await tc?.dispose()
    rmSync(out, { recursive: true, force: true })
  })

  it('lists a snapshot taken now with its membership, and verifies it; a damaged copy fails', async () => {
    const index = await tc.cluster.snapshot('n1')
    const list = await snaps['snapshots/list']({ dir: tc.cluster.info('n1').dataDir })
    const s = list.snapshots.find((x) => x.index === index)!
    expect(s.voters).toHaveLength(3)
    expect(s.fileBytes).toBeGreaterThan(s.imageBytes)
    expect((await snaps['snapshots/verify']({ dir: list.dir, name: s.name })).index).toBe(index)
    const copy = mkdtempSync(join(tmpdir(), 'raftdesk-snapcopy-'))
    try {
      cpSync(list.dir, copy, { recursive: true })
      const bytes = readFileSync(join(copy, s.name))
      bytes[Math.floor(bytes.length / 2)]! ^= 0xff
      writeFileSync(join(copy, s.name), bytes)
      await expect(snaps['snapshots/verify']({ dir: copy, name: s.name })).rejects.toThrow(
        /crc|CRC|checksum/,
      )
    } finally {
      rmSync(copy, { recursive: true, force: true })
    }
  })

  it('browses the keys a snapshot holds at its revision, paged under a prefix', async () => {
    const { client } = await conns.use('c')
    await client.put('s/7').value('seven, again')
    await client.delete().key('s/8')
    const lease = await client.lease(60, { autoKeepAlive: false }).grant()
    await client.put('k/leased').value('x').lease(lease)
    const index = await tc.cluster.snapshot('n1')
    // Changes after the snapshot are not in it.
    await client.put('s/9').value('later')
    const dir = tc.cluster.info('n1').dataDir
    const name = (await snaps['snapshots/list']({ dir })).snapshots.find(
      (x) => x.index === index,
    )!.name
    const enc = (t: string) => new TextEncoder().encode(t)
    const dec = (b: Uint8Array) => new TextDecoder().decode(b)
    const first = await snaps['snapshots/keys']({ dir, name, prefix: enc('s/'), limit: 50 })
    expect(first.total).toBe(199) // s/0..s/199 less s/8
    expect(first.keys).toHaveLength(50)
    expect(first.more).toBe(true)
    expect(first.consistentIndex).toBeLessThanOrEqual(index)
    const names = first.keys.map((k) => dec(k.key))
    expect(names.slice(0, 3)).toEqual(['s/0', 's/1', 's/10'])
    // Key order, then the page after the last key.
    const all: string[] = [...names]
    let page = first
    while (page.more) {
      page = await snaps['snapshots/keys']({
        dir,
        name,
        prefix: enc('s/'),
        after: page.keys.at(-1)!.key,
        limit: 50,
      })
      all.push(...page.keys.map((k) => dec(k.key)))
    }
    expect(all).toHaveLength(199)
    expect(all).not.toContain('s/8')
    expect([...all].sort()).toEqual(all)
    const seven = (await snaps['snapshots/keys']({ dir, name, prefix: enc('s/7'), limit: 1 }))
      .keys[0]!
    expect(dec(seven.value)).toBe('seven, again')
    expect(seven.version).toBe(2)
    expect(seven.modRevision).toBeGreaterThan(seven.createRevision)
    const leased = (await snaps['snapshots/keys']({ dir, name, prefix: enc('k/'), limit: 5 }))
      .keys[0]!
    expect(leased.lease).toBe(BigInt(lease).toString(16))
    const later = await snaps['snapshots/keys']({ dir, name, prefix: enc('s/9'), limit: 5 })
    expect(dec(later.keys.find((k) => dec(k.key) === 's/9')!.value)).toBe('v'.repeat(100))
  })

  it('saves the backend to a file with progress; the file is what --restore reads', async () => {
    const path = join(out, 'backup.db')
    const got = await save(conns, 'c', path)
    const last = got.at(-1)!
    expect(last).toMatchObject({ path, done: true })
    expect(last.bytes).toBe(readFileSync(path).byteLength)
    expect(readdirSync(out)).toEqual(['backup.db'])
    await openSavedSnapshot(path) // throws on a wrong checksum or size
    await expect(save(conns, 'c', path)).rejects.toThrow(/exists; choose another name/)
  })
})

describe.runIf(etcdInstalled || process.env['CI'] === 'true')('snapshots over etcd 3.4', () => {
  it('saves a real etcd backend that etcdctl snapshot status accepts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'raftdesk-etcd-snap-'))
    const etcd = await startEtcdCluster({ dir, nodes: 1 })
    const conns = new Connections()
    try {
      await etcd.leader()
      conns.add({ id: 'e', name: 'e', endpoints: [...etcd.endpoints.values()] })
      const { client } = await conns.use('e')
      await client.put('hello').value('world')
      const path = join(dir, 'etcd.db')
      const got = await save(conns, 'e', path)
      expect(got.at(-1)!.done).toBe(true)
      const status = spawnSync('etcdctl', ['snapshot', 'status', path, '-w', 'json'], {
        env: { ...process.env, ETCDCTL_API: '3' },
        encoding: 'utf8',
      })
      expect(status.status).toBe(0)
      expect(JSON.parse(status.stdout).totalKey).toBeGreaterThan(0)
    } finally {
      conns.closeAll()
      await etcd.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
