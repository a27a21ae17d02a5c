// Bad input gets a clear gRPC error and never takes the server down: bytes that are not a
// protobuf message, requests over etcd's size limits, int64 values that raftdesk cannot hold
// exactly, empty keys. After each, a good request still works.
import * as grpc from '@grpc/grpc-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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
let raw: grpc.Client

beforeAll(async () => {
  fake = await startFakeServer()
  clients = etcdClients(fake.endpoint)
  raw = new grpc.Client(fake.endpoint, grpc.credentials.createInsecure())
})

afterAll(async () => {
  raw?.close()
  clients?.close()
  await fake?.close()
})

function rawUnary(path: string, bytes: Buffer): Promise<grpc.ServiceError | Buffer> {
  return new Promise((resolve) => {
    raw.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      (err, res) => resolve(err ?? res!),
    )
  })
}

async function expectServerStillUp(): Promise<void> {
  const key = `alive-${Math.random()}`
  await call(clients.kv, 'Put', { key: Buffer.from(key), value: Buffer.from('yes') })
  const res = await call<{ kvs: { value: Buffer }[] }>(clients.kv, 'Range', {
    key: Buffer.from(key),
  })
  expect(res.kvs[0]!.value.toString()).toBe('yes')
}

const v = (s: string) => Buffer.from(s)

describe('malformed protobuf', () => {
  // Field 1 (key, length-delimited) announcing 33554431 bytes that are not there.
  const truncated = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f])
  // Field 1 with wire type 7, which protobuf does not define.
  const badWireType = Buffer.from([0x0f, 0x01])

  it.each([
    ['/etcdserverpb.KV/Range', truncated],
    ['/etcdserverpb.KV/Put', badWireType],
    ['/etcdserverpb.KV/Txn', truncated],
    ['/etcdserverpb.Lease/LeaseGrant', badWireType],
    ['/etcdserverpb.Cluster/MemberAdd', truncated],
    ['/etcdserverpb.Maintenance/Status', badWireType],
  ])('%s answers INVALID_ARGUMENT', async (path, bytes) => {
    const res = await rawUnary(path, bytes)
    expect(res).toBeInstanceOf(Error)
    const err = res as grpc.ServiceError
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT)
    expect(err.details).toMatch(/is not a valid protobuf message/)
    await expectServerStillUp()
  })

  it('ends a Watch stream that receives garbage with INVALID_ARGUMENT', async () => {
    const stream = raw.makeBidiStreamRequest(
      '/etcdserverpb.Watch/Watch',
      (b: Buffer) => b,
      (b: Buffer) => b,
    )
    const status = new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve))
    stream.on('error', () => {})
    stream.on('data', () => {})
    stream.write(truncated)
    expect((await status).code).toBe(grpc.status.INVALID_ARGUMENT)
    await expectServerStillUp()
  })

  it('answers a well-formed but unknown method with UNIMPLEMENTED', async () => {
    const res = (await rawUnary('/etcdserverpb.KV/Nope', Buffer.alloc(0))) as grpc.ServiceError
    expect(res.code).toBe(grpc.status.UNIMPLEMENTED)
    await expectServerStillUp()
  })
})

describe('request size', () => {
  it('refuses a write over 1.5 MiB with etcd\'s "request is too large"', async () => {
    const value = Buffer.alloc(1.5 * 1024 * 1024 + 100, 0x61)
    const err = await callError(clients.kv, 'Put', { key: v('big'), value })
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT)
    expect(err.details).toBe('etcdserver: request is too large')
    const missing = await call<{ count: string }>(clients.kv, 'Range', { key: v('big') })
    expect(missing.count).toBe('0')
    await expectServerStillUp()
  })

  it('accepts a write just under the limit', async () => {
    const value = Buffer.alloc(1.5 * 1024 * 1024 - 100, 0x62)
    await call(clients.kv, 'Put', { key: v('almost'), value })
    const res = await call<{ kvs: { value: Buffer }[] }>(clients.kv, 'Range', { key: v('almost') })
    expect(res.kvs[0]!.value.length).toBe(value.length)
  })

  it('refuses a message over limit + gRPC overhead (2 MiB) before decoding it', async () => {
    const value = Buffer.alloc(2 * 1024 * 1024 + 10, 0x63)
    const err = await callError(clients.kv, 'Put', { key: v('huge'), value })
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED)
    expect(err.details).toMatch(/larger than max/)
    await expectServerStillUp()
  })
})

describe('int64 values raftdesk cannot hold exactly', () => {
  it('takes client-chosen lease ids over all 63 bits exactly, as etcd does', async () => {
    const id = '9223372036854775807'
    const res = await call<{ ID: string }>(clients.lease, 'LeaseGrant', { TTL: 10, ID: id })
    expect(res.ID).toBe(id)
    expect(await fake.backend.leaseLeases()).toEqual([2n ** 63n - 1n])
    await call(clients.kv, 'Put', { key: v('held'), value: v('1'), lease: id })
    const got = await call<{ kvs: Array<{ lease: string }> }>(clients.kv, 'Range', {
      key: v('held'),
    })
    expect(got.kvs[0]!.lease).toBe(id)
    const ttl = await call<{ ID: string; TTL: string }>(clients.lease, 'LeaseTimeToLive', {
      ID: id,
    })
    expect(ttl).toMatchObject({ ID: id, grantedTTL: '10' })
    // The id just below it names no lease.
    const err = await callError(clients.kv, 'Txn', {
      success: [{ requestPut: { key: v('k'), value: v('v'), lease: '9223372036854775806' } }],
    })
    expect(err.details).toBe('etcdserver: requested lease not found')
    await expectServerStillUp()
  })

  it('refuses a range revision of 2^63-1 instead of rounding it', async () => {
    const err = await callError(clients.kv, 'Range', {
      key: v('a'),
      revision: '9223372036854775807',
    })
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT)
    expect(err.details).toMatch(/RangeRequest\.revision = 9223372036854775807 is out of range/)
  })

  it('refuses a member id above 2^53 (uint64)', async () => {
    const err = await callError(clients.cluster, 'MemberRemove', { ID: '18446744073709551615' })
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT)
    expect(err.details).toMatch(/MemberRemoveRequest\.ID = 18446744073709551615/)
  })
})

describe('empty keys', () => {
  it.each([
    ['Range', {}],
    ['Put', { value: v('x') }],
    ['DeleteRange', {}],
  ])('%s with an empty key is "key is not provided"', async (method, req) => {
    const err = await callError(clients.kv, method, req)
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT)
    expect(err.details).toBe('etcdserver: key is not provided')
    await expectServerStillUp()
  })

  it('an empty key inside a txn is refused too, and nothing is written', async () => {
    const before = fake.backend.revision
    const err = await callError(clients.kv, 'Txn', {
      success: [{ requestPut: { key: v('ok'), value: v('1') } }, { requestRange: { key: v('') } }],
    })
    expect(err.details).toBe('etcdserver: key is not provided')
    expect(fake.backend.revision).toBe(before)
  })
})
