import { describe, expect, it } from 'vitest'
import {
  Membership,
  decodeChangeContext,
  encodeChangeContext,
  hostPort,
} from '../../../node-core/server/members'

const n1 = {
  name: 'n1',
  peerUrls: ['http://127.0.0.1:2380'],
  clientUrls: ['http://127.0.0.1:2379'],
}

describe('conf change context', () => {
  it('round-trips a member record with and without a request id', () => {
    expect(decodeChangeContext(encodeChangeContext(n1, 42))).toEqual({ member: n1, requestId: 42 })
    expect(decodeChangeContext(encodeChangeContext(n1))).toEqual({ member: n1, requestId: 0 })
    expect(decodeChangeContext(encodeChangeContext(null, 7))).toEqual({
      member: null,
      requestId: 7,
    })
    expect(encodeChangeContext(null).byteLength).toBe(0)
    expect(decodeChangeContext(new Uint8Array(0))).toEqual({ member: null, requestId: 0 })
  })

  it('refuses a context that is not JSON or has the wrong shape', () => {
    expect(() => decodeChangeContext(new TextEncoder().encode('{'))).toThrow(/not JSON/)
    const bad = new TextEncoder().encode(JSON.stringify({ name: 'x', peerUrls: 'nope' }))
    expect(() => decodeChangeContext(bad)).toThrow(/wrong shape/)
  })
})

describe('Membership', () => {
  it('adds, promotes and removes members, keeping the records the context carried', () => {
    const m = new Membership()
    m.apply('addLearner', 5, n1)
    expect(m.get(5)).toEqual({ id: 5, ...n1, isLearner: true })
    m.apply('promoteLearner', 5, null)
    expect(m.get(5)?.isLearner).toBe(false)
    m.apply('removeNode', 5, null)
    expect(m.get(5)).toBeUndefined()
    expect(m.toJSON()).toEqual({ members: [], removed: [5] })
  })

  it('follows raft on learner flags after a snapshot', () => {
    const m = new Membership([{ id: 1, ...n1, isLearner: false }])
    m.reconcile({ voters: [], learners: [1] })
    expect(m.get(1)?.isLearner).toBe(true)
  })

  it('reads host:port out of etcd-style URLs', () => {
    expect(hostPort('http://127.0.0.1:2380')).toBe('127.0.0.1:2380')
    expect(hostPort('https://node.example:443/x')).toBe('node.example:443')
  })
})
