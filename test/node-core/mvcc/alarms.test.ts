// The store's alarms (mvcc/alarms.ts): raised and disarmed by replicated writes, persisted and
// carried by images, and a raised NOSPACE refuses exactly the writes that can grow the store.
import { afterEach, describe, expect, it } from 'vitest'
import type { WriteOp, WriteResult } from '../../../node-core/mvcc/types'
import { b, tempDbDir, TestStore } from './helpers'

let cleanup = () => {}
afterEach(() => cleanup())

async function open(): Promise<TestStore> {
  const tmp = tempDbDir()
  cleanup = tmp.cleanup
  return TestStore.open(tmp.dir)
}

const code = (r: WriteResult) => ('error' in r ? r.error.code : 'OK')
const raise: WriteOp = {
  type: 'alarm',
  alarm: { action: 'activate', memberId: 7, alarm: 'nospace' },
}
const disarm: WriteOp = {
  type: 'alarm',
  alarm: { action: 'deactivate', memberId: 7, alarm: 'nospace' },
}
const put = (k: string): WriteOp => ({ type: 'put', put: { key: b(k), value: b('v') } })

describe('alarms in the store', () => {
  it('caps puts, txns that put and lease grants under NOSPACE; the rest goes on', async () => {
    const t = await open()
    expect(await t.apply(put('a'))).toMatchObject({ put: {} })
    expect(await t.apply(raise)).toEqual({ alarm: [{ memberId: 7, alarm: 'nospace' }] })
    const txn = (withPut: boolean): WriteOp => ({
      type: 'txn',
      txn: {
        compare: [],
        success: [{ requestRange: { key: b('a') } }],
        failure: withPut
          ? [
              {
                requestTxn: {
                  compare: [],
                  success: [{ requestPut: { key: b('x'), value: b('y') } }],
                  failure: [],
                },
              },
            ]
          : [],
      },
    })
    expect(code(await t.apply(put('b')))).toBe('NO_SPACE')
    expect(code(await t.apply(txn(true)))).toBe('NO_SPACE')
    expect(
      code(await t.apply({ type: 'leaseGrant', leaseGrant: { id: 5n, ttlSeconds: 60 } })),
    ).toBe('NO_SPACE')
    expect(code(await t.apply(txn(false)))).toBe('OK')
    expect(code(await t.apply({ type: 'deleteRange', deleteRange: { key: b('a') } }))).toBe('OK')
    expect(
      code(await t.apply({ type: 'compaction', compaction: { revision: t.store.revision } })),
    ).toBe('OK')
    expect(await t.apply(disarm)).toEqual({ alarm: [{ memberId: 7, alarm: 'nospace' }] })
    expect(await t.apply(disarm)).toEqual({ alarm: [] })
    expect(code(await t.apply(put('b')))).toBe('OK')
    await t.store.close()
  })

  it('refuses every write under CORRUPT', async () => {
    const t = await open()
    await t.apply({ type: 'alarm', alarm: { action: 'activate', memberId: 1, alarm: 'corrupt' } })
    expect(code(await t.apply({ type: 'deleteRange', deleteRange: { key: b('a') } }))).toBe(
      'CORRUPT',
    )
    await t.store.close()
  })

  it('keeps alarms across a restart and in a snapshot image', async () => {
    const t = await open()
    await t.apply(raise)
    await t.reopen()
    expect(t.store.alarms.list()).toEqual([{ memberId: 7, alarm: 'nospace' }])
    const chunks: Uint8Array[] = []
    for await (const c of t.store.snapshotImage()) chunks.push(c)
    const other = tempDbDir()
    const target = await TestStore.open(other.dir)
    try {
      await target.restore(
        (async function* () {
          yield* chunks
        })(),
        50,
      )
      expect(target.store.alarms.list()).toEqual([{ memberId: 7, alarm: 'nospace' }])
      expect(code(await target.apply(put('z')))).toBe('NO_SPACE')
    } finally {
      await target.store.close()
      other.cleanup()
    }
    await t.store.close()
  })
})
