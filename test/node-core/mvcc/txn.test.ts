// Txn: compares on every target with every result, compares on ranges and missing keys, nested
// txns, one main revision per txn, and the refusals (duplicate keys, too many ops, checks).
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type {
  Compare,
  CompareResult,
  CompareTarget,
  DeleteRangeResponse,
  PutResponse,
  RangeResponse,
  RequestOp,
  ResponseOp,
  TxnRequest,
  TxnResponse,
  WriteResult,
} from '../../../node-core/mvcc/types'
import { b, errorCode, kv, str, tempDbDir, TestStore } from './helpers'

let t: TestStore
let cleanup: () => void

beforeEach(async () => {
  const tmp = tempDbDir()
  cleanup = tmp.cleanup
  t = await TestStore.open(tmp.dir)
})

afterEach(async () => {
  await t.store.close()
  cleanup()
})

function txnResult(r: WriteResult): TxnResponse {
  if (!('txn' in r)) throw new Error(`not a txn result: ${JSON.stringify(r)}`)
  return r.txn
}

function asRange(r: ResponseOp | undefined): RangeResponse {
  if (r === undefined || !('responseRange' in r))
    throw new Error(`not a range: ${JSON.stringify(r)}`)
  return r.responseRange
}

function asPut(r: ResponseOp | undefined): PutResponse {
  if (r === undefined || !('responsePut' in r)) throw new Error(`not a put: ${JSON.stringify(r)}`)
  return r.responsePut
}

function asDelete(r: ResponseOp | undefined): DeleteRangeResponse {
  if (r === undefined || !('responseDeleteRange' in r)) {
    throw new Error(`not a delete: ${JSON.stringify(r)}`)
  }
  return r.responseDeleteRange
}

const put = (key: string, value: string): RequestOp => ({
  requestPut: { key: b(key), value: b(value) },
})
const get = (key: string): RequestOp => ({ requestRange: { key: b(key) } })
const delOp = (key: string, rangeEnd?: string): RequestOp => ({
  requestDeleteRange: { key: b(key), ...(rangeEnd === undefined ? {} : { rangeEnd: b(rangeEnd) }) },
})
const txn = (compare: Compare[], success: RequestOp[], failure: RequestOp[] = []): TxnRequest => ({
  compare,
  success,
  failure,
})

/** k: created at 2, modified at 3 (version 2), value "m", lease 5. */
async function setupK() {
  await t.apply({ type: 'leaseGrant', leaseGrant: { id: 5n, ttlSeconds: 60 } })
  await t.put('k', 'a')
  await t.put('k', 'm', { lease: 5n })
}

const ACTUAL = { version: 2, create: 2, mod: 3, lease: 5 }

function operand(target: CompareTarget, relation: -1 | 0 | 1): Partial<Compare> {
  if (target === 'value') return { value: b(['l', 'm', 'n'][relation + 1]!) }
  const n = ACTUAL[target] + relation
  const field = {
    version: 'version',
    create: 'createRevision',
    mod: 'modRevision',
    lease: 'lease',
  }[target]
  return { [field]: target === 'lease' ? BigInt(n) : n }
}

/** What "actual <result> operand" is when operand = actual + relation. */
function holds(result: CompareResult, relation: -1 | 0 | 1): boolean {
  // relation -1: operand below actual, so actual is greater.
  const cmp = -relation
  return { equal: cmp === 0, notEqual: cmp !== 0, greater: cmp > 0, less: cmp < 0 }[result]
}

const TARGETS: CompareTarget[] = ['version', 'create', 'mod', 'value', 'lease']
const RESULTS: CompareResult[] = ['equal', 'notEqual', 'greater', 'less']
const RELATIONS = [-1, 0, 1] as const

describe('txn compares on an existing key', () => {
  const rows = TARGETS.flatMap((target) =>
    RESULTS.flatMap((result) => RELATIONS.map((relation) => ({ target, result, relation }))),
  )
  it(`every target x result x operand (${rows.length} cases)`, async () => {
    await setupK()
    for (const { target, result, relation } of rows) {
      const c: Compare = { key: b('k'), target, result, ...operand(target, relation) }
      const r = txnResult(
        await t.apply({ type: 'txn', txn: txn([c], [get('k')], [get('k'), get('k')]) }),
      )
      expect(
        r.succeeded,
        `${target} ${result} actual${relation === 0 ? '=' : relation < 0 ? '>' : '<'}operand`,
      ).toBe(holds(result, relation))
      // The branch run is the one the result says: one op on success, two on failure.
      expect(r.responses).toHaveLength(r.succeeded ? 1 : 2)
    }
  })
})

describe('txn compares on missing keys and ranges', () => {
  it.each<[string, Compare, boolean]>([
    [
      'version = 0 on a missing key',
      { key: b('x'), target: 'version', result: 'equal', version: 0 },
      true,
    ],
    [
      'create = 0 on a missing key',
      { key: b('x'), target: 'create', result: 'equal', createRevision: 0 },
      true,
    ],
    [
      'mod < 1 on a missing key',
      { key: b('x'), target: 'mod', result: 'less', modRevision: 1 },
      true,
    ],
    [
      'lease = 0 on a missing key',
      { key: b('x'), target: 'lease', result: 'equal', lease: 0n },
      true,
    ],
    [
      'value = "" on a missing key fails',
      { key: b('x'), target: 'value', result: 'equal', value: b('') },
      false,
    ],
    [
      'value != "z" on a missing key fails too',
      { key: b('x'), target: 'value', result: 'notEqual', value: b('z') },
      false,
    ],
    [
      'version > 0 over [r, s): every key',
      { key: b('r'), rangeEnd: b('s'), target: 'version', result: 'greater', version: 0 },
      true,
    ],
    [
      'version = 1 over [r, s): r2 has 2',
      { key: b('r'), rangeEnd: b('s'), target: 'version', result: 'equal', version: 1 },
      false,
    ],
    [
      'create = 0 over an empty range',
      { key: b('s'), rangeEnd: b('t'), target: 'create', result: 'equal', createRevision: 0 },
      true,
    ],
    [
      'value < "2" from key r',
      {
        key: b('r'),
        rangeEnd: new Uint8Array([0]),
        target: 'value',
        result: 'less',
        value: b('2'),
      },
      true,
    ],
  ])('%s', async (_name, c, expected) => {
    await t.put('r1', '1')
    await t.put('r2', '1')
    await t.put('r2', '1')
    expect(txnResult(await t.apply({ type: 'txn', txn: txn([c], []) })).succeeded).toBe(expected)
  })

  it('all compares must hold (and)', async () => {
    await setupK()
    const yes: Compare = { key: b('k'), target: 'version', result: 'equal', version: 2 }
    const no: Compare = { key: b('k'), target: 'lease', result: 'equal', lease: 6n }
    expect(txnResult(await t.apply({ type: 'txn', txn: txn([yes, yes], []) })).succeeded).toBe(true)
    expect(txnResult(await t.apply({ type: 'txn', txn: txn([yes, no], []) })).succeeded).toBe(false)
    expect(txnResult(await t.apply({ type: 'txn', txn: txn([], []) })).succeeded).toBe(true)
  })
})

describe('txn execution', () => {
  it('runs the failure branch when a compare fails', async () => {
    await t.put('k', '1')
    const c: Compare = { key: b('k'), target: 'value', result: 'equal', value: b('2') }
    const r = txnResult(
      await t.apply({ type: 'txn', txn: txn([c], [put('k', 'then')], [put('k', 'else')]) }),
    )
    expect(r.succeeded).toBe(false)
    expect(r.responses).toEqual([{ responsePut: { revision: 3 } }])
    expect(t.get('k')).toBe('else')
  })

  it('writes of one txn share one main revision; reads inside see earlier writes', async () => {
    await t.put('z', 'old')
    const r = txnResult(
      await t.apply({
        type: 'txn',
        txn: txn([], [get('x'), put('x', '1'), get('x'), put('y', '2'), delOp('z'), get('z')]),
      }),
    )
    expect(r.revision).toBe(3)
    expect(t.store.revision).toBe(3)
    const [r0, p1, r2, p3, d4, r5] = r.responses
    expect(asRange(r0).count).toBe(0)
    expect(asRange(r0).revision).toBe(2) // nothing written yet in the txn
    expect(asPut(p1).revision).toBe(3)
    expect(asRange(r2).kvs.map(kv)).toEqual([
      { key: 'x', value: '1', create: 3, mod: 3, version: 1, lease: 0 },
    ])
    expect(asRange(r2).revision).toBe(3)
    expect(asPut(p3).revision).toBe(3)
    expect(asDelete(d4)).toMatchObject({ deleted: 1, revision: 3 })
    expect(asRange(r5).count).toBe(0)
    expect(t.store.range({ key: b('x') }).kvs[0]!.modRevision).toBe(3)
    expect(t.store.range({ key: b('y') }).kvs[0]!.modRevision).toBe(3)
    expect(t.get('z', 2)).toBe('old')
  })

  it('a txn that writes nothing takes no revision', async () => {
    await t.put('a', '1')
    const r = txnResult(await t.apply({ type: 'txn', txn: txn([], [get('a'), delOp('missing')]) }))
    expect(r.revision).toBe(2)
    expect(t.store.revision).toBe(2)
  })

  it('nested txns: compares are evaluated against the state before the outer txn', async () => {
    await t.put('k', '1')
    const inner = txn(
      [{ key: b('k'), target: 'value', result: 'equal', value: b('2') }],
      [put('m', 'saw 2')],
      [put('m', 'saw 1')],
    )
    const r = txnResult(
      await t.apply({ type: 'txn', txn: txn([], [put('k', '2'), { requestTxn: inner }]) }),
    )
    expect(r.succeeded).toBe(true)
    const nested = (r.responses[1] as { responseTxn: TxnResponse }).responseTxn
    expect(nested.succeeded).toBe(false)
    expect(nested.responses).toEqual([{ responsePut: { revision: 3 } }])
    // As etcd 3.4: a nested txn's response header is left empty.
    expect(nested.revision).toBe(0)
    expect(t.get('m')).toBe('saw 1')
    expect(t.get('k')).toBe('2')
  })

  it('nested txns deep down take the branch their own compares pick', async () => {
    await t.put('k', '1')
    const eq = (v: string): Compare => ({
      key: b('k'),
      target: 'value',
      result: 'equal',
      value: b(v),
    })
    const deepest = txn([eq('1')], [put('d', 'yes')], [put('d', 'no')])
    const middle = txn([eq('9')], [put('m', 'then')], [put('m', 'else'), { requestTxn: deepest }])
    const r = txnResult(
      await t.apply({ type: 'txn', txn: txn([eq('1')], [{ requestTxn: middle }]) }),
    )
    expect(r.succeeded).toBe(true)
    expect([t.get('m'), t.get('d')]).toEqual(['else', 'yes'])
    expect(t.store.revision).toBe(3)
  })
})

describe('txn refusals', () => {
  const dup = 'DUPLICATE_KEY'
  it.each<[string, TxnRequest, string | undefined]>([
    ['two puts of one key', txn([], [put('a', '1'), put('a', '2')]), dup],
    ['a put inside a deleted range', txn([], [delOp('a', 'c'), put('b', '1')]), dup],
    ['a delete after a put of the key', txn([], [put('b', '1'), delOp('b')]), dup],
    [
      'puts of one key in then and else of a nested txn',
      txn([], [{ requestTxn: txn([], [put('a', '1')], [put('a', '2')]) }]),
      undefined,
    ],
    [
      'a level put and a nested put of one key',
      txn([], [put('a', '1'), { requestTxn: txn([], [put('a', '2')]) }]),
      dup,
    ],
    [
      'a nested put inside a level delete',
      txn([], [delOp('a', 'c'), { requestTxn: txn([], [put('b', '2')]) }]),
      dup,
    ],
    ['two overlapping deletes', txn([], [delOp('a', 'c'), delOp('b', 'd')]), undefined],
    ['the same key in success and failure', txn([], [put('a', '1')], [put('a', '2')]), undefined],
    // etcd's static check lets this through; executing it would write a twice in one revision.
    [
      'a nested put and a later nested delete of one key',
      txn([], [{ requestTxn: txn([], [put('a', '1')]) }, { requestTxn: txn([], [delOp('a')]) }]),
      dup,
    ],
    [
      '129 puts',
      txn(
        [],
        Array.from({ length: 129 }, (_, i) => put(`k${i}`, 'v')),
      ),
      'TOO_MANY_OPS',
    ],
    [
      '129 compares',
      txn(
        Array.from(
          { length: 129 },
          () => ({ key: b('a'), target: 'version', result: 'equal', version: 0 }) as Compare,
        ),
        [],
      ),
      'TOO_MANY_OPS',
    ],
    [
      '128 puts',
      txn(
        [],
        Array.from({ length: 128 }, (_, i) => put(`k${i}`, 'v')),
      ),
      undefined,
    ],
    [
      'a compare with an empty key',
      txn([{ key: b(''), target: 'version', result: 'equal' }], []),
      'EMPTY_KEY',
    ],
  ])('%s', async (_name, request, code) => {
    const r = await t.apply({ type: 'txn', txn: request })
    expect(errorCode(r)).toBe(code)
    if (code !== undefined) expect(t.store.revision).toBe(1)
  })

  it('checks the taken branch against the state before running any of it', async () => {
    await t.put('a', '1')
    const withLease: RequestOp = { requestPut: { key: b('b'), value: b('x'), lease: 99n } }
    const ignore: RequestOp = { requestPut: { key: b('new'), value: b(''), ignoreValue: true } }
    expect(
      errorCode(await t.apply({ type: 'txn', txn: txn([], [put('c', '1'), withLease]) })),
    ).toBe('LEASE_NOT_FOUND')
    expect(errorCode(await t.apply({ type: 'txn', txn: txn([], [put('new', '1'), ignore]) }))).toBe(
      dup,
    )
    expect(errorCode(await t.apply({ type: 'txn', txn: txn([], [put('c', '1'), ignore]) }))).toBe(
      'KEY_NOT_FOUND',
    )
    // The same ops on the branch not taken do not matter.
    const never: Compare = { key: b('a'), target: 'value', result: 'equal', value: b('2') }
    expect(
      errorCode(await t.apply({ type: 'txn', txn: txn([never], [withLease], [put('c', '1')]) })),
    ).toBeUndefined()
    expect(t.store.revision).toBe(3)
    expect(t.get('c')).toBe('1')
  })

  it('a range at a future or compacted revision refuses the whole txn', async () => {
    for (let i = 0; i < 4; i++) await t.put('a', String(i))
    await t.apply({ type: 'compaction', compaction: { revision: 4 } })
    const at = (revision: number): RequestOp => ({ requestRange: { key: b('a'), revision } })
    expect(errorCode(await t.apply({ type: 'txn', txn: txn([], [put('b', '1'), at(3)]) }))).toBe(
      'COMPACTED',
    )
    expect(errorCode(await t.apply({ type: 'txn', txn: txn([], [put('b', '1'), at(6)]) }))).toBe(
      'FUTURE_REV',
    )
    const ok = txnResult(await t.apply({ type: 'txn', txn: txn([], [put('b', '1'), at(4)]) }))
    expect(str(asRange(ok.responses[1]).kvs[0]!.value)).toBe('2')
    expect(t.store.revision).toBe(6)
  })
})
