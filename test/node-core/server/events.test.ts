// The node's event ring: bounded, numbered without gaps, read "after seq N" so a reader can tell
// what it missed; and the one-line texts the log view shows for each kind of entry.
import { describe, expect, it } from 'vitest'
import { EventRing } from '../../../node-core/server/events'
import { LatencyWindow } from '../../../node-core/server/latency'
import { describeLogEntry, describeWriteOp } from '../../../node-core/server/entry-text'
import { encodeRequest } from '../../../node-core/server/request-codec'
import { encodeConfChange } from '../../../node-core/raft/rawnode'

const enc = new TextEncoder()

describe('EventRing', () => {
  it('keeps the newest events up to its capacity, numbered in order', () => {
    let now = 1000
    const ring = new EventRing('n1', () => now++, 3)
    for (let i = 1; i <= 5; i++) ring.record({ kind: 'role', term: i, text: `event ${i}` })
    expect(ring.lastSeq).toBe(5)
    expect(ring.after(0).map((e) => e.seq)).toEqual([3, 4, 5])
    expect(ring.after(3).map((e) => e.text)).toEqual(['event 4', 'event 5'])
    expect(ring.after(5)).toEqual([])
    expect(ring.after(0, 2).map((e) => e.seq)).toEqual([3, 4])
    expect(ring.after(0)[0]).toMatchObject({ node: 'n1', atMs: 1002, term: 3 })
  })

  it('renumbers events it keeps for others, with their node and time', () => {
    const ring = new EventRing('')
    const seen: number[] = []
    ring.onEvent((e) => seen.push(e.seq))
    ring.add({ node: 'n2', atMs: 5, kind: 'vote', term: 2, text: 'n1 granted its vote' })
    expect(ring.after(0)).toEqual([
      { seq: 1, node: 'n2', atMs: 5, kind: 'vote', term: 2, text: 'n1 granted its vote' },
    ])
    expect(seen).toEqual([1])
  })

  it('refuses a ring that can hold nothing', () => {
    expect(() => new EventRing('n1', Date.now, 0)).toThrow(/capacity must be positive/)
  })
})

describe('entry texts', () => {
  const nameOf = (id: number) => (id === 2 ? 'n2' : id.toString(16))
  const entry = (data: Uint8Array, type: 'normal' | 'confChange' = 'normal') => ({
    term: 1,
    index: 7,
    type,
    data,
  })

  it('decodes each write the log can carry', () => {
    expect(
      describeWriteOp({ type: 'put', put: { key: enc.encode('a'), value: enc.encode('1') } }),
    ).toBe('put "a" = "1"')
    expect(
      describeWriteOp({
        type: 'put',
        put: { key: enc.encode('k'), value: new Uint8Array([0, 255]), lease: 0x1fn },
      }),
    ).toBe('put "k" = 0x00ff lease 000000000000001f')
    expect(
      describeWriteOp({
        type: 'deleteRange',
        deleteRange: { key: enc.encode('a'), rangeEnd: enc.encode('b') },
      }),
    ).toBe('delete "a" .. "b"')
    expect(
      describeWriteOp({
        type: 'txn',
        txn: {
          compare: [],
          success: [{ requestPut: { key: enc.encode('x'), value: enc.encode('') } }],
          failure: [],
        },
      }),
    ).toBe('txn: 0 compares, 1 success op, 0 failure ops')
    expect(describeWriteOp({ type: 'compaction', compaction: { revision: 9 } })).toBe(
      'compact to revision 9',
    )
    expect(
      describeWriteOp({ type: 'auth', auth: { type: 'userGrantRole', user: 'al', role: 'r' } }),
    ).toBe('auth userGrantRole al r')
  })

  it('shows text values as text, JSON included, and cuts long ones with their size', () => {
    const put = (value: Uint8Array) =>
      describeWriteOp({ type: 'put', put: { key: enc.encode('cfg'), value } })
    expect(put(enc.encode('{"replicas":3}'))).toBe('put "cfg" = "{\\"replicas\\":3}"')
    expect(put(enc.encode('é'.repeat(70)))).toBe(`put "cfg" = "${'é'.repeat(64)}"…(140 bytes)`)
    expect(put(enc.encode('a\nb'))).toBe('put "cfg" = 0x610a62')
  })

  it('names the writer, the empty entry of a new leader and conf changes', () => {
    const put = encodeRequest({
      id: 1,
      op: { type: 'put', put: { key: enc.encode('a'), value: enc.encode('1') } },
      who: { user: 'alice', revision: 3 },
    })
    expect(describeLogEntry(entry(put), nameOf)).toEqual({
      type: 'normal',
      op: 'put "a" = "1" (by alice)',
    })
    expect(describeLogEntry(entry(new Uint8Array()), nameOf).type).toBe('empty')
    const cc = encodeConfChange({ type: 'addLearner', nodeId: 2, context: new Uint8Array() })
    expect(describeLogEntry(entry(cc, 'confChange'), nameOf)).toEqual({
      type: 'confChange',
      op: 'addLearner n2',
    })
    expect(describeLogEntry(entry(new Uint8Array([99, 1])), nameOf).op).toMatch(/^undecodable/)
  })
})

describe('LatencyWindow', () => {
  it('summarises the last second of writes and forgets older ones', () => {
    const w = new LatencyWindow(1000, 100)
    for (let i = 1; i <= 100; i++) w.add(500, i)
    expect(w.summary(1000)).toEqual({ count: 100, p50Ms: 51, p99Ms: 100 })
    w.add(1400, 7)
    expect(w.summary(1600)).toEqual({ count: 1, p50Ms: 7, p99Ms: 7 })
    expect(w.summary(5000)).toEqual({ count: 0, p50Ms: 0, p99Ms: 0 })
  })

  it('keeps at most its capacity, the newest', () => {
    const w = new LatencyWindow(1000, 3)
    for (const ms of [100, 1, 2, 3]) w.add(10, ms)
    expect(w.summary(10)).toEqual({ count: 3, p50Ms: 2, p99Ms: 3 })
  })
})
