// The kv/* services against a real raftdesk node, through the etcd3 client they use: tree
// listings with folder rows and pages that continue where they stopped, counts, reads, writes
// guarded by the mod revision the window saw, prefix deletes, read-only connections, and the
// kv/watch topic with its flow control.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type {
  DiffProgress,
  ListPage,
  ListRow,
  SearchProgress,
  TopicMessage,
  WatchBatch,
} from '../../../contract'
import { createBulkTopics } from '../../../node-core/services/bulk'
import { Connections } from '../../../node-core/services/connections'
import { createDiffTopic } from '../../../node-core/services/diff'
import { createKvHandlers, createKvTopics, leaseHex } from '../../../node-core/services/kv'
import { createLeaseHandlers } from '../../../node-core/services/leases'
import { createSearchTopic } from '../../../node-core/services/search'
import { openTopic, type TopicHandlers } from '../../../node-core/services/topics'
import { startTestCluster, type TestCluster } from '../../helpers/cluster'

const enc = (s: string) => new TextEncoder().encode(s)
const dec = (b: Uint8Array) => new TextDecoder().decode(b)
const label = (r: ListRow) => (r.kind === 'key' ? dec(r.key) : `${dec(r.prefix)}…`)

describe('kv services', () => {
  let tc: TestCluster
  const conns = new Connections()
  let kv: ReturnType<typeof createKvHandlers>
  const topics = (): TopicHandlers => ({
    ...createKvTopics(conns),
    ...createSearchTopic(conns),
    ...createBulkTopics(conns),
    ...createDiffTopic(conns),
    'app/menu': () => () => {},
    'app/links': () => () => {},
    'cluster/metrics': () => () => {},
    'raft/live': () => () => {},
    'join/live': () => () => {},
    'wal/verify': () => () => {},
    'snapshots/save': () => () => {},
  })

  /** Runs a search to its end, acknowledging every message; returns them all. */
  async function search(args: Record<string, unknown>): Promise<SearchProgress[]> {
    const got: SearchProgress[] = []
    return new Promise((resolve, reject) => {
      const t = openTopic(
        topics(),
        'kv/search',
        [{ conn: 'local', prefix: enc(''), ...args }],
        (m) => {
          if (m.type === 'error') return reject(new Error(m.error.message))
          if (m.type !== 'event') return
          const p = m.event as SearchProgress
          got.push(p)
          if (p.done) {
            t.close()
            resolve(got)
          } else setTimeout(() => t.ack(), 0)
        },
      )
    })
  }

  beforeAll(async () => {
    tc = await startTestCluster({ nodes: 1 })
    await tc.cluster.waitForLeader()
    conns.add({ id: 'local', name: 'local', endpoints: [...tc.endpoints.values()] })
    conns.add({
      id: 'ro',
      name: 'read only',
      endpoints: [...tc.endpoints.values()],
      readOnly: true,
    })
    kv = createKvHandlers(conns)
    const client = conns.get('local').client
    const keys = [
      'app/a',
      'app/b',
      'app/cfg/x',
      'app/cfg/y',
      'app/z',
      'apple',
      'svc/1',
      ...Array.from({ length: 30 }, (_, i) => `big/${String(i).padStart(3, '0')}`),
    ]
    for (const k of keys) await client.put(k).value(`v:${k}`)
  }, 60_000)

  afterAll(async () => {
    conns.closeAll()
    await tc?.dispose()
  })

  it('lists one tree level: keys, and one row per folder however many keys it holds', async () => {
    const top = await kv['kv/list']({ conn: 'local', prefix: enc(''), separator: '/', limit: 100 })
    expect(top.rows.map(label)).toEqual(['app/…', 'apple', 'big/…', 'svc/…'])
    expect(top.more).toBe(false)
    const app = await kv['kv/list']({
      conn: 'local',
      prefix: enc('app/'),
      separator: '/',
      limit: 100,
    })
    expect(app.rows.map(label)).toEqual(['app/a', 'app/b', 'app/cfg/…', 'app/z'])
    const row = app.rows[0]!
    expect(row.kind === 'key' && row.version).toBe(1)
  })

  it('pages a listing from where the last page stopped, at one revision', async () => {
    const seen: string[] = []
    let page: ListPage | null = null
    do {
      page = await kv['kv/list']({
        conn: 'local',
        prefix: enc(''),
        separator: '',
        limit: 7,
        ...(page ? { after: rowKey(page.rows.at(-1)!), revision: page.revision } : {}),
      })
      seen.push(...page.rows.map(label))
    } while (page.more)
    expect(seen).toHaveLength(37)
    expect(seen).toEqual([...seen].sort())
    // Paging after a folder skips all of it.
    const first = await kv['kv/list']({ conn: 'local', prefix: enc(''), separator: '/', limit: 2 })
    expect(first.rows.map(label)).toEqual(['app/…', 'apple'])
    expect(first.more).toBe(true)
    const second = await kv['kv/list']({
      conn: 'local',
      prefix: enc(''),
      separator: '/',
      limit: 2,
      after: rowKey(first.rows[1]!),
    })
    expect(second.rows.map(label)).toEqual(['big/…', 'svc/…'])
    const third = await kv['kv/list']({
      conn: 'local',
      prefix: enc(''),
      separator: '/',
      limit: 2,
      after: rowKey(second.rows[0]!),
    })
    expect(third.rows.map(label)).toEqual(['svc/…'])
    expect(third.more).toBe(false)
  })

  it('counts a prefix and reads a key with its revisions', async () => {
    expect(await kv['kv/count']({ conn: 'local', prefix: enc('big/') })).toBe(30)
    const d = await kv['kv/get']({ conn: 'local', key: enc('app/a') })
    expect(d && dec(d.value)).toBe('v:app/a')
    expect(d!.version).toBe(1)
    expect(await kv['kv/get']({ conn: 'local', key: enc('nope') })).toBeNull()
  })

  it('writes only if the key is still at the revision the window saw, else shows what is there', async () => {
    const before = (await kv['kv/get']({ conn: 'local', key: enc('app/b') }))!
    const first = await kv['kv/put']({
      conn: 'local',
      key: enc('app/b'),
      value: enc('mine'),
      expectedModRevision: before.modRevision,
    })
    expect(first.ok).toBe(true)
    const stale = await kv['kv/put']({
      conn: 'local',
      key: enc('app/b'),
      value: enc('theirs'),
      expectedModRevision: before.modRevision,
    })
    expect(stale.ok).toBe(false)
    expect(!stale.ok && stale.current && dec(stale.current.value)).toBe('mine')
    const created = await kv['kv/put']({
      conn: 'local',
      key: enc('fresh'),
      value: enc('1'),
      expectedModRevision: 0,
    })
    expect(created.ok).toBe(true)
    const again = await kv['kv/put']({
      conn: 'local',
      key: enc('fresh'),
      value: enc('2'),
      expectedModRevision: 0,
    })
    expect(again.ok).toBe(false)
  })

  it('deletes a prefix, and refuses every write on a read-only connection', async () => {
    await expect(
      kv['kv/delete']({ conn: 'ro', key: enc('big/'), prefix: true }),
    ).rejects.toMatchObject({ code: 'READ_ONLY' })
    await expect(
      kv['kv/put']({ conn: 'ro', key: enc('x'), value: enc('y') }),
    ).rejects.toMatchObject({ code: 'READ_ONLY' })
    expect(await kv['kv/count']({ conn: 'ro', prefix: enc('big/') })).toBe(30)
    const res = await kv['kv/delete']({ conn: 'local', key: enc('big/'), prefix: true })
    expect(res.deleted).toBe(30)
  })

  it('streams watch events, merged while the window has not acknowledged', async () => {
    const sent: TopicMessage<WatchBatch>[] = []
    const topic = openTopic(
      topics(),
      'kv/watch',
      [{ conn: 'local', key: enc('w/'), prefix: true }],
      (m) => sent.push(m as TopicMessage<WatchBatch>),
    )
    await new Promise((r) => setTimeout(r, 300)) // the watch is created
    for (let i = 0; i < 5; i++)
      await kv['kv/put']({ conn: 'local', key: enc(`w/${i}`), value: enc('x') })
    await expect.poll(() => sent.length).toBe(1)
    await new Promise((r) => setTimeout(r, 200))
    expect(sent).toHaveLength(1) // the rest waits for the ack
    topic.ack()
    expect(sent).toHaveLength(2)
    const keys = sent.flatMap((m) =>
      m.type === 'event' ? m.event.events.map((e) => dec(e.key)) : [],
    )
    expect(keys).toEqual(['w/0', 'w/1', 'w/2', 'w/3', 'w/4'])
    topic.close()
  })

  it('searches keys by substring and values by regular expression, with progress and excerpts', async () => {
    const byKey = await search({ query: 'CFG', mode: 'substring', target: 'keys' })
    const last = byKey.at(-1)!
    expect(last.done).toBe(true)
    expect(last.scanned).toBe(last.total)
    const keys = byKey.flatMap((p) => p.matches.map((m) => dec(m.key)))
    expect(keys).toEqual(['app/cfg/x', 'app/cfg/y'])
    const byValue = await search({
      prefix: enc('app/'),
      query: 'v:app/(a|z)$',
      mode: 'regex',
      target: 'values',
    })
    const matches = byValue.flatMap((p) => p.matches)
    expect(matches.map((m) => dec(m.key))).toEqual(['app/a', 'app/z'])
    expect(matches[0]!.excerpt).toBe('v:app/a')
  })

  it('refuses a bad regular expression with the reason, before scanning', async () => {
    await expect(search({ query: '(', mode: 'regex', target: 'keys' })).rejects.toThrow(
      /not a regular expression/,
    )
  })

  it('streams a long scan in pages, stops at the match limit, and sends nothing once closed', async () => {
    const client = conns.get('local').client
    const ops = Array.from({ length: 2500 }, (_, i) =>
      client.put(`scan/${String(i).padStart(5, '0')}`).value(`value ${i}`),
    )
    for (let i = 0; i < ops.length; i += 250) await Promise.all(ops.slice(i, i + 250))
    const all = await search({
      prefix: enc('scan/'),
      query: 'value',
      mode: 'substring',
      target: 'values',
    })
    expect(all.length).toBeGreaterThan(1) // progress arrived in steps
    const end = all.at(-1)!
    expect(end.truncated).toBe(true)
    expect(all.flatMap((p) => p.matches)).toHaveLength(1000)
    // Closed after its first message, a scan sends nothing more.
    const sent: TopicMessage<unknown>[] = []
    const t = openTopic(
      topics(),
      'kv/search',
      [{ conn: 'local', prefix: enc('scan/'), query: 'zzz', mode: 'substring', target: 'values' }],
      (m) => {
        sent.push(m)
        t.close()
      },
    )
    await new Promise((r) => setTimeout(r, 500))
    expect(sent).toHaveLength(1)
  })

  it("lists a key's versions newest first, back to its creation or a compaction", async () => {
    for (const v of ['one', 'two', 'three']) {
      await kv['kv/put']({ conn: 'local', key: enc('hist/k'), value: enc(v) })
    }
    const h = await kv['kv/history']({ conn: 'local', key: enc('hist/k'), limit: 10 })
    expect(h.versions.map((v) => [dec(v.value), v.version])).toEqual([
      ['three', 3],
      ['two', 2],
      ['one', 1],
    ])
    expect(h.more).toBe(false)
    const two = await kv['kv/history']({ conn: 'local', key: enc('hist/k'), limit: 2 })
    expect(two.versions).toHaveLength(2)
    expect(two.more).toBe(true)
    // A compaction past the first version leaves the later ones, and says where history ends.
    const client = conns.get('local').client
    await client.kv.compact({ revision: String(h.versions[1]!.modRevision) })
    const after = await kv['kv/history']({ conn: 'local', key: enc('hist/k'), limit: 10 })
    expect(after.versions.map((v) => dec(v.value))).toEqual(['three', 'two'])
    expect(after.compactedAt).toBeGreaterThan(0)
  })

  it('grants, lists with keys and time left, keeps alive and revokes leases', async () => {
    const leases = createLeaseHandlers(conns)
    const granted = await leases['leases/grant']({ conn: 'local', ttl: 60 })
    expect(granted).toMatchObject({ grantedTtl: 60, keyCount: 0 })
    // As etcdctl prints them (%016x): leading zeros kept, so the window and etcdctl agree.
    expect(granted.id).toMatch(/^[0-9a-f]{16}$/)
    expect(leaseHex('1')).toBe('0000000000000001')
    expect(leaseHex('0')).toBe('')
    await kv['kv/put']({ conn: 'local', key: enc('leased/a'), value: enc('x'), lease: granted.id })
    const listed = (await leases['leases/list']({ conn: 'local' })).leases.find(
      (l) => l.id === granted.id,
    )!
    expect(listed.keyCount).toBe(1)
    expect(listed.keys.map(dec)).toEqual(['leased/a'])
    expect(listed.ttl).toBeGreaterThan(50)
    expect(await leases['leases/keepAlive']({ conn: 'local', id: granted.id })).toBe(60)
    await expect(leases['leases/grant']({ conn: 'ro', ttl: 5 })).rejects.toMatchObject({
      code: 'READ_ONLY',
    })
    await leases['leases/revoke']({ conn: 'local', id: granted.id })
    expect(await kv['kv/get']({ conn: 'local', key: enc('leased/a') })).toBeNull()
    expect(
      (await leases['leases/list']({ conn: 'local' })).leases.some((l) => l.id === granted.id),
    ).toBe(false)
    await expect(
      leases['leases/keepAlive']({ conn: 'local', id: granted.id }),
    ).rejects.toMatchObject({ code: 'LEASE_NOT_FOUND' })
  })
  it('says what changed under a prefix between two revisions, key by key', async () => {
    const client = conns.get('local').client
    await client.put('diff/same').value('s')
    await client.put('diff/edited').value('1')
    await client.put('diff/gone').value('x')
    const from = Number((await client.get('diff/gone').exec()).header.revision)
    await client.put('diff/edited').value('2')
    await client.delete().key('diff/gone')
    await client.put('diff/new').value('n')
    await client.put('elsewhere').value('not under the prefix')
    const run = (args: Record<string, unknown>) =>
      new Promise<DiffProgress[]>((resolve, reject) => {
        const got: DiffProgress[] = []
        const t = openTopic(
          topics(),
          'kv/diff',
          [{ conn: 'local', prefix: enc('diff/'), ...args }],
          (m) => {
            if (m.type === 'error') return reject(new Error(m.error.message))
            if (m.type !== 'event') return
            const p = m.event as DiffProgress
            got.push(p)
            if (p.done) {
              t.close()
              resolve(got)
            } else setTimeout(() => t.ack(), 0)
          },
        )
      })
    const events = await run({ fromRevision: from, toRevision: 0 })
    const last = events.at(-1)!
    expect(last.done).toBe(true)
    expect(last.toRevision).toBeGreaterThan(from)
    expect(events.flatMap((e) => e.changes).map((c) => `${c.kind} ${dec(c.key)}`)).toEqual([
      'changed diff/edited',
      'removed diff/gone',
      'added diff/new',
    ])
    // The same comparison up to a revision before the last writes sees only what came before.
    const earlier = await run({ fromRevision: from, toRevision: from + 1 })
    expect(earlier.flatMap((e) => e.changes).map((c) => `${c.kind} ${dec(c.key)}`)).toEqual([
      'changed diff/edited',
    ])
    await expect(run({ fromRevision: from, toRevision: from })).rejects.toThrow(/must come after/)
  })
  it('stops a regular expression that backtracks without end, and keeps serving meanwhile', async () => {
    await conns
      .get('local')
      .client.put('redos/value')
      .value(`${'a'.repeat(40)}!`)
    let ticks = 0
    const ticking = setInterval(() => ticks++, 50)
    const t0 = Date.now()
    try {
      await expect(
        search({ prefix: enc('redos/'), query: '^(a+)+$', mode: 'regex', target: 'values' }),
      ).rejects.toThrow(/took over 2 s .* simplify it/)
    } finally {
      clearInterval(ticking)
    }
    const ms = Date.now() - t0
    expect(ms).toBeLessThan(10_000)
    // The process went on serving while the worker was stuck.
    expect(ticks).toBeGreaterThan(ms / 50 / 3)
    // A sound pattern still finds its match.
    const ok = await search({
      prefix: enc('redos/'),
      query: '^a{40}!$',
      mode: 'regex',
      target: 'values',
    })
    expect(ok.flatMap((p) => p.matches).map((m) => dec(m.key))).toEqual(['redos/value'])
  })
})

function rowKey(r: ListRow): Uint8Array {
  return r.kind === 'key' ? r.key : r.prefix
}
