// The store against the real thing: Debian's etcd 3.4.23 runs on free local ports, and both get
// the same operations; every result must be the same (revisions, versions, create and mod
// revisions, txn responses, errors). Skipped when `etcd` is not installed, except under CI=true,
// where a missing etcd is a failure (CI installs it).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { freePort } from '../../helpers/ports'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Etcd3, type IKeyValue, type IRequestOp, type IResponseOp } from 'etcd3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type {
  Compare,
  KeyValue,
  RangeRequest,
  RangeResponse,
  RequestOp,
  ResponseOp,
  TxnRequest,
  TxnResponse,
  WriteOp,
  WriteResult,
} from '../../../node-core/mvcc/types'
import { b, tempDbDir, TestStore } from './helpers'

const etcdInstalled = spawnSync('etcd', ['--version']).status === 0
const required = process.env['CI'] === 'true'
if (!etcdInstalled && !required)
  console.warn('skipping etcd comparison: no etcd on PATH (apt-get install etcd-server)')

// ---- etcd on free ports ----------------------------------------------------------------------

interface RunningEtcd {
  child: ChildProcess
  client: Etcd3
  dataDir: string
  log: string[]
}

async function startEtcd(): Promise<RunningEtcd> {
  const [client, peer] = [await freePort(), await freePort()]
  const dataDir = mkdtempSync(join(tmpdir(), 'etcd-compat-'))
  const clientUrl = `http://127.0.0.1:${client}`
  const peerUrl = `http://127.0.0.1:${peer}`
  const child = spawn(
    'etcd',
    [
      '--name=compat',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=compat=${peerUrl}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const log: string[] = []
  child.stdout!.on('data', (d: Buffer) => log.push(d.toString()))
  child.stderr!.on('data', (d: Buffer) => log.push(d.toString()))
  const etcd = new Etcd3({ hosts: clientUrl })
  const deadline = Date.now() + 20_000
  for (;;) {
    try {
      await etcd.kv.range({ key: Buffer.from('probe') })
      return { child, client: etcd, dataDir, log }
    } catch (err) {
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL')
        throw new Error(`etcd did not start: ${String(err)}\n${log.join('').slice(-2000)}`, {
          cause: err,
        })
      }
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

async function stopEtcd(e: RunningEtcd): Promise<void> {
  e.client.close()
  if (e.child.exitCode === null) {
    const exited = new Promise((resolve) => e.child.once('exit', resolve))
    process.kill(e.child.pid!, 'SIGTERM')
    await exited
  }
  rmSync(e.dataDir, { recursive: true, force: true })
}

// ---- our types -> etcd's wire shape (enum numbers are the proto's) --------------------------

const SORT_ORDER = { none: 0, ascend: 1, descend: 2 }
const SORT_TARGET = { key: 0, version: 1, create: 2, mod: 3, value: 4 }
const CMP_RESULT = { equal: 0, greater: 1, less: 2, notEqual: 3 }
const CMP_TARGET = { version: 0, create: 1, mod: 2, value: 3, lease: 4 }
const buf = (u: Uint8Array | undefined) => (u === undefined ? undefined : Buffer.from(u))

function toEtcdRange(r: RangeRequest) {
  return {
    key: buf(r.key),
    range_end: buf(r.rangeEnd),
    limit: r.limit ?? 0,
    revision: r.revision ?? 0,
    sort_order: SORT_ORDER[r.sortOrder ?? 'none'],
    sort_target: SORT_TARGET[r.sortTarget ?? 'key'],
    keys_only: r.keysOnly ?? false,
    count_only: r.countOnly ?? false,
    min_mod_revision: r.minModRevision ?? 0,
    max_mod_revision: r.maxModRevision ?? 0,
    min_create_revision: r.minCreateRevision ?? 0,
    max_create_revision: r.maxCreateRevision ?? 0,
  }
}

function toEtcdCompare(c: Compare) {
  return {
    result: CMP_RESULT[c.result],
    target: CMP_TARGET[c.target],
    key: buf(c.key),
    range_end: buf(c.rangeEnd),
    ...(c.target === 'version' ? { version: c.version ?? 0 } : {}),
    ...(c.target === 'create' ? { create_revision: c.createRevision ?? 0 } : {}),
    ...(c.target === 'mod' ? { mod_revision: c.modRevision ?? 0 } : {}),
    ...(c.target === 'value' ? { value: buf(c.value ?? new Uint8Array(0)) } : {}),
    ...(c.target === 'lease' ? { lease: String(c.lease ?? 0n) } : {}),
  }
}

function toEtcdOp(op: RequestOp): IRequestOp {
  if ('requestRange' in op) return { request_range: toEtcdRange(op.requestRange) as never }
  if ('requestPut' in op) {
    const p = op.requestPut
    return {
      request_put: {
        key: buf(p.key),
        value: buf(p.value),
        lease: String(p.lease ?? 0n),
        prev_kv: p.prevKv ?? false,
        ignore_value: p.ignoreValue ?? false,
        ignore_lease: p.ignoreLease ?? false,
      },
    }
  }
  if ('requestDeleteRange' in op) {
    const d = op.requestDeleteRange
    return {
      request_delete_range: {
        key: buf(d.key),
        range_end: buf(d.rangeEnd),
        prev_kv: d.prevKv ?? false,
      },
    }
  }
  return { request_txn: toEtcdTxn(op.requestTxn) as never }
}

function toEtcdTxn(t: TxnRequest) {
  return {
    compare: t.compare.map(toEtcdCompare),
    success: t.success.map(toEtcdOp),
    failure: t.failure.map(toEtcdOp),
  }
}

// ---- etcd's answers -> our types -------------------------------------------------------------

const n = (x: string | number | undefined) => Number(x ?? 0)
const u8 = (x: Buffer | undefined) => new Uint8Array(x ?? Buffer.alloc(0))

function fromEtcdKv(kv: IKeyValue): KeyValue {
  return {
    key: u8(kv.key),
    createRevision: n(kv.create_revision),
    modRevision: n(kv.mod_revision),
    version: n(kv.version),
    value: u8(kv.value),
    lease: BigInt(kv.lease ?? 0),
  }
}

type Header = { header?: { revision: string } | null }
const rev = (r: Header) => n(r.header?.revision)

function fromEtcdRange(
  r: { kvs: IKeyValue[]; more: boolean; count: string } & Header,
): RangeResponse {
  return { kvs: (r.kvs ?? []).map(fromEtcdKv), more: r.more, count: n(r.count), revision: rev(r) }
}

function fromEtcdOp(op: IResponseOp): ResponseOp {
  if (op.response_range) return { responseRange: fromEtcdRange(op.response_range) }
  if (op.response_put) {
    const p = op.response_put
    return {
      responsePut: { ...(p.prev_kv ? { prevKv: fromEtcdKv(p.prev_kv) } : {}), revision: rev(p) },
    }
  }
  if (op.response_delete_range) {
    const d = op.response_delete_range
    return {
      responseDeleteRange: {
        deleted: n(d.deleted),
        prevKvs: (d.prev_kvs ?? []).map(fromEtcdKv),
        revision: rev(d),
      },
    }
  }
  return { responseTxn: fromEtcdTxn(op.response_txn as never) }
}

function fromEtcdTxn(t: { succeeded: boolean; responses: IResponseOp[] } & Header): TxnResponse {
  return {
    succeeded: t.succeeded,
    responses: (t.responses ?? []).map(fromEtcdOp),
    revision: rev(t),
  }
}

/** etcd's client-visible messages -> our error codes (the same table the api layer uses). */
const ETCD_MESSAGES: Array<[RegExp, string]> = [
  [/required revision has been compacted/, 'COMPACTED'],
  [/required revision is a future revision/, 'FUTURE_REV'],
  [/requested lease not found/, 'LEASE_NOT_FOUND'],
  [/lease already exists/, 'LEASE_EXIST'],
  [/key not found/, 'KEY_NOT_FOUND'],
  [/duplicate key given in txn request/, 'DUPLICATE_KEY'],
  [/too many operations in txn request/, 'TOO_MANY_OPS'],
  [/value is provided/, 'VALUE_PROVIDED'],
  [/lease is provided/, 'LEASE_PROVIDED'],
]

function etcdErrorCode(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  const hit = ETCD_MESSAGES.find(([re]) => re.test(message))
  if (hit === undefined) throw new Error(`unexpected etcd error: ${message}`)
  return hit[1]
}

async function onEtcd(etcd: Etcd3, op: WriteOp): Promise<WriteResult> {
  try {
    if ('put' in op) {
      const p = op.put
      const r = await etcd.kv.put({
        key: buf(p.key),
        value: buf(p.value),
        lease: String(p.lease ?? 0n),
        prev_kv: p.prevKv ?? false,
        ignore_value: p.ignoreValue ?? false,
        ignore_lease: p.ignoreLease ?? false,
      })
      return { put: { ...(r.prev_kv ? { prevKv: fromEtcdKv(r.prev_kv) } : {}), revision: rev(r) } }
    }
    if ('deleteRange' in op) {
      const d = op.deleteRange
      const r = await etcd.kv.deleteRange({
        key: buf(d.key),
        range_end: buf(d.rangeEnd),
        prev_kv: d.prevKv ?? false,
      })
      return {
        deleteRange: {
          deleted: n(r.deleted),
          prevKvs: (r.prev_kvs ?? []).map(fromEtcdKv),
          revision: rev(r),
        },
      }
    }
    if ('txn' in op)
      return { txn: fromEtcdTxn((await etcd.kv.txn(toEtcdTxn(op.txn) as never)) as never) }
    if ('compaction' in op) {
      const r = await etcd.kv.compact({ revision: op.compaction.revision, physical: true })
      return { compaction: { revision: rev(r) } }
    }
    if ('leaseGrant' in op) {
      const r = await etcd.leaseClient.leaseGrant({
        ID: String(op.leaseGrant.id),
        TTL: op.leaseGrant.ttlSeconds,
      })
      return { leaseGrant: { id: BigInt(r.ID ?? 0), ttlSeconds: n(r.TTL), revision: rev(r) } }
    }
    if (op.type !== 'leaseRevoke') throw new Error(`no etcd call for ${op.type}`)
    const r = await etcd.leaseClient.leaseRevoke({ ID: String(op.leaseRevoke.id) })
    return { leaseRevoke: { revision: rev(r) } }
  } catch (err) {
    return { error: { code: etcdErrorCode(err), message: '' } }
  }
}

async function rangeOnEtcd(
  etcd: Etcd3,
  req: RangeRequest,
): Promise<RangeResponse | { error: string }> {
  try {
    return fromEtcdRange((await etcd.kv.range(toEtcdRange(req) as never)) as never)
  } catch (err) {
    return { error: etcdErrorCode(err) }
  }
}

/** Comparable form: bytes as strings, errors by code. */
function plain(x: unknown): unknown {
  if (x instanceof Uint8Array) return Buffer.from(x).toString('latin1')
  if (typeof x === 'bigint') return `${x}n`
  if (Array.isArray(x)) return x.map(plain)
  if (x !== null && typeof x === 'object') {
    if ('error' in x) {
      const e = (x as { error: unknown }).error
      return { error: typeof e === 'string' ? e : (e as { code: string }).code }
    }
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v)]))
  }
  return x
}

// ---- the scenarios ---------------------------------------------------------------------------

type Step = { write: WriteOp } | { read: RangeRequest }

/** A lease id above 2^53 (0x7a3c91f20b446e15), as etcd hands out. */
const BIG_LEASE = 0x7a3c_91f2_0b44_6e15n

const put = (key: string, value: string, extra: object = {}): Step => ({
  write: { type: 'put', put: { key: b(key), value: b(value), ...extra } },
})
const del = (key: string, extra: object = {}): Step => ({
  write: { type: 'deleteRange', deleteRange: { key: b(key), ...extra } },
})
const get = (key: string, extra: Partial<RangeRequest> = {}): Step => ({
  read: { key: b(key), ...extra },
})
const txn = (t: TxnRequest): Step => ({ write: { type: 'txn', txn: t } })
const rp = (key: string, value: string, extra: object = {}): RequestOp => ({
  requestPut: { key: b(key), value: b(value), ...extra },
})
const rg = (key: string, extra: Partial<RangeRequest> = {}): RequestOp => ({
  requestRange: { key: b(key), ...extra },
})
const rd = (key: string, extra: object = {}): RequestOp => ({
  requestDeleteRange: { key: b(key), ...extra },
})
const prefix = (p: string): Partial<RangeRequest> => ({
  key: b(p),
  rangeEnd: b(p.slice(0, -1) + '0'),
})

const scenarios: Array<[string, Step[]]> = [
  [
    'revisions and versions across delete and re-put',
    [
      put('r/a', '1'),
      put('r/a', '2', { prevKv: true }),
      get('r/a'),
      del('r/a', { prevKv: true }),
      get('r/a'),
      del('r/a'),
      put('r/a', '3', { prevKv: true }),
      get('r/a'),
      get('r/a', { revision: 2 }),
      get('r/a', { revision: 4 }),
    ],
  ],
  [
    'a txn with mixed ops',
    [
      put('t/z', 'old'),
      txn({
        compare: [{ key: b('t/z'), target: 'version', result: 'equal', version: 1 }],
        success: [
          rg('t/x'),
          rp('t/x', '1'),
          rg('t/x'),
          rp('t/y', '2', { prevKv: true }),
          rd('t/z', { prevKv: true }),
          rg('t/z'),
          rd('t/none'),
        ],
        failure: [rp('t/failed', '1')],
      }),
      txn({
        compare: [{ key: b('t/z'), target: 'value', result: 'equal', value: b('old') }],
        success: [rp('t/failed', '1')],
        failure: [
          rg('t/', { rangeEnd: b('t0') }),
          rd('t/x', { rangeEnd: b('t/zz'), prevKv: true }),
        ],
      }),
      txn({ compare: [], success: [rg('t/x'), rd('t/none')], failure: [] }),
    ],
  ],
  [
    'nested txns',
    [
      put('n/k', '1'),
      txn({
        compare: [],
        success: [
          rp('n/k', '2'),
          {
            requestTxn: {
              compare: [{ key: b('n/k'), target: 'value', result: 'equal', value: b('2') }],
              success: [rp('n/m', 'saw 2')],
              failure: [rp('n/m', 'saw 1'), rg('n/k')],
            },
          },
        ],
        failure: [],
      }),
      get('n/m'),
    ],
  ],
  [
    'compares on missing keys and ranges',
    [
      put('c/1', 'a'),
      put('c/2', 'b'),
      put('c/2', 'c'),
      ...(
        [
          { key: b('c/none'), target: 'value', result: 'notEqual', value: b('x') },
          { key: b('c/none'), target: 'version', result: 'equal', version: 0 },
          { key: b('c/none'), target: 'mod', result: 'less', modRevision: 1 },
          { key: b('c/none'), target: 'create', result: 'greater', createRevision: 0 },
          { key: b('c/'), rangeEnd: b('c0'), target: 'version', result: 'greater', version: 0 },
          { key: b('c/'), rangeEnd: b('c0'), target: 'version', result: 'equal', version: 1 },
          { key: b('c/'), rangeEnd: b('c0'), target: 'value', result: 'less', value: b('d') },
          {
            key: b('c/'),
            rangeEnd: new Uint8Array([0]),
            target: 'lease',
            result: 'equal',
            lease: 0n,
          },
        ] as Compare[]
      ).map((c) => txn({ compare: [c], success: [rg('c/1')], failure: [] })),
    ],
  ],
  [
    'range options',
    [
      put('o/a', '3'),
      put('o/b', '1'),
      put('o/c', '2'),
      put('o/a', '0'),
      put('o/d', '4'),
      del('o/c'),
      put('o/e', '5'),
      get('o/', { ...prefix('o/'), limit: 2 }),
      get('o/', { ...prefix('o/'), countOnly: true }),
      get('o/', { ...prefix('o/'), keysOnly: true }),
      get('o/', { ...prefix('o/'), sortOrder: 'descend', sortTarget: 'mod' }),
      get('o/', { ...prefix('o/'), sortTarget: 'create' }),
      get('o/', { ...prefix('o/'), sortOrder: 'ascend', sortTarget: 'value', limit: 3 }),
      get('o/', { ...prefix('o/'), sortOrder: 'descend', sortTarget: 'key' }),
      get('o/b', { rangeEnd: new Uint8Array([0]), limit: 2 }),
    ],
  ],
  [
    'leases: grant, attach, revoke',
    [
      // A 63-bit id, as etcd's random ids are: carried exactly end to end.
      { write: { type: 'leaseGrant', leaseGrant: { id: BIG_LEASE, ttlSeconds: 1 } } },
      { write: { type: 'leaseGrant', leaseGrant: { id: BIG_LEASE, ttlSeconds: 60 } } },
      { write: { type: 'leaseGrant', leaseGrant: { id: 4343n, ttlSeconds: 60 } } },
      put('l/a', '1', { lease: BIG_LEASE }),
      put('l/b', '1', { lease: BIG_LEASE }),
      put('l/c', '1', { lease: BIG_LEASE + 1n }),
      put('l/c', '1', { lease: 4343n }),
      txn({
        compare: [{ key: b('l/a'), target: 'lease', result: 'equal', lease: BIG_LEASE }],
        success: [rg('l/a')],
        failure: [],
      }),
      txn({
        compare: [{ key: b('l/a'), target: 'lease', result: 'greater', lease: BIG_LEASE - 1n }],
        success: [rg('l/b')],
        failure: [],
      }),
      put('l/a', '', { ignoreValue: true, lease: 0n }),
      put('l/b', 'x', { ignoreLease: true }),
      get('l/', prefix('l/')),
      { write: { type: 'leaseRevoke', leaseRevoke: { id: BIG_LEASE } } },
      get('l/', prefix('l/')),
      { write: { type: 'leaseRevoke', leaseRevoke: { id: BIG_LEASE } } },
      put('l/none', '', { ignoreValue: true }),
    ],
  ],
  [
    'refusals',
    [
      txn({ compare: [], success: [rp('x/a', '1'), rp('x/a', '2')], failure: [] }),
      txn({
        compare: [],
        success: [rd('x/a', { rangeEnd: b('x/c') }), rp('x/b', '1')],
        failure: [],
      }),
      txn({
        compare: [],
        success: Array.from({ length: 129 }, (_, i) => rp(`x/${i}`, 'v')),
        failure: [],
      }),
      put('x/a', 'x', { ignoreValue: true }),
    ],
  ],
  [
    'compaction',
    [
      put('z/a', '1'),
      put('z/a', '2'),
      { write: { type: 'compaction', compaction: { revision: 1_000_000 } } },
      { write: { type: 'compaction', compaction: { revision: 4 } } },
      { write: { type: 'compaction', compaction: { revision: 4 } } },
      { write: { type: 'compaction', compaction: { revision: 3 } } },
      get('z/a', { revision: 3 }),
      get('z/a', { revision: 4 }),
      get('z/a'),
    ],
  ],
]

describe.runIf(etcdInstalled || required)('the store against etcd 3.4.23', () => {
  let etcd: RunningEtcd
  let t: TestStore
  let cleanup: () => void

  beforeAll(async () => {
    etcd = await startEtcd()
    const tmp = tempDbDir()
    cleanup = tmp.cleanup
    t = await TestStore.open(tmp.dir)
  }, 30_000)

  afterAll(async () => {
    if (etcd) await stopEtcd(etcd)
    await t?.store.close()
    cleanup?.()
  })

  // The scenarios share one history (both start at revision 1), so they run in order.
  it.each(scenarios)('%s', async (_name, steps) => {
    for (const [i, step] of steps.entries()) {
      let ours: unknown
      let theirs: unknown
      if ('write' in step) {
        ours = await t.apply(step.write)
        theirs = await onEtcd(etcd.client, step.write)
      } else {
        try {
          ours = t.store.range(step.read)
        } catch (err) {
          ours = { error: (err as { code: string }).code }
        }
        theirs = await rangeOnEtcd(etcd.client, step.read)
      }
      expect(plain(ours), `step ${i}: ${JSON.stringify(plain(step))}`).toEqual(plain(theirs))
    }
  })
})
