import { describe, expect, it } from 'vitest'
import type { AuthOp } from '../../../node-core/mvcc/auth'
import type { RequestOp, TxnRequest, WriteOp } from '../../../node-core/mvcc/types'
import { createPrng, type Prng } from '../../../node-core/raft/prng'
import {
  RequestCodecError,
  decodeRequest,
  encodeRequest,
} from '../../../node-core/server/request-codec'

const b = (s: string) => new TextEncoder().encode(s)

const samples: WriteOp[] = [
  { type: 'put', put: { key: b('foo'), value: b('bar') } },
  {
    type: 'put',
    put: {
      key: b('k'),
      value: new Uint8Array(0),
      lease: 2n ** 63n - 1n,
      prevKv: true,
      ignoreLease: true,
    },
  },
  { type: 'put', put: { key: b('k'), value: b(''), ignoreValue: true } },
  { type: 'deleteRange', deleteRange: { key: b('a') } },
  { type: 'deleteRange', deleteRange: { key: b('a'), rangeEnd: b('b'), prevKv: true } },
  { type: 'deleteRange', deleteRange: { key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) } },
  { type: 'compaction', compaction: { revision: 12345, physical: true } },
  { type: 'compaction', compaction: { revision: 1, physical: false } },
  { type: 'leaseGrant', leaseGrant: { id: 2n ** 52n, ttlSeconds: 60 } },
  { type: 'leaseGrant', leaseGrant: { id: 0x7a3c_91f2_0b44_6e15n, ttlSeconds: 60 } },
  { type: 'leaseRevoke', leaseRevoke: { id: 7n } },
  {
    type: 'txn',
    txn: {
      compare: [
        { result: 'equal', target: 'value', key: b('k'), value: b('v') },
        { result: 'greater', target: 'version', key: b('k'), version: 3 },
        { result: 'less', target: 'create', key: b('a'), rangeEnd: b('z'), createRevision: 9 },
        { result: 'notEqual', target: 'mod', key: b('k'), modRevision: 0 },
        { result: 'equal', target: 'lease', key: b('k'), lease: 5n },
        { result: 'greater', target: 'lease', key: b('k'), lease: -(2n ** 63n) },
      ],
      success: [
        { requestPut: { key: b('k'), value: b('w'), prevKv: true } },
        {
          requestRange: {
            key: b('a'),
            rangeEnd: b('b'),
            limit: 10,
            revision: 4,
            sortOrder: 'descend',
            sortTarget: 'mod',
            keysOnly: true,
            minModRevision: 1,
            maxCreateRevision: 99,
          },
        },
        {
          requestTxn: {
            compare: [],
            success: [{ requestDeleteRange: { key: b('x') } }],
            failure: [],
          },
        },
      ],
      failure: [{ requestRange: { key: b('k'), countOnly: true, serializable: true } }],
    },
  },
  ...authSamples(),
  { type: 'alarm', alarm: { action: 'activate', memberId: 2 ** 52, alarm: 'nospace' } },
  { type: 'alarm', alarm: { action: 'deactivate', memberId: 1, alarm: 'corrupt' } },
]

function authSamples(): WriteOp[] {
  const password = {
    kdf: 'scrypt' as const,
    N: 16384,
    r: 8,
    p: 1,
    salt: new Uint8Array([1, 2, 3]),
    hash: new Uint8Array(64).fill(7),
  }
  const ops: AuthOp[] = [
    { type: 'authEnable' },
    { type: 'authDisable' },
    { type: 'authenticate', name: 'ålice', tokenPrefix: 'AbCdEf' },
    { type: 'userAdd', name: 'u', password },
    { type: 'userAdd', name: 'nopw', password: null },
    { type: 'userDelete', name: 'u' },
    { type: 'userChangePassword', name: 'u', password },
    { type: 'userGrantRole', user: 'u', role: 'r' },
    { type: 'userRevokeRole', name: 'u', role: 'r' },
    { type: 'roleAdd', name: 'r' },
    { type: 'roleDelete', role: 'r' },
    {
      type: 'roleGrantPermission',
      name: 'r',
      perm: { type: 'readwrite', key: b('a'), rangeEnd: new Uint8Array([0]) },
    },
    { type: 'roleRevokePermission', role: 'r', key: b('a'), rangeEnd: new Uint8Array(0) },
  ]
  return ops.map((auth) => ({ type: 'auth', auth }))
}

describe('request codec', () => {
  it.each(samples.map((op, i) => [i, op] as const))('round-trips sample %i', (_i, op) => {
    const encoded = encodeRequest({ id: 42, op })
    expect(decodeRequest(encoded)).toEqual({ id: 42, op })
  })

  it('carries who sent a request, and leaves requests without one as before', () => {
    const who = { user: 'alice', revision: 17 }
    const op = samples[0]!
    expect(decodeRequest(encodeRequest({ id: 5, op, who }))).toEqual({ id: 5, op, who })
    expect(encodeRequest({ id: 5, op })[0]).toBe(1)
    expect(encodeRequest({ id: 5, op, who })[0]).toBe(2)
  })

  it('keeps a put compact', () => {
    const encoded = encodeRequest({
      id: 2 ** 40,
      op: { type: 'put', put: { key: new Uint8Array(8), value: new Uint8Array(256) } },
    })
    expect(encoded.byteLength).toBeLessThanOrEqual(8 + 256 + 16)
  })

  it('decodes an empty payload as no request', () => {
    expect(decodeRequest(new Uint8Array(0))).toBeNull()
  })

  it('refuses every truncation with a typed error', () => {
    for (const op of samples) {
      const encoded = encodeRequest({ id: 300, op })
      for (let cut = 1; cut < encoded.byteLength; cut++) {
        expect(() => decodeRequest(encoded.subarray(0, cut)), `cut at ${cut}`).toThrow(
          RequestCodecError,
        )
      }
    }
  })

  it('refuses trailing bytes, unknown tags and versions', () => {
    const encoded = encodeRequest({ id: 1, op: samples[0]! })
    expect(() => decodeRequest(new Uint8Array([...encoded, 0]))).toThrow(/trailing/)
    const badTag = encoded.slice()
    badTag[2] = 99
    expect(() => decodeRequest(badTag)).toThrow(/unknown op tag 99/)
    const badVersion = encoded.slice()
    badVersion[0] = 9
    expect(() => decodeRequest(badVersion)).toThrow(/format version 9/)
  })

  it('writes lease ids below 2^53 as the varints of older logs, larger ones in up to 10 bytes', () => {
    const put = (lease: bigint) =>
      encodeRequest({ id: 0, op: { type: 'put', put: { key: b('k'), value: b(''), lease } } })
    // format, request id 0, tag, key, value, then the lease: 300 is the varint ac 02.
    expect([...put(300n).subarray(6, 8)]).toEqual([0xac, 0x02])
    expect(put(2n ** 63n - 1n).length - put(300n).length).toBe(9 - 2)
    const op = decodeRequest(put(2n ** 63n - 1n))?.op
    expect(op?.type === 'put' && op.put.lease).toBe(2n ** 63n - 1n)
  })

  it('refuses numbers it cannot carry exactly', () => {
    expect(() =>
      encodeRequest({ id: 1, op: { type: 'leaseRevoke', leaseRevoke: { id: 2n ** 63n } } }),
    ).toThrow(RequestCodecError)
    expect(() =>
      encodeRequest({ id: 1, op: { type: 'compaction', compaction: { revision: 2 ** 53 } } }),
    ).toThrow(RequestCodecError)
    expect(() => encodeRequest({ id: -1, op: samples[0]! })).toThrow(RequestCodecError)
  })

  it('round-trips random requests', () => {
    const seed = Number(process.env['SEED'] ?? 20261126)
    const prng = createPrng(seed)
    for (let i = 0; i < 500; i++) {
      const op = randomOp(prng, 0)
      const id = prng.int(0, 2 ** 31)
      expect(decodeRequest(encodeRequest({ id, op })), `seed ${seed} case ${i}`).toEqual({ id, op })
    }
  })
})

/** A lease id anywhere in [1, 2^63): 63 random bits from the seeded generator. */
function randomLeaseId(p: Prng): bigint {
  const hi = BigInt(p.int(0, 2 ** 31))
  const lo = BigInt(p.int(0, 2 ** 32))
  return (hi << 32n) | lo || 1n
}

function randomBytes(p: Prng): Uint8Array {
  return Uint8Array.from({ length: p.int(0, 12) }, () => p.int(0, 256))
}

function randomTxn(p: Prng, depth: number): TxnRequest {
  const ops = (): RequestOp[] =>
    Array.from({ length: p.int(0, 3) }, (): RequestOp => {
      const k = p.int(0, depth < 2 ? 4 : 3)
      if (k === 0) return { requestRange: { key: randomBytes(p), limit: p.int(1, 9) } }
      if (k === 1) return { requestPut: { key: randomBytes(p), value: randomBytes(p) } }
      if (k === 2) return { requestDeleteRange: { key: randomBytes(p), rangeEnd: randomBytes(p) } }
      return { requestTxn: randomTxn(p, depth + 1) }
    })
  return {
    compare: Array.from({ length: p.int(0, 3) }, () => ({
      result: 'equal' as const,
      target: 'version' as const,
      key: randomBytes(p),
      version: p.int(0, 100),
    })),
    success: ops(),
    failure: ops(),
  }
}

function randomOp(p: Prng, depth: number): WriteOp {
  switch (p.int(0, 4)) {
    case 0:
      return {
        type: 'put',
        put: {
          key: randomBytes(p),
          value: randomBytes(p),
          lease: p.chance(0.5) ? BigInt(p.int(1, 1000)) : randomLeaseId(p),
        },
      }
    case 1:
      return { type: 'deleteRange', deleteRange: { key: randomBytes(p), prevKv: true } }
    case 2:
      return { type: 'txn', txn: randomTxn(p, depth) }
    default:
      return {
        type: 'compaction',
        compaction: { revision: p.int(1, 1e9), physical: p.chance(0.5) },
      }
  }
}
