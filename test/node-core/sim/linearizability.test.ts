import { describe, expect, it } from 'vitest'
import { LimitError, ValidationError } from '../../../node-core/errors'
import { HistoryRecorder } from '../../../node-core/sim/lin-history'
import type { KvOperation, LinearizabilityResult } from '../../../node-core/sim/linearizability'
import {
  UNKNOWN_OUTPUT,
  checkLinearizability,
  formatLinearizabilityResult,
} from '../../../node-core/sim/linearizability'

// Builders. A missing completeMs means the client never got an answer (unknown outcome).
const INF = Number.POSITIVE_INFINITY
type Client = string | number

function get(
  c: Client,
  key: string,
  value: string | null,
  inv: number,
  comp?: number,
): KvOperation {
  return {
    clientId: c,
    input: { kind: 'get', key },
    output: comp === undefined ? UNKNOWN_OUTPUT : { kind: 'get', value },
    invokeMs: inv,
    completeMs: comp ?? INF,
  }
}
function put(c: Client, key: string, value: string, inv: number, comp?: number): KvOperation {
  return {
    clientId: c,
    input: { kind: 'put', key, value },
    output: comp === undefined ? UNKNOWN_OUTPUT : { kind: 'put' },
    invokeMs: inv,
    completeMs: comp ?? INF,
  }
}
function del(
  c: Client,
  key: string,
  deleted: boolean | undefined,
  inv: number,
  comp?: number,
): KvOperation {
  return {
    clientId: c,
    input: { kind: 'delete', key },
    output:
      comp === undefined
        ? UNKNOWN_OUTPUT
        : deleted === undefined
          ? { kind: 'delete' }
          : { kind: 'delete', deleted },
    invokeMs: inv,
    completeMs: comp ?? INF,
  }
}
function cas(
  c: Client,
  key: string,
  expected: string | null,
  value: string,
  succeeded: boolean | undefined,
  inv: number,
  comp?: number,
): KvOperation {
  return {
    clientId: c,
    input: { kind: 'cas', key, expected, value },
    output:
      comp === undefined || succeeded === undefined ? UNKNOWN_OUTPUT : { kind: 'cas', succeeded },
    invokeMs: inv,
    completeMs: comp === undefined || succeeded === undefined ? INF : comp,
  }
}

function violation(result: LinearizabilityResult) {
  if (result.ok !== false) {
    throw new Error(`expected a violation, got ${formatLinearizabilityResult(result)}`)
  }
  return result
}

describe('linearizable histories', () => {
  const cases: [string, KvOperation[]][] = [
    ['the empty history', []],
    [
      'a sequential history of puts, gets and deletes',
      [
        get(1, 'x', null, 0, 1),
        put(1, 'x', '1', 2, 3),
        get(2, 'x', '1', 4, 5),
        put(2, 'x', '2', 6, 7),
        get(1, 'x', '2', 8, 9),
        del(1, 'x', true, 10, 11),
        get(2, 'x', null, 12, 13),
        del(2, 'x', false, 14, 15),
      ],
    ],
    [
      'a get overlapping a put that sees the old value',
      [put(1, 'x', '0', 0, 1), put(1, 'x', '1', 10, 20), get(2, 'x', '0', 12, 14)],
    ],
    [
      'a get overlapping a put that sees the new value',
      [put(1, 'x', '0', 0, 1), put(1, 'x', '1', 10, 20), get(2, 'x', '1', 12, 14)],
    ],
    [
      'a read overlapping a write sees the new value, a later one too',
      [
        put(1, 'x', '0', 0, 1),
        put(1, 'x', '1', 10, 30),
        get(2, 'x', '1', 12, 14),
        get(3, 'x', '1', 16, 18),
        get(2, 'x', '1', 40, 41),
      ],
    ],
    [
      'overlapping reads that see old and new in either real-time order of invocation',
      [put(1, 'x', '1', 10, 30), get(2, 'x', '1', 11, 25), get(3, 'x', null, 12, 26)],
    ],
    [
      'two concurrent puts and later reads agreeing on the one that came last',
      [
        put(1, 'x', 'a', 0, 10),
        put(2, 'x', 'b', 1, 9),
        get(3, 'x', 'a', 20, 21),
        get(1, 'x', 'a', 22, 23),
      ],
    ],
    ['equal times count as concurrent', [put(1, 'x', '1', 0, 5), get(2, 'x', null, 5, 6)]],
    [
      'concurrent cas with the same expected value: one wins, one fails',
      [
        put(1, 'x', 'a', 0, 1),
        cas(2, 'x', 'a', 'b', false, 2, 10),
        cas(3, 'x', 'a', 'c', true, 3, 9),
        get(1, 'x', 'c', 11, 12),
      ],
    ],
    [
      'a failed cas ordered after a concurrent put that changed the value',
      [put(1, 'x', 'a', 0, 1), put(2, 'x', 'z', 5, 20), cas(3, 'x', 'a', 'b', false, 6, 8)],
    ],
    [
      'cas on an absent key (expected null) succeeds, then fails',
      [cas(1, 'x', null, 'a', true, 0, 1), cas(2, 'x', null, 'b', false, 2, 3)],
    ],
    [
      'a chain of cas successes',
      [
        cas(1, 'x', null, 'a', true, 0, 1),
        cas(2, 'x', 'a', 'b', true, 2, 3),
        cas(1, 'x', 'b', 'c', true, 4, 5),
        get(2, 'x', 'c', 6, 7),
      ],
    ],
    [
      'an unknown put that must have happened (a later read sees it)',
      [put(1, 'x', '1', 0), get(2, 'x', '1', 100, 101)],
    ],
    [
      'an unknown put that must not have happened (reads never see it)',
      [put(1, 'x', '1', 0), get(2, 'x', null, 100, 101), get(3, 'x', null, 200, 201)],
    ],
    [
      'an unknown put that took effect late, between two reads',
      [put(1, 'x', '1', 0), get(2, 'x', null, 100, 101), get(3, 'x', '1', 200, 201)],
    ],
    [
      'an unknown cas that must have succeeded',
      [put(1, 'x', 'a', 0, 1), cas(2, 'x', 'a', 'b', undefined, 2), get(3, 'x', 'b', 50, 51)],
    ],
    [
      'an unknown get is ignored whatever it would have read',
      [put(1, 'x', '1', 0, 1), get(2, 'x', 'anything', 2)],
    ],
    [
      'a delete overlapping a get that sees either',
      [
        put(1, 'x', '1', 0, 1),
        del(1, 'x', true, 10, 20),
        get(2, 'x', '1', 11, 12),
        get(3, 'x', null, 13, 14),
        get(2, 'x', null, 21, 22),
      ],
    ],
    [
      'an unknown delete that must have happened',
      [put(1, 'x', '1', 0, 1), del(2, 'x', undefined, 2), get(1, 'x', null, 10, 11)],
    ],
    [
      'operations on different keys interleaved freely',
      [
        put(1, 'x', '1', 0, 10),
        put(2, 'y', '2', 0, 10),
        get(3, 'x', '1', 2, 3),
        get(3, 'y', null, 4, 5),
        get(4, 'y', '2', 6, 7),
        get(4, 'x', '1', 8, 9),
      ],
    ],
  ]
  for (const [name, history] of cases) {
    it(name, () => {
      const result = checkLinearizability(history)
      expect(result.ok, formatLinearizabilityResult(result)).toBe(true)
    })
  }

  it('starts keys from initialValues when given', () => {
    const history = [get(1, 'x', 'seed', 0, 1)]
    expect(checkLinearizability(history).ok).toBe(false)
    expect(checkLinearizability(history, { initialValues: new Map([['x', 'seed']]) }).ok).toBe(true)
  })
})

describe('non-linearizable histories', () => {
  it('a stale read: a read invoked after a write completed sees the old value', () => {
    const history = [put(1, 'x', '1', 0, 5), put(2, 'x', '2', 10, 15), get(3, 'x', '1', 20, 25)]
    const v = violation(checkLinearizability(history))
    expect(v.key).toBe('x')
    expect(v.explanation.blockedOp.index).toBe(2)
    expect(v.explanation.possibleValues).toEqual(['2'])
    expect(v.explanation.prefixOpIndices).toEqual([0, 1, 2])
    expect(v.explanation.concurrentOpsCount).toBe(0)
    expect(v.explanation.linearizationTail.map((t) => [t.op.index, t.valueAfter])).toEqual([
      [0, '1'],
      [1, '2'],
    ])
    expect(v.explanation.text).toContain('not linearizable: key "x"')
    expect(v.explanation.text).toContain('#2 get("x") -> "1"  client 3  [20 ms .. 25 ms]')
    expect(formatLinearizabilityResult(v)).toContain('3 ops, 1 key,')
  })

  it('read-your-writes broken: a client does not see its own acknowledged put', () => {
    const v = violation(checkLinearizability([put(1, 'x', 'mine', 0, 5), get(1, 'x', null, 6, 7)]))
    expect(v.explanation.blockedOp.index).toBe(1)
    expect(v.explanation.possibleValues).toEqual(['mine'])
  })

  it('non-monotonic reads: r1 sees the new value, a later r2 the old one', () => {
    const history = [
      put(1, 'x', 'old', 0, 5),
      put(1, 'x', 'new', 10, 30),
      get(2, 'x', 'new', 12, 14),
      get(3, 'x', 'old', 16, 18),
    ]
    const v = violation(checkLinearizability(history))
    expect(v.explanation.blockedOp.index).toBe(3)
    expect(v.explanation.possibleValues).toEqual(['new'])
    // The write is still in flight while r2 runs: it is reported as concurrent.
    expect(v.explanation.concurrentOps.map((c) => c.index)).toEqual([1])
  })

  it('a cas that succeeds twice against the same expected value (sequential)', () => {
    const history = [
      put(1, 'x', 'a', 0, 1),
      cas(2, 'x', 'a', 'b', true, 2, 3),
      cas(3, 'x', 'a', 'c', true, 4, 5),
    ]
    const v = violation(checkLinearizability(history))
    expect(v.explanation.blockedOp.index).toBe(2)
    expect(v.explanation.possibleValues).toEqual(['b'])
  })

  it('a cas that succeeds twice against the same expected value (concurrent)', () => {
    const history = [
      put(1, 'x', 'a', 0, 1),
      cas(2, 'x', 'a', 'b', true, 2, 10),
      cas(3, 'x', 'a', 'c', true, 3, 9),
    ]
    const v = violation(checkLinearizability(history))
    expect(v.key).toBe('x')
    expect([1, 2]).toContain(v.explanation.concurrentOps.length)
  })

  it('a value that was never written', () => {
    const v = violation(
      checkLinearizability([
        put(1, 'x', '1', 0, 5),
        put(2, 'x', '2', 0, 5),
        get(3, 'x', 'ghost', 1, 9),
      ]),
    )
    expect(v.explanation.blockedOp.index).toBe(2)
    expect(v.explanation.possibleValues).toEqual([null, '1', '2'])
    expect(v.explanation.possiblyUnreadValue).toBe(false)
    expect(v.explanation.text).toContain('the key holds one of\n    absent, "1", "2"\n')
    expect(v.explanation.concurrentOpsCount).toBe(2)
  })

  it('says when unread values are given by example only', () => {
    // Nobody reads "a" or "b": the search treats them as one value and meets "a" first.
    const history = [put(1, 'x', 'a', 0), put(2, 'x', 'b', 1), get(3, 'x', 'ghost', 10, 11)]
    const v = violation(checkLinearizability(history))
    expect(v.explanation.possibleValues).toEqual([null, 'a'])
    expect(v.explanation.possiblyUnreadValue).toBe(true)
    expect(v.explanation.text).toContain('absent, "a", or another value that no read returned')
  })

  it('a lost acknowledged write: after the ack the key reads as before', () => {
    const history = [
      put(1, 'x', 'before', 0, 1),
      put(2, 'x', 'acked', 5, 9),
      get(3, 'x', 'before', 20, 21),
      get(3, 'x', 'before', 30, 31),
    ]
    const v = violation(checkLinearizability(history))
    expect(v.explanation.blockedOp.index).toBe(2)
    expect(v.explanation.possibleValues).toEqual(['acked'])
  })

  it('a delete that reports deleting an absent key', () => {
    const v = violation(checkLinearizability([get(1, 'x', null, 0, 1), del(1, 'x', true, 2, 3)]))
    expect(v.explanation.blockedOp.index).toBe(1)
    expect(v.explanation.possibleValues).toEqual([null])
  })

  it('an unknown put cannot be seen before it was invoked', () => {
    const v = violation(checkLinearizability([get(2, 'x', '1', 0, 5), put(1, 'x', '1', 10)]))
    expect(v.explanation.blockedOp.index).toBe(0)
    expect(v.explanation.text).toContain('blocked before any operation')
  })

  it('an unknown put that appeared cannot disappear again', () => {
    const history = [put(1, 'x', '1', 0), get(2, 'x', '1', 100, 101), get(3, 'x', null, 200, 201)]
    const v = violation(checkLinearizability(history))
    expect(v.explanation.blockedOp.index).toBe(2)
  })

  it('reports only the violated key, and the earliest violation among keys', () => {
    const history = [
      put(1, 'a', '1', 0, 1),
      get(1, 'a', '1', 2, 3),
      put(1, 'z', '1', 10, 11),
      get(2, 'z', null, 12, 13),
      put(1, 'm', '1', 50, 51),
      get(2, 'm', null, 52, 53),
    ]
    const v = violation(checkLinearizability(history))
    expect(v.key).toBe('z')
    expect(v.explanation.blockedOp.index).toBe(3)
    expect(v.violatedKeys).toEqual(['m', 'z'])
    expect(v.explanation.prefixOpIndices).toEqual([2, 3])
    expect(formatLinearizabilityResult(v)).toContain('also violated: "m"')
  })
})

describe('the work bound', () => {
  // Many concurrent puts, then two reads that cannot both be explained: every subset and order
  // of the puts is a distinct configuration, so the search is exponential in their number.
  function pathological(puts: number): KvOperation[] {
    const history: KvOperation[] = []
    for (let i = 0; i < puts; i++) history.push(put(i, 'x', `v${i}`, 0, 100))
    history.push(get(99, 'x', 'v0', 200, 201))
    history.push(get(99, 'x', 'v1', 202, 203))
    return history
  }

  it("answers 'unknown' instead of running forever", () => {
    const result = checkLinearizability(pathological(40), { maxStatesExploredPerKey: 50_000 })
    expect(result.ok).toBe('unknown')
    if (result.ok !== 'unknown') return
    expect(result.keys).toEqual(['x'])
    expect(result.reason).toMatch(/explored 50000 states \(maxStatesExploredPerKey\) over 42 ops/)
    expect(result.stats.statesExplored).toBe(50_000)
    expect(formatLinearizabilityResult(result)).toMatch(/^linearizability unknown/)
  })

  it("answers 'unknown' when the memo would outgrow maxCacheBytesPerKey", () => {
    const result = checkLinearizability(pathological(40), { maxCacheBytesPerKey: 64 * 1024 })
    expect(result.ok).toBe('unknown')
    if (result.ok === 'unknown') expect(result.reason).toMatch(/memo reached \d+ bytes/)
  })

  it('decides the same shape of history when it is small enough', () => {
    const v = violation(checkLinearizability(pathological(8)))
    expect(v.explanation.blockedOp.index).toBe(9)
    expect(v.explanation.possibleValues).toEqual(['v0'])
    // At least every subset of the puts is a configuration of its own.
    expect(v.stats.statesExplored).toBeGreaterThan(2 ** 8)
  })

  it('a violation on one key wins over an unknown on another', () => {
    const history = [...pathological(40), put(1, 'y', '1', 0, 1), get(1, 'y', null, 2, 3)]
    const v = violation(checkLinearizability(history, { maxStatesExploredPerKey: 10_000 }))
    expect(v.key).toBe('y')
  })
})

describe('history validation', () => {
  const bad: [string, KvOperation, RegExp][] = [
    ['negative invoke', put(1, 'x', '1', -1, 2), /invokeMs -1/],
    ['fractional time', put(1, 'x', '1', 0.5, 2), /invokeMs 0.5/],
    [
      'complete before invoke',
      put(1, 'x', '1', 5, 4),
      /completeMs 4, not an integer >= invokeMs 5/,
    ],
    [
      'unknown output with a finite completion',
      { ...put(1, 'x', '1', 0), completeMs: 3 },
      /unknown output but completeMs 3/,
    ],
    [
      'a known output completing at Infinity',
      { ...put(1, 'x', '1', 0, 1), completeMs: INF },
      /completeMs Infinity/,
    ],
    [
      'an output of another kind',
      { ...put(1, 'x', '1', 0, 1), output: { kind: 'get', value: '1' } },
      /does not match its put input/,
    ],
    [
      'a cas output without succeeded',
      { ...cas(1, 'x', 'a', 'b', true, 0, 1), output: { kind: 'cas' } as never },
      /boolean `succeeded`/,
    ],
  ]
  for (const [name, op, message] of bad) {
    it(`refuses ${name}`, () => {
      let thrown: unknown
      try {
        checkLinearizability([get(1, 'x', null, 0, 1), op])
      } catch (err) {
        thrown = err
      }
      expect(thrown).toBeInstanceOf(ValidationError)
      expect((thrown as ValidationError).code).toBe('LIN_INVALID_HISTORY')
      expect((thrown as Error).message).toMatch(/^history op #1 /)
      expect((thrown as Error).message).toMatch(message)
    })
  }

  it('refuses a history longer than maxOps with a LimitError', () => {
    const history = [put(1, 'x', '1', 0, 1), put(1, 'x', '2', 2, 3), put(1, 'x', '3', 4, 5)]
    expect(() => checkLinearizability(history, { maxOps: 2 })).toThrow(LimitError)
    expect(() => checkLinearizability(history, { maxOps: 2 })).toThrow(
      /3 operations, more than maxOps 2/,
    )
    expect(checkLinearizability(history, { maxOps: 3 }).ok).toBe(true)
  })
})

describe('HistoryRecorder', () => {
  it('records invocations and replies, and leaves unanswered ones unknown', () => {
    const r = new HistoryRecorder()
    const a = r.invoke(1, { kind: 'put', key: 'x', value: '1' }, 0)
    const b = r.invoke(2, { kind: 'get', key: 'x' }, 1)
    const c = r.invoke(3, { kind: 'put', key: 'x', value: '2' }, 2)
    r.complete(a, { kind: 'put' }, 3)
    r.complete(b, { kind: 'get', value: '1' }, 4)
    r.giveUp(c)
    const d = r.invoke(1, { kind: 'cas', key: 'x', expected: '2', value: '3' }, 10)
    const history = r.history()
    expect(history).toHaveLength(4)
    expect(history[0]).toEqual(put(1, 'x', '1', 0, 3))
    expect(history[1]).toEqual(get(2, 'x', '1', 1, 4))
    expect(history[2]).toEqual(put(3, 'x', '2', 2))
    expect(history[d].output).toBe(UNKNOWN_OUTPUT)
    expect(history[d].completeMs).toBe(INF)
    expect(checkLinearizability(history).ok).toBe(true)
  })

  it('asserts time order, matching kinds, single completion and its limit', () => {
    const r = new HistoryRecorder(2)
    const a = r.invoke(1, { kind: 'get', key: 'x' }, 5)
    expect(() => r.invoke(1, { kind: 'get', key: 'x' }, 4)).toThrow(/time 4 ms/)
    expect(() => r.complete(a, { kind: 'put' }, 6)).toThrow(/is a get but completes with a put/)
    r.complete(a, { kind: 'get', value: null }, 6)
    expect(() => r.complete(a, { kind: 'get', value: null }, 7)).toThrow(/already completed/)
    expect(() => r.giveUp(7)).toThrow(/no operation 7/)
    r.invoke(1, { kind: 'get', key: 'x' }, 8)
    let thrown: unknown
    try {
      r.invoke(1, { kind: 'get', key: 'x' }, 9)
    } catch (err) {
      thrown = err
    }
    expect(thrown).toBeInstanceOf(LimitError)
    expect((thrown as LimitError).code).toBe('LIN_RECORDER_FULL')
  })
})
