// The WAL inspector's services: a raftdesk WAL read page by page with its entries decoded; verify
// flags a flipped byte as corruption and a cut tail as torn; a real etcd 3.4 member's
// member/wal read the same way (etcd-dump-logs in a window).
import { spawnSync } from 'node:child_process'
import { cp, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { WalVerifyProgress } from '../../../contract'
import { createWal } from '../../../node-core/wal'
import { encodeRequest } from '../../../node-core/server/request-codec'
import { createWalHandlers, createWalTopics, openWalDir } from '../../../node-core/services/wal'
import { startEtcdCluster } from '../../helpers/etcd'
import { etcdctl } from '../api/harness'

const enc = new TextEncoder()
const wal = createWalHandlers(undefined)

function verify(dir: string): Promise<WalVerifyProgress> {
  return new Promise((resolve, reject) => {
    let last: WalVerifyProgress | null = null
    void createWalTopics()['wal/verify'](
      { dir },
      {
        emit: (p) => {
          last = p
          if (p.done) resolve(p)
        },
        fail: reject,
        drained: () => Promise.resolve(),
      },
    )
    setTimeout(() => reject(new Error(`verify never finished: ${JSON.stringify(last)}`)), 10_000)
  })
}

describe('WAL inspector over a raftdesk WAL', () => {
  let root: string
  let walDir: string
  let segment: string

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'raftdesk-walview-'))
    walDir = join(root, 'wal')
    const w = await createWal(walDir, enc.encode('node 1'))
    const entries = Array.from({ length: 30 }, (_, i) => ({
      index: i + 1,
      term: 2,
      type: 'normal' as const,
      data: encodeRequest({
        id: i + 1,
        op: { type: 'put', put: { key: enc.encode(`k${i}`), value: enc.encode(`v${i}`) } },
      }),
    }))
    await w.save({ term: 2, vote: 1, commit: 30 }, entries)
    await w.close()
    segment = (await openWalDir(root)).segments[0]!.name
  })
  afterAll(async () => {
    await rm(root, { recursive: true, force: true })
  })

  it('finds the segments from the node directory and reads them a page at a time', async () => {
    const summary = await wal['wal/open']({ dir: root })
    expect(summary).toMatchObject({ dir: walDir, format: 'raftdesk' })
    const page = await wal['wal/records']({ dir: root, segment, from: 0, limit: 5 })
    expect(page.records.map((r) => r.type)).toEqual([
      'crc',
      'metadata',
      'hardState',
      'entry',
      'entry',
    ])
    const next = await wal['wal/records']({ dir: root, segment, from: 3, limit: 500 })
    expect(next.records.slice(0, 2).map((r) => r.op)).toEqual([
      'put "k0" = "v0"',
      'put "k1" = "v1"',
    ])
    expect(next.total).toBe(page.total)
    // The batch's hard state follows its entries.
    expect(next.records.at(-2)).toMatchObject({ type: 'entry', index: 30, term: 2, crcOk: true })
    expect(next.records.at(-1)).toMatchObject({ type: 'hardState', term: 2, vote: '1', commit: 30 })
    expect((await verify(root)).problems).toEqual([])
  })

  it('flags a flipped byte as corruption, and a cut tail as torn', async () => {
    const path = join(walDir, segment)
    const original = await readFile(path)
    const page = await wal['wal/records']({ dir: root, segment, from: 20, limit: 1 })
    const damaged = Buffer.from(original)
    const at = page.records[0]!.offset + 20
    damaged[at] = damaged[at]! ^ 0xff
    await writeFile(path, damaged)
    const bad = await verify(root)
    expect(bad.problems).toHaveLength(1)
    expect(bad.problems[0]).toMatchObject({ segment, offset: page.records[0]!.offset, torn: false })
    expect(bad.problems[0]!.reason).toMatch(/crc/)
    const after = await wal['wal/records']({ dir: root, segment, from: 0, limit: 500 })
    expect(after.damage?.offset).toBe(page.records[0]!.offset)
    expect(after.total).toBe(20)

    await writeFile(path, original)
    await truncate(path, (await stat(path)).size - 5)
    const cut = await verify(root)
    expect(cut.problems).toHaveLength(1)
    expect(cut.problems[0]!.torn).toBe(true)
    await writeFile(path, original)
  })

  it('says clearly when a directory holds no WAL', async () => {
    await expect(wal['wal/open']({ dir: tmpdir() + '/nothing-here' })).rejects.toThrow(
      /no WAL segments \(\*\.wal\) in/,
    )
  })
})

const etcdInstalled = spawnSync('etcd', ['--version']).status === 0
describe.runIf(etcdInstalled || process.env['CI'] === 'true')('WAL inspector over etcd 3.4', () => {
  it('reads a real etcd member’s member/wal with its requests decoded', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'raftdesk-etcdwal-'))
    const etcd = await startEtcdCluster({ dir, nodes: 1 })
    try {
      await etcd.leader()
      const endpoint = etcd.endpoints.get('e1')!
      expect((await etcdctl(endpoint, ['put', 'config/a', '{"x":1}'])).code).toBe(0)
      expect((await etcdctl(endpoint, ['del', 'config/a'])).code).toBe(0)
      await etcd.stop()
      const summary = await wal['wal/open']({ dir: join(dir, 'e1') })
      expect(summary.format).toBe('etcd')
      expect(summary.dir).toBe(join(dir, 'e1', 'member', 'wal'))
      const page = await wal['wal/records']({
        dir: summary.dir,
        segment: summary.segments[0]!.name,
        from: 0,
        limit: 500,
      })
      const ops = page.records.filter((r) => r.type === 'entry').map((r) => r.op)
      expect(ops).toContain('put "config/a" = "{\\"x\\":1}"')
      expect(ops).toContain('delete "config/a"')
      expect(ops.some((o) => o?.startsWith('addVoter'))).toBe(true)
      expect(page.records.every((r) => r.crcOk)).toBe(true)
      expect((await verify(summary.dir)).problems).toEqual([])
      // A flipped byte in the put's record is corruption, named at that record's offset.
      const put = page.records.find((r) => r.op?.startsWith('put "config/a"'))!
      const copy = join(dir, 'damaged')
      await cp(summary.dir, copy, { recursive: true })
      const file = join(copy, summary.segments[0]!.name)
      const bytes = await readFile(file)
      bytes[put.offset + put.bytes - 12]! ^= 0xff
      await writeFile(file, bytes)
      const bad = await verify(copy)
      expect(bad.problems).toHaveLength(1)
      expect(bad.problems[0]).toMatchObject({ offset: put.offset, torn: false })
    } finally {
      await etcd.stop().catch(() => undefined)
      await rm(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
