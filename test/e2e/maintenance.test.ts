// etcdctl's maintenance commands against a cluster of real node processes: `snapshot save` writes
// a file that holds every key at one revision (checked by restoring it into a fresh store), and
// `defrag` gives back the space that deleted and compacted data took.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openStore } from '../../node-core/mvcc/store'
import { splitImage } from '../../node-core/server/image'
import { openSavedSnapshot } from '../../node-core/server/saved-snapshot'
import { startTestCluster, type TestCluster } from '../helpers/cluster'
import { etcdctl, etcdctlError, shouldRunEtcdTests } from '../node-core/api/harness'

let tc: TestCluster | null = null
let dir = ''
afterEach(async () => {
  await tc?.dispose()
  tc = null
  if (dir) rmSync(dir, { recursive: true, force: true })
  dir = ''
})

describe.runIf(shouldRunEtcdTests())('etcdctl maintenance on a raftdesk cluster', () => {
  it('saves a snapshot that holds every key and restores into a fresh store', async () => {
    tc = await startTestCluster()
    dir = mkdtempSync(join(tmpdir(), 'raftdesk-maint-'))
    await tc.cluster.waitForLeader()
    const client = tc.client('n2')
    for (let i = 0; i < 300; i++) await client.put(`snap/${String(i).padStart(3, '0')}`, `v${i}`)
    await client.delete('snap/000')
    const endpoint = tc.endpoints.get('n2')!
    const path = join(dir, 'backup.db')
    const saved = await etcdctl(endpoint, ['snapshot', 'save', path])
    expect([saved.code, saved.stdout.trim(), etcdctlError(saved)]).toEqual([
      0,
      `Snapshot saved at ${path}`,
      '',
    ])
    const { header, rest } = await splitImage(await openSavedSnapshot(path))
    expect(header.members.map((m) => m.name).sort()).toEqual(['n1', 'n2', 'n3'])
    const store = await openStore(join(dir, 'restored'))
    try {
      await store.restoreFromImage(rest, 1)
      const all = store.range({ key: Buffer.from('snap/'), rangeEnd: Buffer.from('snap0') })
      expect(all.count).toBe(299)
      expect(Buffer.from(all.kvs.at(-1)!.value).toString()).toBe('v299')
    } finally {
      await store.close()
    }
  })

  it('gives the same HashKV on every member, and another after a write', async () => {
    tc = await startTestCluster()
    await tc.cluster.waitForLeader()
    const client = tc.client('n1')
    for (let i = 0; i < 50; i++) await client.put(`hash/${i}`, `v${i}`)
    const endpoints = [...tc.endpoints.values()].join(',')
    const rev = String((await client.status()).header.revision)
    const hashes = async (at: string) => {
      // Every member has applied up to `at` once a linearizable read on each has returned.
      for (const name of tc!.cluster.names()) await tc!.client(name).get('hash/0')
      const r = await etcdctl(endpoints, ['endpoint', 'hashkv', '--rev', at, '-w', 'json'])
      expect(etcdctlError(r)).toBe('')
      return (JSON.parse(r.stdout) as { HashKV: { hash: number } }[]).map((e) => e.HashKV.hash)
    }
    const first = await hashes(rev)
    expect(new Set(first).size).toBe(1)
    await client.put('hash/0', 'changed')
    expect(await hashes(rev)).toEqual(first)
    const now = String((await client.status()).header.revision)
    const second = await hashes(now)
    expect(new Set(second).size).toBe(1)
    expect(second[0]).not.toBe(first[0])
  })

  it('defragments every member, and the size each reports shrinks', async () => {
    tc = await startTestCluster()
    await tc.cluster.waitForLeader()
    const client = tc.client('n1')
    const value = 'x'.repeat(2048)
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 200; i++) await client.put(`frag/${i}`, value)
    }
    await client.delete('frag/', { prefix: true })
    const endpoints = [...tc.endpoints.values()].join(',')
    const rev = (await client.status()).header.revision
    await etcdctl(tc.endpoints.get('n1')!, ['compaction', '--physical', String(rev)])
    const sizes = async () => {
      const r = await etcdctl(endpoints, ['endpoint', 'status', '-w', 'json'])
      return (JSON.parse(r.stdout) as { Status: { dbSize: number } }[]).map((e) => e.Status.dbSize)
    }
    const before = await sizes()
    const defrag = await etcdctl(endpoints, ['defrag'])
    expect(defrag.code).toBe(0)
    for (const e of tc.endpoints.values()) {
      expect(defrag.stdout).toContain(`Finished defragmenting etcd member[${e}]`)
    }
    const after = await sizes()
    console.log(`dbSize before defrag ${before.join(', ')}; after ${after.join(', ')}`)
    for (let i = 0; i < before.length; i++) expect(after[i]!).toBeLessThan(before[i]! / 2)
  })
})
