// The codec and the request checks, without a server: int64 range, enum mapping, the one-to-one
// mapping onto node-core/mvcc/types.ts, etcd's txn rules and peer-URL rules.
import { describe, expect, it } from 'vitest'
import { checkPeerUrls } from '../../../node-core/api/cluster-service'
import {
  id64,
  int64,
  leaseId,
  rangeRequestFromPb,
  txnRequestFromPb,
} from '../../../node-core/api/codec'
import { RaftdeskError } from '../../../node-core/errors'
import { checkTxnDuplicates, checkTxnRequest } from '../../../node-core/api/validate'
import type { PbCompare, PbRangeRequest, PbRequestOp } from '../../../node-core/api/wire'

function codeOf(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    if (err instanceof RaftdeskError) return err.code
    throw err
  }
  return 'OK'
}

const b = (s: string) => Buffer.from(s, 'latin1')

function range(key: string, overrides: Partial<PbRangeRequest> = {}): PbRangeRequest {
  return {
    key: b(key),
    rangeEnd: b(''),
    limit: '0',
    revision: '0',
    sortOrder: 'NONE',
    sortTarget: 'KEY',
    serializable: false,
    keysOnly: false,
    countOnly: false,
    minModRevision: '0',
    maxModRevision: '0',
    minCreateRevision: '0',
    maxCreateRevision: '0',
    ...overrides,
  }
}

const put = (key: string): PbRequestOp => ({
  request: 'requestPut',
  requestPut: {
    key: b(key),
    value: b('v'),
    lease: '0',
    prevKv: false,
    ignoreValue: false,
    ignoreLease: false,
  },
})
const del = (key: string, rangeEnd = ''): PbRequestOp => ({
  request: 'requestDeleteRange',
  requestDeleteRange: { key: b(key), rangeEnd: b(rangeEnd), prevKv: false },
})
const get = (key: string): PbRequestOp => ({ request: 'requestRange', requestRange: range(key) })
const txn = (success: PbRequestOp[], failure: PbRequestOp[] = [], compare: PbCompare[] = []) => ({
  compare,
  success,
  failure,
})
const nested = (success: PbRequestOp[], failure: PbRequestOp[] = []): PbRequestOp => ({
  request: 'requestTxn',
  requestTxn: txn(success, failure),
})

describe('int64 fields', () => {
  it('accepts every safe integer and refuses magnitudes from 2^53 on', () => {
    expect(int64('9007199254740991', 'f')).toBe(2 ** 53 - 1)
    expect(int64('-9007199254740991', 'f')).toBe(-(2 ** 53 - 1))
    expect(codeOf(() => int64('9007199254740992', 'f'))).toBe('INT64_OUT_OF_RANGE')
    expect(codeOf(() => int64('9007199254740993', 'f'))).toBe('INT64_OUT_OF_RANGE')
    expect(codeOf(() => int64('-9007199254740993', 'f'))).toBe('INT64_OUT_OF_RANGE')
    expect(codeOf(() => int64('18446744073709551615', 'f'))).toBe('INT64_OUT_OF_RANGE')
  })

  it('names the field and the value in the error', () => {
    expect(() => id64('9007199254740993', 'LeaseGrantRequest.ID')).toThrow(
      /LeaseGrantRequest\.ID = 9007199254740993 is out of range/,
    )
    expect(() => id64('-1', 'PutRequest.lease')).toThrow(/PutRequest\.lease = -1 is negative/)
  })
})

describe('lease ids', () => {
  it('takes every int64 exactly and refuses the rest with INVALID_ARGUMENT', () => {
    expect(leaseId('9223372036854775807', 'ID')).toBe(2n ** 63n - 1n)
    expect(leaseId('-9223372036854775808', 'ID')).toBe(-(2n ** 63n))
    expect(leaseId(42, 'ID')).toBe(42n)
    for (const bad of ['9223372036854775808', '1.5', '0x10', '', 'abc']) {
      expect(() => leaseId(bad, 'PutRequest.lease'), bad).toThrow(
        /PutRequest\.lease = .* is not a 64-bit signed integer/,
      )
    }
  })
})

describe('RangeRequest mapping', () => {
  it('maps every field one to one', () => {
    const pb = range('a', {
      rangeEnd: b('b'),
      limit: '7',
      revision: '12',
      sortOrder: 'DESCEND',
      sortTarget: 'MOD',
      serializable: true,
      keysOnly: true,
      countOnly: false,
      minModRevision: '3',
      maxModRevision: '9',
      minCreateRevision: '2',
      maxCreateRevision: '8',
    })
    expect(rangeRequestFromPb(pb)).toEqual({
      key: b('a'),
      rangeEnd: b('b'),
      limit: 7,
      revision: 12,
      sortOrder: 'descend',
      sortTarget: 'mod',
      serializable: true,
      keysOnly: true,
      countOnly: false,
      minModRevision: 3,
      maxModRevision: 9,
      minCreateRevision: 2,
      maxCreateRevision: 8,
    })
  })

  it('follows etcd: empty range_end is one key, revision <= 0 is now, limit <= 0 is none', () => {
    const req = rangeRequestFromPb(range('a', { revision: '-4', limit: '-1' }))
    expect(req.rangeEnd).toBeUndefined()
    expect(req.revision).toBe(0)
    expect(req.limit).toBe(0)
  })

  it('refuses enum values the schema does not know', () => {
    expect(codeOf(() => rangeRequestFromPb(range('a', { sortOrder: 7 })))).toBe(
      'UNKNOWN_ENUM_VALUE',
    )
  })
})

describe('Compare mapping', () => {
  it('reads the operand that matches the target, zero when the client sent another', () => {
    const compare: PbCompare[] = [
      {
        result: 'GREATER',
        target: 'MOD',
        key: b('k'),
        rangeEnd: b(''),
        targetUnion: 'modRevision',
        modRevision: '5',
      },
      {
        result: 'EQUAL',
        target: 'VALUE',
        key: b('k'),
        rangeEnd: b('z'),
        targetUnion: 'value',
        value: b('x'),
      },
      {
        result: 'NOT_EQUAL',
        target: 'VERSION',
        key: b('k'),
        rangeEnd: b(''),
        targetUnion: 'lease',
        lease: '3',
      },
    ]
    const out = txnRequestFromPb(txn([], [], compare)).compare
    expect(out[0]).toEqual({
      result: 'greater',
      target: 'mod',
      key: b('k'),
      rangeEnd: undefined,
      modRevision: 5,
    })
    expect(out[1]).toEqual({
      result: 'equal',
      target: 'value',
      key: b('k'),
      rangeEnd: b('z'),
      value: b('x'),
    })
    expect(out[2]).toEqual({
      result: 'notEqual',
      target: 'version',
      key: b('k'),
      rangeEnd: undefined,
      version: 0,
    })
  })
})

describe('txn checks (etcd v3rpc/key.go)', () => {
  it('counts the largest of compare, success and failure against the limit', () => {
    const ops = Array.from({ length: 4 }, (_, i) => put(`k${i}`))
    expect(codeOf(() => checkTxnRequest(txn(ops), 4))).toBe('OK')
    expect(codeOf(() => checkTxnRequest(txn([...ops, put('k9')]), 4))).toBe('TOO_MANY_OPS')
  })

  it('gives a nested txn only the budget its parent leaves', () => {
    // Parent uses 2 of 4; the nested txn has 3 ops > 2.
    const inner = nested([put('a'), put('b'), put('c')])
    expect(codeOf(() => checkTxnRequest(txn([inner, put('d')]), 4))).toBe('TOO_MANY_OPS')
    expect(codeOf(() => checkTxnRequest(txn([inner]), 4))).toBe('OK')
  })

  it('bounds nesting depth by the op limit', () => {
    let op = put('x')
    for (let i = 0; i < 200; i++) op = nested([op])
    expect(codeOf(() => checkTxnRequest(txn([op]), 128))).toBe('TOO_MANY_OPS')
  })

  it('refuses an empty op as "key not found" and an empty key as "key is not provided"', () => {
    expect(codeOf(() => checkTxnRequest(txn([{}]), 128))).toBe('KEY_NOT_FOUND')
    expect(codeOf(() => checkTxnRequest(txn([get('')]), 128))).toBe('EMPTY_KEY')
    const emptyCompare: PbCompare = {
      result: 'EQUAL',
      target: 'VERSION',
      key: b(''),
      rangeEnd: b(''),
    }
    expect(codeOf(() => checkTxnRequest(txn([], [], [emptyCompare]), 128))).toBe('EMPTY_KEY')
  })

  it('finds keys written twice in one branch', () => {
    const dup = (ops: PbRequestOp[], failure: PbRequestOp[] = []) =>
      codeOf(() => checkTxnDuplicates(txn(ops, failure)))
    expect(dup([put('a'), put('b')])).toBe('OK')
    expect(dup([put('a'), put('a')])).toBe('DUPLICATE_KEY')
    expect(dup([put('a')], [put('a')])).toBe('OK') // different branches
    expect(dup([del('a'), put('a')])).toBe('DUPLICATE_KEY')
    expect(dup([del('a', 'c'), put('b')])).toBe('DUPLICATE_KEY')
    expect(dup([del('a', 'c'), put('c')])).toBe('OK') // range end is exclusive
    expect(dup([del('a'), del('a')])).toBe('OK') // etcd only checks puts against deletes
    expect(dup([get('a'), put('a')])).toBe('OK')
    // A nested txn may put one key in both of its branches, but not clash with its parent.
    expect(dup([nested([put('a')], [put('a')])])).toBe('OK')
    expect(dup([nested([put('a')]), put('a')])).toBe('DUPLICATE_KEY')
    expect(dup([nested([del('a', 'z')]), put('m')])).toBe('DUPLICATE_KEY')
    expect(dup([nested([put('m')]), del('a', 'z')])).toBe('DUPLICATE_KEY')
  })

  it('keeps etcd\'s quirk: a from-key delete ("\\0" range end) never conflicts', () => {
    expect(codeOf(() => checkTxnDuplicates(txn([del('a', '\0'), put('b')])))).toBe('OK')
  })
})

describe('peer URLs (etcd types.NewURLs)', () => {
  it('accepts what etcd accepts and refuses the rest', () => {
    expect(codeOf(() => checkPeerUrls(['http://10.0.0.1:2380', 'https://[::1]:2380']))).toBe('OK')
    expect(codeOf(() => checkPeerUrls(['unix://raftdesk.sock']))).toBe('OK')
    for (const bad of [
      [],
      ['10.0.0.1:2380'],
      ['http://10.0.0.1'],
      ['http://h:1/path'],
      ['ftp://h:1'],
    ]) {
      expect(
        codeOf(() => checkPeerUrls(bad)),
        JSON.stringify(bad),
      ).toBe('MEMBER_BAD_URLS')
    }
  })
})
