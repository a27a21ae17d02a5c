import { describe, expect, it } from 'vitest'
import { createPrng } from '../../../node-core/raft/prng'
import { message, type Message } from '../../../node-core/raft/types'
import {
  decodeMessage,
  encodeMessage,
  encodedMessageBytes,
  MESSAGE_TYPE_CODES,
} from '../../../node-core/transport/codec'
import { CodecError } from '../../../node-core/transport/errors'
import { ALL_MESSAGE_TYPES, randomMessage, testSeed } from './helpers'

function roundTrip(m: Message): Message {
  const buf = encodeMessage(m)
  expect(buf.byteLength).toBe(encodedMessageBytes(m))
  return decodeMessage(buf)
}

function expectCodecError(f: () => unknown, pattern?: RegExp): void {
  let thrown: unknown
  try {
    f()
  } catch (err) {
    thrown = err
  }
  expect(thrown).toBeInstanceOf(CodecError)
  expect((thrown as CodecError).code).toBe('TRANSPORT_CODEC')
  if (pattern) expect((thrown as Error).message).toMatch(pattern)
}

describe('message codec', () => {
  it('round-trips every message type with entries, context and (for MsgSnap) a snapshot', () => {
    expect(ALL_MESSAGE_TYPES).toHaveLength(19)
    for (const type of ALL_MESSAGE_TYPES) {
      const m = message({
        type,
        from: 1,
        to: 3,
        term: 9,
        logTerm: 8,
        index: 2 ** 53 - 1,
        commit: 12345678901,
        reject: true,
        rejectHint: 77,
        context: new Uint8Array([1, 2, 3]),
        entries: [
          { term: 8, index: 100, type: 'normal', data: new Uint8Array(0) },
          { term: 9, index: 101, type: 'confChange', data: new Uint8Array([9, 9]) },
        ],
      })
      if (type === 'MsgSnap') {
        m.snapshot = {
          metadata: { index: 99, term: 8, confState: { voters: [1, 2, 3], learners: [4] } },
          data: new Uint8Array([0xde, 0xad]),
        }
      }
      expect(roundTrip(m)).toEqual(m)
    }
  })

  it('keeps absent and empty optional fields apart and returns plain Uint8Arrays', () => {
    const bare = message({ type: 'MsgHeartbeat', from: 1, to: 2, term: 3, commit: 4 })
    const back = roundTrip(bare)
    expect(back).toStrictEqual(bare)
    expect('context' in back).toBe(false)
    const empty = { ...bare, context: new Uint8Array(0) }
    const back2 = roundTrip(empty)
    expect(back2.context).toBeInstanceOf(Uint8Array)
    expect(back2.context!.byteLength).toBe(0)
    // A heartbeat is small: 2 + 7 one-or-two-byte varints + count + crc.
    expect(encodeMessage(bare).byteLength).toBeLessThanOrEqual(16)
  })

  it('round-trips seeded random messages', () => {
    const seed = testSeed('codec random round trip')
    const p = createPrng(seed)
    for (let i = 0; i < 500; i++) {
      const m = randomMessage(p)
      expect(roundTrip(m)).toEqual(m)
    }
  })

  it('refuses every truncation of a valid buffer', () => {
    const p = createPrng(5)
    for (let i = 0; i < 40; i++) {
      const buf = encodeMessage(randomMessage(p))
      for (let n = 0; n < buf.byteLength; n++) {
        expectCodecError(() => decodeMessage(buf.subarray(0, n)))
      }
    }
  })

  it('refuses any single corrupted byte and any appended byte', () => {
    const seed = testSeed('codec corruption')
    const p = createPrng(seed)
    for (let i = 0; i < 300; i++) {
      const buf = encodeMessage(randomMessage(p))
      const bad = buf.slice()
      const at = p.int(0, bad.byteLength)
      bad[at] = bad[at]! ^ p.int(1, 256)
      expectCodecError(() => decodeMessage(bad))
      const longer = new Uint8Array(buf.byteLength + 1)
      longer.set(buf)
      expectCodecError(() => decodeMessage(longer))
    }
  })

  it('validates structure behind a valid checksum (enum codes, flags, counts, varints)', async () => {
    const { crc32c } = await import('@node-rs/crc32')
    // Builds a body and seals it with a correct crc, so only the structural checks can refuse it.
    const seal = (body: number[]): Uint8Array => {
      const out = new Uint8Array(body.length + 4)
      out.set(body)
      const crc = crc32c(out.subarray(0, body.length))
      new DataView(out.buffer).setUint32(body.length, crc, true)
      return out
    }
    const hb = MESSAGE_TYPE_CODES.MsgHeartbeat
    const ok = [hb, 0, 1, 2, 3, 0, 0, 4, 0, 0]
    expect(decodeMessage(seal(ok)).type).toBe('MsgHeartbeat')
    expectCodecError(() => decodeMessage(seal([0, ...ok.slice(1)])), /unknown message type code 0/)
    expectCodecError(() => decodeMessage(seal([99, ...ok.slice(1)])), /unknown message type/)
    expectCodecError(() => decodeMessage(seal([hb, 0x80, ...ok.slice(2)])), /unknown flag bits/)
    // Snapshot flag on a heartbeat.
    expectCodecError(() => decodeMessage(seal([hb, 2, ...ok.slice(2)])), /only MsgSnap/)
    // Non-canonical varint (0x81 0x00) for `from`.
    expectCodecError(
      () => decodeMessage(seal([hb, 0, 0x81, 0, 2, 3, 0, 0, 4, 0, 0])),
      /non-canonical/,
    )
    // Varint of 9 bytes.
    const long = [hb, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 0, 0, 4, 0, 0]
    expectCodecError(() => decodeMessage(seal(long)), /longer than 8 bytes/)
    // 2^53 exactly: 8 bytes, over the safe range.
    const big = [hb, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, 2, 3, 0, 0, 4, 0, 0]
    expectCodecError(() => decodeMessage(seal(big)), /exceeds 2\^53/)
    // An entry count far beyond what the remaining bytes could hold.
    expectCodecError(
      () => decodeMessage(seal([hb, 0, 1, 2, 3, 0, 0, 4, 0, 0xff, 0x7f])),
      /entry count/,
    )
    // One entry with an unknown entry type.
    const app = MESSAGE_TYPE_CODES.MsgApp
    expectCodecError(
      () => decodeMessage(seal([app, 0, 1, 2, 3, 0, 0, 4, 0, 1, 7, 1, 1, 0])),
      /entry type/,
    )
    // Entry data length past the end.
    expectCodecError(
      () => decodeMessage(seal([app, 0, 1, 2, 3, 0, 0, 4, 0, 1, 1, 1, 1, 9])),
      /runs past/,
    )
    // Trailing bytes inside the sealed body.
    expectCodecError(() => decodeMessage(seal([...ok, 0])), /trailing/)
    // A MsgSnap whose voter list names member 0.
    const snap = MESSAGE_TYPE_CODES.MsgSnap
    expectCodecError(
      () => decodeMessage(seal([snap, 2, 1, 2, 3, 0, 0, 4, 0, 0, 5, 1, 1, 0, 0, 0])),
      /member id 0/,
    )
    expect(
      decodeMessage(seal([snap, 2, 1, 2, 3, 0, 0, 4, 0, 0, 5, 1, 1, 2, 0, 0])).snapshot,
    ).toEqual({
      metadata: { index: 5, term: 1, confState: { voters: [2], learners: [] } },
      data: new Uint8Array(0),
    })
  })

  it('refuses to encode what does not fit the format', () => {
    const base = message({ type: 'MsgApp', from: 1, to: 2 })
    expectCodecError(() => encodeMessage({ ...base, term: -1 }), /term must be/)
    expectCodecError(() => encodeMessage({ ...base, index: 1.5 }), /index must be/)
    expectCodecError(() => encodeMessage({ ...base, commit: 2 ** 53 }), /commit must be/)
    expectCodecError(
      () => encodeMessage({ ...base, type: 'MsgBogus' as never }),
      /not a raft message type/,
    )
    expectCodecError(
      () =>
        encodeMessage({
          ...base,
          entries: [{ term: 1, index: 1, type: 'weird' as never, data: new Uint8Array() }],
        }),
      /entry type/,
    )
    expectCodecError(
      () =>
        encodeMessage({
          ...base,
          entries: [{ term: 1, index: 1, type: 'normal', data: 'x' as never }],
        }),
      /Uint8Array/,
    )
    expectCodecError(() => encodeMessage({ ...base, type: 'MsgSnap' }), /only by MsgSnap/)
    expectCodecError(
      () =>
        encodeMessage({
          ...base,
          snapshot: {
            metadata: { index: 1, term: 1, confState: { voters: [], learners: [] } },
            data: new Uint8Array(),
          },
        }),
      /only by MsgSnap/,
    )
  })
})
