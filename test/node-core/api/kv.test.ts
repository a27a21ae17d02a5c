// The KV, Lease, Cluster and Maintenance services through a raw gRPC client built from
// raftdesk's protos: requests reach the backend mapped one to one, every response carries the
// header, backend errors arrive with etcd's codes and texts, and etcd's request checks hold.
import * as grpc from '@grpc/grpc-js'
import { afterAll, beforeEach, beforeAll, describe, expect, it } from 'vitest'
import { EtcdServerError } from '../../../node-core/api/errors'
import { RaftdeskError } from '../../../node-core/errors'
import type { RangeRequest, TxnRequest } from '../../../node-core/mvcc/types'
import {
  call,
  callError,
  etcdClients,
  startFakeServer,
  type EtcdClients,
  type FakeServer,
} from './harness'

let fake: FakeServer
let clients: EtcdClients

beforeAll(async () => {
  fake = await startFakeServer()
  clients = etcdClients(fake.endpoint)
})

afterAll(async () => {
  clients?.close()
  await fake?.close()
})

beforeEach(async () => {
  await call(clients.kv, 'DeleteRange', { key: Buffer.from([0]), rangeEnd: Buffer.from([0]) })
})

const v = (s: string) => Buffer.from(s)
type Header = { clusterId: string; memberId: string; revision: string; raftTerm: string }

function expectHeader(header: Header, revision: number): void {
  expect(header).toEqual({
    clusterId: String(fake.backend.clusterId),
    memberId: String(fake.backend.memberId),
    revision: String(revision),
    raftTerm: String(fake.backend.raftTerm),
  })
}

describe('KV', () => {
  it('puts and ranges with full headers and key-values', async () => {
    const put = await call<{ header: Header }>(clients.kv, 'Put', { key: v('a'), value: v('1') })
    const rev = fake.backend.revision
    expectHeader(put.header, rev)
    const got = await call<{ header: Header; kvs: object[]; count: string; more: boolean }>(
      clients.kv,
      'Range',
      { key: v('a') },
    )
    expectHeader(got.header, rev)
    expect(got.kvs).toEqual([
      {
        key: v('a'),
        createRevision: String(rev),
        modRevision: String(rev),
        version: '1',
        value: v('1'),
        lease: '0',
      },
    ])
    expect(got.count).toBe('1')
    expect(got.more).toBe(false)
  })

  it('hands the backend the request mapped one to one (serializable, filters, sort)', async () => {
    const seen: RangeRequest[] = []
    const original = fake.backend.range.bind(fake.backend)
    fake.backend.range = (req) => {
      seen.push(req)
      return original(req)
    }
    try {
      await call(clients.kv, 'Range', {
        key: v('a'),
        rangeEnd: v('z'),
        limit: 3,
        serializable: true,
        sortOrder: 'DESCEND',
        sortTarget: 'CREATE',
        countOnly: true,
        minModRevision: 2,
        maxCreateRevision: 9,
      })
    } finally {
      fake.backend.range = original
    }
    expect(seen).toEqual([
      {
        key: v('a'),
        rangeEnd: v('z'),
        limit: 3,
        revision: 0,
        sortOrder: 'descend',
        sortTarget: 'create',
        serializable: true,
        keysOnly: false,
        countOnly: true,
        minModRevision: 2,
        maxModRevision: 0,
        minCreateRevision: 0,
        maxCreateRevision: 9,
      },
    ])
  })

  it('answers count_only with the count and no key-values', async () => {
    for (const k of ['p1', 'p2', 'p3']) await call(clients.kv, 'Put', { key: v(k), value: v(k) })
    const res = await call<{ kvs: object[]; count: string }>(clients.kv, 'Range', {
      key: v('p'),
      rangeEnd: v('q'),
      countOnly: true,
    })
    expect(res).toMatchObject({ kvs: [], count: '3' })
  })

  it('returns prev_kv on put and prev_kvs on delete', async () => {
    await call(clients.kv, 'Put', { key: v('x'), value: v('old') })
    const put = await call<{ prevKv: { value: Buffer } }>(clients.kv, 'Put', {
      key: v('x'),
      value: v('new'),
      prevKv: true,
    })
    expect(put.prevKv.value.toString()).toBe('old')
    const del = await call<{ deleted: string; prevKvs: { value: Buffer }[] }>(
      clients.kv,
      'DeleteRange',
      { key: v('x'), prevKv: true },
    )
    expect(del.deleted).toBe('1')
    expect(del.prevKvs.map((kv) => kv.value.toString())).toEqual(['new'])
  })

  it('maps a nested txn both ways, with revision-only headers inside', async () => {
    await call(clients.kv, 'Put', { key: v('t'), value: v('1') })
    const seen: TxnRequest[] = []
    const original = fake.backend.txn.bind(fake.backend)
    fake.backend.txn = (req) => {
      seen.push(req)
      return original(req)
    }
    let res: { header: Header; succeeded: boolean; responses: Record<string, unknown>[] }
    try {
      res = await call(clients.kv, 'Txn', {
        compare: [{ key: v('t'), target: 'VALUE', result: 'EQUAL', value: v('1') }],
        success: [
          { requestPut: { key: v('u'), value: v('2') } },
          {
            requestTxn: {
              compare: [{ key: v('u'), target: 'VERSION', result: 'GREATER', version: 0 }],
              success: [{ requestRange: { key: v('u') } }],
            },
          },
        ],
        failure: [{ requestDeleteRange: { key: v('t') } }],
      })
    } finally {
      fake.backend.txn = original
    }
    expect(seen[0]).toEqual({
      compare: [
        { result: 'equal', target: 'value', key: v('t'), rangeEnd: undefined, value: v('1') },
      ],
      success: [
        {
          requestPut: {
            key: v('u'),
            value: v('2'),
            lease: 0n,
            prevKv: false,
            ignoreValue: false,
            ignoreLease: false,
          },
        },
        {
          requestTxn: {
            compare: [
              {
                result: 'greater',
                target: 'version',
                key: v('u'),
                rangeEnd: undefined,
                version: 0,
              },
            ],
            success: [{ requestRange: expect.objectContaining({ key: v('u'), revision: 0 }) }],
            failure: [],
          },
        },
      ],
      failure: [{ requestDeleteRange: { key: v('t'), rangeEnd: undefined, prevKv: false } }],
    })
    const rev = fake.backend.revision
    expectHeader(res.header, rev)
    expect(res.succeeded).toBe(true)
    expect(res.responses[0]).toMatchObject({
      response: 'responsePut',
      responsePut: { header: { revision: String(rev), clusterId: '0', memberId: '0' } },
    })
    expect(res.responses[1]).toMatchObject({
      response: 'responseTxn',
      responseTxn: {
        succeeded: true,
        responses: [
          {
            responseRange: {
              header: { revision: String(rev) },
              kvs: [{ key: v('u'), value: v('2') }],
            },
          },
        ],
      },
    })
  })

  it("applies etcd's request checks before the backend sees anything", async () => {
    const before = fake.backend.revision
    const cases: [string, object, string][] = [
      ['Put', { key: v('k'), value: v('v'), ignoreValue: true }, 'etcdserver: value is provided'],
      ['Put', { key: v('k'), lease: 5, ignoreLease: true }, 'etcdserver: lease is provided'],
      [
        'Txn',
        { success: Array.from({ length: 129 }, (_, i) => ({ requestPut: { key: v(`k${i}`) } })) },
        'etcdserver: too many operations in txn request',
      ],
      [
        'Txn',
        { success: [{ requestPut: { key: v('d') } }, { requestPut: { key: v('d') } }] },
        'etcdserver: duplicate key given in txn request',
      ],
      ['Txn', { success: [{}] }, 'etcdserver: key not found'],
    ]
    for (const [method, req, message] of cases) {
      const err = await callError(clients.kv, method, req)
      expect([err.code, err.details]).toEqual([grpc.status.INVALID_ARGUMENT, message])
    }
    expect(fake.backend.revision).toBe(before)
  })
})

describe('backend errors', () => {
  it.each([
    [
      'range',
      'Range',
      { key: v('a') },
      'NO_LEADER',
      grpc.status.UNAVAILABLE,
      'etcdserver: no leader',
    ],
    [
      'put',
      'Put',
      { key: v('a') },
      'TIMEOUT',
      grpc.status.UNAVAILABLE,
      'etcdserver: request timed out',
    ],
    ['txn', 'Txn', {}, 'LEADER_CHANGED', grpc.status.UNAVAILABLE, 'etcdserver: leader changed'],
    [
      'deleteRange',
      'DeleteRange',
      { key: v('a') },
      'NOT_LEADER',
      grpc.status.FAILED_PRECONDITION,
      'etcdserver: not leader',
    ],
    [
      'compact',
      'Compact',
      { revision: 1 },
      'NO_SPACE',
      grpc.status.RESOURCE_EXHAUSTED,
      'etcdserver: mvcc: database space exceeded',
    ],
  ] as const)(
    '%s throwing %s reaches the client as etcd says',
    async (fn, method, req, code, grpcCode, text) => {
      fake.backend.failures.set(fn, new EtcdServerError(code))
      const err = await callError(clients.kv, method, req)
      expect([err.code, err.details]).toEqual([grpcCode, text])
    },
  )

  it("maps the store's own revision errors by code", async () => {
    const err = await callError(clients.kv, 'Range', { key: v('a'), revision: 1_000_000 })
    expect([err.code, err.details]).toEqual([
      grpc.status.OUT_OF_RANGE,
      'etcdserver: mvcc: required revision is a future revision',
    ])
    class StoreError extends RaftdeskError {}
    fake.backend.failures.set('range', new StoreError('COMPACTED', 'rev 2 < compacted 5'))
    const compacted = await callError(clients.kv, 'Range', { key: v('a') })
    expect(compacted.details).toBe('etcdserver: mvcc: required revision has been compacted')
  })

  it('reports an untyped backend failure as UNKNOWN and keeps serving', async () => {
    const original = fake.backend.range.bind(fake.backend)
    fake.backend.range = () => Promise.reject(new TypeError('boom'))
    try {
      const err = await callError(clients.kv, 'Range', { key: v('a') })
      expect([err.code, err.details]).toEqual([grpc.status.UNKNOWN, 'boom'])
    } finally {
      fake.backend.range = original
    }
    await call(clients.kv, 'Range', { key: v('a') })
  })

  it('serves only Status and serializable Range on a learner, as etcd does', async () => {
    fake.backend.learner = true
    try {
      const refused = [grpc.status.UNAVAILABLE, 'etcdserver: rpc not supported for learner']
      const put = await callError(clients.kv, 'Put', { key: v('a'), value: v('1') })
      expect([put.code, put.details]).toEqual(refused)
      const linearizable = await callError(clients.kv, 'Range', { key: v('a') })
      expect([linearizable.code, linearizable.details]).toEqual(refused)
      const members = await callError(clients.cluster, 'MemberList', {})
      expect([members.code, members.details]).toEqual(refused)
      const stream = clients.watch['Watch']!() as grpc.ClientDuplexStream<object, object>
      const streamError = await new Promise<grpc.ServiceError>((resolve) => {
        stream.on('error', resolve)
        stream.on('data', () => undefined)
        stream.write({ createRequest: { key: v('a') } })
      })
      expect([streamError.code, streamError.details]).toEqual(refused)
      const keepAlive = clients.lease['LeaseKeepAlive']!() as grpc.ClientDuplexStream<
        object,
        object
      >
      const keepAliveError = await new Promise<grpc.ServiceError>((resolve) => {
        keepAlive.on('error', resolve)
        keepAlive.on('data', () => undefined)
        keepAlive.write({ ID: '1' })
      })
      expect([keepAliveError.code, keepAliveError.details]).toEqual(refused)
      await call(clients.kv, 'Range', { key: v('a'), serializable: true })
      await call(clients.maintenance, 'Status', {})
    } finally {
      fake.backend.learner = false
    }
    await call(clients.kv, 'Range', { key: v('a') })
  })

  it('fails fast without a leader when the client requires one (clientv3 "hasleader")', async () => {
    const md = new grpc.Metadata()
    md.set('hasleader', 'true')
    fake.backend.leader = 0
    try {
      const err = await callError(clients.kv, 'Range', { key: v('a') }, md)
      expect([err.code, err.details]).toEqual([grpc.status.UNAVAILABLE, 'etcdserver: no leader'])
      await call(clients.kv, 'Range', { key: v('a') }) // without the metadata it is served
    } finally {
      fake.backend.leader = fake.backend.memberId
    }
    await call(clients.kv, 'Range', { key: v('a') }, md)
  })
})

describe('Lease', () => {
  it("grants, lists, reports and revokes with etcd's not-found answers", async () => {
    const granted = await call<{ ID: string; TTL: string; header: Header }>(
      clients.lease,
      'LeaseGrant',
      { TTL: 30 },
    )
    expect(granted.TTL).toBe('30')
    expectHeader(granted.header, fake.backend.revision)
    const id = granted.ID
    const list = await call<{ leases: { ID: string }[] }>(clients.lease, 'LeaseLeases', {})
    expect(list.leases).toContainEqual({ ID: id })
    await call(clients.kv, 'Put', { key: v('leased'), value: v('1'), lease: id })
    const ttl = await call<{ ID: string; TTL: string; grantedTTL: string; keys: Buffer[] }>(
      clients.lease,
      'LeaseTimeToLive',
      { ID: id, keys: true },
    )
    expect(ttl).toMatchObject({ ID: id, grantedTTL: '30', keys: [v('leased')] })
    expect(Number(ttl.TTL)).toBeGreaterThan(25)
    await call(clients.lease, 'LeaseRevoke', { ID: id })
    const gone = await call<{ TTL: string }>(clients.lease, 'LeaseTimeToLive', { ID: id })
    expect(gone).toMatchObject({ ID: id, TTL: '-1', grantedTTL: '0' })
    const err = await callError(clients.lease, 'LeaseRevoke', { ID: id })
    expect([err.code, err.details]).toEqual([
      grpc.status.NOT_FOUND,
      'etcdserver: requested lease not found',
    ])
    const missing = await call<{ count: string }>(clients.kv, 'Range', { key: v('leased') })
    expect(missing.count).toBe('0')
  })

  it('refuses a put on a lease that does not exist', async () => {
    const err = await callError(clients.kv, 'Put', { key: v('k'), value: v('v'), lease: 12345 })
    expect(err.details).toBe('etcdserver: requested lease not found')
  })
})

describe('Cluster and Maintenance', () => {
  it("lists members with a header that has no revision, as etcd's", async () => {
    const res = await call<{ header: Header; members: object[] }>(clients.cluster, 'MemberList', {})
    expectHeader(res.header, 0)
    expect(res.members).toEqual([
      {
        ID: String(fake.backend.memberId),
        name: 'fake1',
        peerURLs: ['http://127.0.0.1:2380'],
        clientURLs: ['http://127.0.0.1:2379'],
        isLearner: false,
      },
    ])
  })

  it('adds, promotes, updates and removes a learner; refuses bad peer URLs', async () => {
    const bad = await callError(clients.cluster, 'MemberAdd', { peerURLs: ['10.0.0.9:2380'] })
    expect([bad.code, bad.details]).toEqual([
      grpc.status.INVALID_ARGUMENT,
      'etcdserver: given member URLs are invalid',
    ])
    const added = await call<{ member: { ID: string; isLearner: boolean }; members: object[] }>(
      clients.cluster,
      'MemberAdd',
      { peerURLs: ['http://10.0.0.9:2380'], isLearner: true },
    )
    expect(added.member.isLearner).toBe(true)
    expect(added.members).toHaveLength(2)
    const id = added.member.ID
    const promoted = await call<{ members: { ID: string; isLearner: boolean }[] }>(
      clients.cluster,
      'MemberPromote',
      { ID: id },
    )
    expect(promoted.members.find((m) => m.ID === id)!.isLearner).toBe(false)
    const again = await callError(clients.cluster, 'MemberPromote', { ID: id })
    expect(again.details).toBe('etcdserver: can only promote a learner member')
    await call(clients.cluster, 'MemberUpdate', { ID: id, peerURLs: ['http://10.0.0.10:2380'] })
    expect(fake.backend.members.find((m) => String(m.id) === id)!.peerUrls).toEqual([
      'http://10.0.0.10:2380',
    ])
    await call(clients.cluster, 'MemberRemove', { ID: id })
    const gone = await callError(clients.cluster, 'MemberRemove', { ID: id })
    expect([gone.code, gone.details]).toEqual([
      grpc.status.NOT_FOUND,
      'etcdserver: member not found',
    ])
  })

  it('reports status from the backend', async () => {
    const res = await call<Record<string, unknown>>(clients.maintenance, 'Status', {})
    expect(res).toMatchObject({
      version: fake.backend.version,
      leader: String(fake.backend.leader),
      raftIndex: String(fake.backend.raftIndex),
      raftTerm: String(fake.backend.raftTerm),
      raftAppliedIndex: String(fake.backend.raftAppliedIndex),
      dbSize: '20480',
      dbSizeInUse: '16384',
      isLearner: false,
      errors: [],
    })
    expectHeader(res['header'] as Header, fake.backend.revision)
  })

  it('raises, lists and clears alarms', async () => {
    const memberID = fake.backend.memberId
    await call(clients.maintenance, 'Alarm', { action: 'ACTIVATE', memberID, alarm: 'NOSPACE' })
    const got = await call<{ alarms: object[] }>(clients.maintenance, 'Alarm', { action: 'GET' })
    expect(got.alarms).toEqual([{ memberID: String(memberID), alarm: 'NOSPACE' }])
    await call(clients.maintenance, 'Alarm', { action: 'DEACTIVATE', memberID, alarm: 'NOSPACE' })
    const none = await call<{ alarms: object[] }>(clients.maintenance, 'Alarm', { action: 'GET' })
    expect(none.alarms).toEqual([])
  })

  it('moves the leader, and says so when the target is bad', async () => {
    const err = await callError(clients.maintenance, 'MoveLeader', { targetID: 999 })
    expect(err.details).toBe('etcdserver: bad leader transferee')
    const other = 0x7777
    fake.backend.members.push({
      id: other,
      name: 'n2',
      peerUrls: [],
      clientUrls: [],
      isLearner: false,
    })
    try {
      await call(clients.maintenance, 'MoveLeader', { targetID: other })
      expect(fake.backend.leader).toBe(other)
    } finally {
      fake.backend.leader = fake.backend.memberId
      fake.backend.members.pop()
    }
  })

  it('answers Hash and HashKV from the backend, with the revision asked for', async () => {
    const hashKV = await call<{ hash: number; compactRevision: string }>(
      clients.maintenance,
      'HashKV',
      { revision: '3' },
    )
    expect(fake.backend.hashKVAsked.at(-1)).toBe(3)
    expect([hashKV.hash, hashKV.compactRevision]).toEqual([0x1234abcd, '0'])
    const hash = await call<{ hash: number }>(clients.maintenance, 'Hash', {})
    expect(hash.hash).toBe(0x1234abcd)
    fake.backend.failures.set('hashKV', new EtcdServerError('FUTURE_REV'))
    const err = await callError(clients.maintenance, 'HashKV', { revision: '99' })
    expect([err.code, err.details]).toEqual([
      grpc.status.OUT_OF_RANGE,
      'etcdserver: mvcc: required revision is a future revision',
    ])
  })

  it('streams a snapshot in chunks of at most 32 KiB, and a failure as its status', async () => {
    fake.backend.snapshotImage = new Uint8Array(200_000).fill(7)
    const blobs: Buffer[] = []
    const stream = clients.maintenance['Snapshot']({})
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      stream.on('status', resolve)
      stream.on('error', () => {})
      stream.on('data', (r: { blob: Buffer }) => blobs.push(r.blob))
    })
    expect(status.code).toBe(grpc.status.OK)
    expect(Math.max(...blobs.map((b) => b.byteLength))).toBeLessThanOrEqual(32 * 1024)
    expect(Buffer.concat(blobs).byteLength % 512).toBe(32)
    fake.backend.failures.set('snapshot', new EtcdServerError('STOPPED'))
    const failing = clients.maintenance['Snapshot']({})
    const failed = await new Promise<grpc.StatusObject>((resolve) => {
      failing.on('status', resolve)
      failing.on('error', () => {})
      failing.on('data', () => {})
    })
    expect([failed.code, failed.details]).toEqual([
      grpc.status.UNAVAILABLE,
      'etcdserver: server stopped',
    ])
  })
})
