// The bulk/* services against a real raftdesk node: copy and move of prefixes with a preview
// that writes nothing, overwrite off keeping what differs, guarded pages that leave a concurrent
// writer's value alone, cancellation between pages, export in both formats, import batches,
// rename, and the refusals (read-only, production deletes without the typed key, overlapping
// prefixes, a move across connections).
import { Buffer } from 'node:buffer'
import type { KVClient } from 'etcd3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BulkProgress, ExportChunk, TopicMessage } from '../../../contract'
import {
  BATCH_KEYS,
  createBulkHandlers,
  createBulkTopics,
  writeBatch,
} from '../../../node-core/services/bulk'
import { Connections } from '../../../node-core/services/connections'
import { createKvHandlers } from '../../../node-core/services/kv'
import { openTopic, type TopicHandlers } from '../../../node-core/services/topics'
import { startTestCluster, type TestCluster } from '../../helpers/cluster'

const enc = (s: string) => new TextEncoder().encode(s)
const dec = (b: Uint8Array) => new TextDecoder().decode(b)

describe('bulk services', () => {
  let tc: TestCluster
  const conns = new Connections()
  const bulk = createBulkHandlers(conns)
  const kv = createKvHandlers(conns)
  const topics = createBulkTopics(conns) as unknown as TopicHandlers
  const client = () => conns.get('local').client

  /** Runs a topic to its end (or to `stopAfter` messages, then closes it); returns its events. */
  function run<E extends { done: boolean }>(
    topic: 'bulk/copy' | 'bulk/export',
    args: unknown,
    stopAfter = Infinity,
  ): Promise<E[]> {
    const got: E[] = []
    return new Promise((resolve, reject) => {
      const t = openTopic(topics, topic, [args], (m: TopicMessage<unknown>) => {
        if (m.type === 'error') return reject(new Error(`${m.error.code}: ${m.error.message}`))
        if (m.type !== 'event') return
        const e = m.event as E
        got.push(e)
        if (e.done || got.length >= stopAfter) {
          t.close()
          resolve(got)
        } else setTimeout(() => t.ack(), 0)
      })
    })
  }
  const copy = (args: Record<string, unknown>) =>
    run<BulkProgress>('bulk/copy', {
      overwrite: false,
      move: false,
      dryRun: false,
      ...args,
    })
  const ref = (prefix: string, conn = 'local') => ({ conn, prefix: enc(prefix) })
  async function values(prefix: string): Promise<Record<string, string>> {
    return client().getAll().prefix(prefix).strings()
  }

  beforeAll(async () => {
    tc = await startTestCluster({ nodes: 1 })
    await tc.cluster.waitForLeader()
    const endpoints = [...tc.endpoints.values()]
    conns.add({ id: 'local', name: 'local', endpoints })
    conns.add({ id: 'other', name: 'other', endpoints })
    conns.add({ id: 'ro', name: 'read only', endpoints, readOnly: true })
    conns.add({ id: 'prod', name: 'prod', endpoints, production: true })
    for (const k of ['a', 'b', 'c/d']) await client().put(`src/${k}`).value(`v-${k}`)
  }, 60_000)

  afterAll(async () => {
    conns.closeAll()
    await tc?.dispose()
  })

  it('previews a copy without writing, then copies, then finds nothing left to do', async () => {
    const preview = await copy({ from: ref('src/'), to: ref('dst/'), dryRun: true })
    const last = preview.at(-1)!
    expect(last).toMatchObject({ total: 3, scanned: 3, created: 3, updated: 0, done: true })
    expect(preview.flatMap((p) => p.samples).map((s) => `${s.change} ${dec(s.key)}`)).toEqual([
      'create dst/a',
      'create dst/b',
      'create dst/c/d',
    ])
    expect(await values('dst/')).toEqual({})

    const done = (await copy({ from: ref('src/'), to: ref('dst/') })).at(-1)!
    expect(done).toMatchObject({ created: 3, unchanged: 0, done: true })
    expect(await values('dst/')).toEqual({ 'dst/a': 'v-a', 'dst/b': 'v-b', 'dst/c/d': 'v-c/d' })
    expect(await values('src/')).toHaveProperty('src/a', 'v-a')

    const again = (await copy({ from: ref('src/'), to: ref('dst/') })).at(-1)!
    expect(again).toMatchObject({ created: 0, updated: 0, unchanged: 3 })
  })

  it('keeps a target that differs unless overwrite is on', async () => {
    await client().put('dst/b').value('changed at the target')
    const kept = (await copy({ from: ref('src/'), to: ref('dst/') })).at(-1)!
    expect(kept).toMatchObject({ skipped: 1, unchanged: 2, updated: 0 })
    expect(kept.samples.map((s) => `${s.change} ${dec(s.key)}`)).toEqual(['skip dst/b'])
    expect(await client().get('dst/b').string()).toBe('changed at the target')

    const replaced = (await copy({ from: ref('src/'), to: ref('dst/'), overwrite: true })).at(-1)!
    expect(replaced).toMatchObject({ updated: 1, unchanged: 2 })
    expect(await client().get('dst/b').string()).toBe('v-b')
  })

  it('copies to another connection without the leases, which belong to their cluster', async () => {
    const lease = client().lease(60)
    await lease.put('leased/k').value('v')
    await copy({ from: ref('leased/'), to: ref('copied/', 'other') })
    const [item] = (await client().getAll().prefix('copied/').exec()).kvs
    expect(String(item?.lease)).toBe('0')
    await lease.revoke()
  })

  it('moves a prefix: every key renamed in the transaction that deletes it, leases kept', async () => {
    const lease = client().lease(60)
    await lease.put('mv/x').value('1')
    await client().put('mv/y/z').value('2')
    const leaseId = (await client().get('mv/x').exec()).kvs[0]!.lease
    const preview = (
      await copy({ from: ref('mv/'), to: ref('moved/'), move: true, dryRun: true })
    ).at(-1)!
    expect(preview).toMatchObject({ created: 2, deleted: 2 })
    expect(await values('mv/')).toEqual({ 'mv/x': '1', 'mv/y/z': '2' })

    const done = (await copy({ from: ref('mv/'), to: ref('moved/'), move: true })).at(-1)!
    expect(done).toMatchObject({ created: 2, deleted: 2, conflicts: 0 })
    expect(await values('mv/')).toEqual({})
    expect(await values('moved/')).toEqual({ 'moved/x': '1', 'moved/y/z': '2' })
    expect((await client().get('moved/x').exec()).kvs[0]!.lease).toBe(leaseId)
    await lease.revoke()
  })

  it('refuses a move across connections, overlapping prefixes, and writes to a read-only one', async () => {
    await expect(copy({ from: ref('src/'), to: ref('x/', 'other'), move: true })).rejects.toThrow(
      /one connection/,
    )
    await expect(copy({ from: ref('src/'), to: ref('src/sub/') })).rejects.toThrow(/^OVERLAP/)
    await expect(copy({ from: ref('src/a'), to: ref('src/') })).rejects.toThrow(/^OVERLAP/)
    await expect(copy({ from: ref('src/'), to: ref('ro/', 'ro') })).rejects.toThrow(/^READ_ONLY/)
    // A preview only reads: allowed on a read-only target.
    const preview = (await copy({ from: ref('src/'), to: ref('ro/', 'ro'), dryRun: true })).at(-1)!
    expect(preview.created).toBe(3)
  })

  it('leaves a key someone wrote during the page alone and counts it as a conflict', async () => {
    const real = client().kv
    let interfered = false
    // The first guarded write finds dst2/b rewritten between the read and the write.
    const racing = {
      range: real.range.bind(real),
      txn: async (req: Parameters<KVClient['txn']>[0]) => {
        if (!interfered && (req.compare?.length ?? 0) > 0) {
          interfered = true
          await client().put('race/b').value('written meanwhile')
        }
        return real.txn(req)
      },
    } as unknown as KVClient
    await client().put('race/b').value('before')
    const items = ['a', 'b', 'c'].map((k) => ({
      target: Buffer.from(`race/${k}`),
      value: Buffer.from(`new ${k}`),
    }))
    const result = await writeBatch(racing, items, { overwrite: true, dryRun: false }, 10)
    expect(result).toMatchObject({ created: 2, updated: 0, conflicts: 1 })
    expect(await values('race/')).toEqual({
      'race/a': 'new a',
      'race/b': 'written meanwhile',
      'race/c': 'new c',
    })
  })

  it('stops between pages when cancelled: whole pages done, nothing after', async () => {
    const n = BATCH_KEYS * 5
    for (let i = 0; i < n; i += 100) {
      await client().kv.txn({
        compare: [],
        success: Array.from({ length: 100 }, (_, j) => ({
          request_put: {
            key: Buffer.from(`many/${String(i + j).padStart(4, '0')}`),
            value: Buffer.from('v'),
          },
        })),
        failure: [],
      })
    }
    const events = await run<BulkProgress>(
      'bulk/copy',
      { from: ref('many/'), to: ref('many-copy/'), overwrite: false, move: false, dryRun: false },
      1,
    )
    expect(events[0]!.done).toBe(false)
    await new Promise((r) => setTimeout(r, 500))
    const copied = Number(
      (
        await client().kv.range({
          key: Buffer.from('many-copy/'),
          range_end: Buffer.from('many-copy0'),
          count_only: true,
        })
      ).count,
    )
    expect(copied % BATCH_KEYS).toBe(0)
    expect(copied).toBeLessThan(n)
    expect(copied).toBeGreaterThanOrEqual(events[0]!.created)
  })

  it('exports a prefix as JSON (base64 where not text) and as etcdctl lines', async () => {
    await client()
      .put(Buffer.from('bin/\u00ff'))
      .value(Buffer.from([0, 0xff, 1]))
    await client().put('bin/text').value('line one\nline two')
    const json = await run<ExportChunk>('bulk/export', {
      conn: 'local',
      prefix: enc('bin/'),
      format: 'json',
    })
    const doc = JSON.parse(dec(Buffer.concat(json.map((c) => c.data)))) as {
      raftdesk: string
      prefix: string
      revision: number
      keys: Record<string, string>[]
    }
    expect(doc).toMatchObject({ raftdesk: 'export', version: 1, prefix: 'bin/' })
    expect(doc.revision).toBe(json.at(-1)!.revision)
    expect(doc.keys).toEqual(
      [
        { key: 'bin/text', value: 'line one\nline two' },
        // 'bin/\u00ff' written as UTF-8 is text; the value bytes 00 ff 01 are not.
        { key: 'bin/\u00ff', value_base64: Buffer.from([0, 0xff, 1]).toString('base64') },
      ].sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key))),
    )

    const lines = await run<ExportChunk>('bulk/export', {
      conn: 'local',
      prefix: enc('src/'),
      format: 'lines',
    })
    expect(dec(Buffer.concat(lines.map((c) => c.data)))).toBe(
      'src/a\nv-a\nsrc/b\nv-b\nsrc/c/d\nv-c/d\n',
    )
    const ambiguous = await run<ExportChunk>('bulk/export', {
      conn: 'local',
      prefix: enc('bin/'),
      format: 'lines',
    })
    expect(ambiguous.at(-1)).toMatchObject({ ambiguous: 1, scanned: 2, total: 2, done: true })
  })

  it('exports a large prefix in chunks, each sent only after the last was taken', async () => {
    const chunks = await run<ExportChunk>('bulk/export', {
      conn: 'local',
      prefix: enc('many/'),
      format: 'json',
    })
    expect(chunks.length).toBeGreaterThan(2)
    const doc = JSON.parse(dec(Buffer.concat(chunks.map((c) => c.data)))) as { keys: unknown[] }
    expect(doc.keys).toHaveLength(BATCH_KEYS * 5)
    expect(chunks.at(-1)).toMatchObject({ scanned: BATCH_KEYS * 5, done: true })
  })

  it('imports a batch: a preview first, the last of duplicate keys wins, overwrite respected', async () => {
    await client().put('imp/old').value('kept')
    const entries = [
      { key: enc('imp/a'), value: enc('1') },
      { key: enc('imp/a'), value: enc('2') },
      { key: enc('imp/old'), value: enc('replaced?') },
    ]
    const preview = await bulk['bulk/import']({
      conn: 'local',
      entries,
      overwrite: false,
      dryRun: true,
    })
    expect(preview).toMatchObject({ scanned: 3, created: 1, skipped: 1 })
    expect(await values('imp/')).toEqual({ 'imp/old': 'kept' })
    await expect(
      bulk['bulk/import']({ conn: 'ro', entries, overwrite: false, dryRun: false }),
    ).rejects.toMatchObject({ code: 'READ_ONLY' })
    const done = await bulk['bulk/import']({
      conn: 'local',
      entries,
      overwrite: false,
      dryRun: false,
    })
    expect(done).toMatchObject({ created: 1, skipped: 1 })
    expect(await values('imp/')).toEqual({ 'imp/a': '2', 'imp/old': 'kept' })
    const over = await bulk['bulk/import']({
      conn: 'local',
      entries,
      overwrite: true,
      dryRun: false,
    })
    expect(over).toMatchObject({ unchanged: 1, updated: 1 })
    expect(await client().get('imp/old').string()).toBe('replaced?')
  })

  it('renames a key with its lease, and refuses when the target exists or the source moved on', async () => {
    const lease = client().lease(60)
    await lease.put('ren/a').value('A')
    const item = (await client().get('ren/a').exec()).kvs[0]!
    const mod = Number(item.mod_revision)
    expect(
      await bulk['bulk/rename']({
        conn: 'local',
        from: enc('ren/a'),
        to: enc('ren/b'),
        expectedModRevision: mod - 1,
      }),
    ).toEqual({ ok: false, reason: 'changed' })
    await client().put('ren/taken').value('T')
    expect(
      await bulk['bulk/rename']({
        conn: 'local',
        from: enc('ren/a'),
        to: enc('ren/taken'),
        expectedModRevision: mod,
      }),
    ).toEqual({ ok: false, reason: 'exists' })
    const ok = await bulk['bulk/rename']({
      conn: 'local',
      from: enc('ren/a'),
      to: enc('ren/b'),
      expectedModRevision: mod,
    })
    expect(ok.ok).toBe(true)
    expect(await values('ren/')).toEqual({ 'ren/b': 'A', 'ren/taken': 'T' })
    expect((await client().get('ren/b').exec()).kvs[0]!.lease).toBe(item.lease)
    await lease.revoke()
  })

  it('deletes on a production connection only with the key typed exactly', async () => {
    await client().put('prod/x').value('1')
    const del = kv['kv/delete']
    await expect(del({ conn: 'prod', key: enc('prod/'), prefix: true })).rejects.toMatchObject({
      code: 'CONFIRM_DELETE',
    })
    await expect(
      del({ conn: 'prod', key: enc('prod/'), prefix: true, confirm: 'prod' }),
    ).rejects.toMatchObject({ code: 'CONFIRM_DELETE' })
    expect(await values('prod/')).toEqual({ 'prod/x': '1' })
    expect(
      await del({ conn: 'prod', key: enc('prod/'), prefix: true, confirm: 'prod/' }),
    ).toMatchObject({ deleted: 1 })
    // Any other connection deletes as before.
    await client().put('prod/y').value('1')
    expect(await del({ conn: 'local', key: enc('prod/y') })).toMatchObject({ deleted: 1 })
  })
})
