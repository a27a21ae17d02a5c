import { describe, expect, it } from 'vitest'
import { memberFromWire, memberToWire, type Member } from '../../../node-core/kernel/member'

describe('kernel member record', () => {
  const m: Member = {
    id: 2 ** 52 + 7,
    name: 'n1',
    peerUrls: ['http://127.0.0.1:2380'],
    clientUrls: ['http://127.0.0.1:2379'],
    isLearner: true,
  }

  it('crosses a wire with its id as a decimal string, and comes back equal', () => {
    const wire = memberToWire(m)
    expect(wire.id).toBe('4503599627370503')
    expect(memberFromWire(wire)).toEqual(m)
  })

  it('refuses ids it cannot hold exactly, or that name no member', () => {
    for (const id of ['18446744073709551615', '0', '-3', 'x', '1.5']) {
      expect(() => memberFromWire({ ...memberToWire(m), id }), id).toThrow(RangeError)
    }
  })
})
