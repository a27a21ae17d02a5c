import { describe, expect, it } from 'vitest'
import {
  ByteReader,
  ByteWriter,
  getBigU64,
  putBigU64,
  uvarintSize,
} from '../../../node-core/kernel/bytes'
import { createPrng } from '../../../node-core/raft/prng'

class LayoutError extends Error {}
const layoutError = (m: string) => new LayoutError(m)

describe('kernel bytes', () => {
  it('round-trips every form, and sizes varints as it writes them (seeded)', () => {
    const seed = Number(process.env['SEED'] ?? 20261207)
    const p = createPrng(seed)
    for (let i = 0; i < 2000; i++) {
      const small = p.int(0, 2 ** 31) * (p.chance(0.5) ? 1 : 2 ** p.int(0, 22))
      const n = Math.min(small, Number.MAX_SAFE_INTEGER)
      const big = (BigInt(p.int(0, 2 ** 32)) << 32n) | BigInt(p.int(0, 2 ** 32))
      const bytes = Uint8Array.from({ length: p.int(0, 9) }, () => p.int(0, 256))
      const w = new ByteWriter(1, layoutError)
      w.u8(200)
      w.uvarint(n)
      const afterVarint = w.pos
      w.uvarint64(big)
      w.u64(n)
      w.bytes(bytes)
      w.str('héllo')
      const r = new ByteReader(w.done(), layoutError)
      expect(r.u8(), `seed ${seed}`).toBe(200)
      expect(r.uvarint()).toBe(n)
      expect(afterVarint - 1).toBe(uvarintSize(n))
      expect(r.uvarint64()).toBe(big)
      expect(r.u64()).toBe(n)
      expect([...r.bytes()]).toEqual([...bytes])
      expect(new TextDecoder().decode(r.bytes())).toBe('héllo')
      r.expectEnd()
    }
  })

  it('writes a bigint below 2^53 in the bytes of the number', () => {
    const a = new ByteWriter()
    a.uvarint(300)
    const b = new ByteWriter()
    b.uvarint64(300n)
    expect([...b.done()]).toEqual([...a.done()])
    expect([...a.done()]).toEqual([0xac, 0x02])
  })

  it("refuses what is malformed with the layout's error, saying where", () => {
    const read = (bytes: number[], f: (r: ByteReader) => unknown) =>
      f(new ByteReader(Uint8Array.from(bytes), layoutError))
    const cases: Array<[number[], (r: ByteReader) => unknown, RegExp]> = [
      [[0x80], (r) => r.uvarint('term'), /truncated term at byte 1 of 1/],
      [[0x80, 0x00], (r) => r.uvarint('term'), /non-canonical varint in term/],
      [[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10], (r) => r.uvarint(), /exceeds 2\^53/],
      [Array(9).fill(0x81), (r) => r.uvarint(), /longer than 8 bytes/],
      [[...Array(9).fill(0xff), 0x02], (r) => r.uvarint64(), /exceeds 2\^64/],
      [Array(11).fill(0x80), (r) => r.protoVarint('tag'), /longer than 10 bytes in tag/],
      [[0x05, 1, 2], (r) => r.bytes('key'), /key of 5 bytes runs past the end \(2 left\)/],
      [[0x09, 1], (r) => r.count('entries', 1), /entries 9 exceeds the 1/],
      [[0xff, 0, 0, 0, 0, 0, 0, 0], (r) => r.u64('size'), /size exceeds 2\^53/],
      [[1, 2], (r) => (r.u8(), r.expectEnd()), /1 trailing bytes at byte 1 of 2/],
    ]
    for (const [bytes, f, message] of cases) {
      expect(() => read(bytes, f)).toThrow(LayoutError)
      expect(() => read(bytes, f)).toThrow(message)
    }
    expect(() => new ByteWriter(8, layoutError).uvarint(-1, 'index')).toThrow(/index -1/)
    expect(() => new ByteWriter(8, layoutError).uvarint64(2n ** 64n)).toThrow(LayoutError)
  })

  it('reads protobuf varints leniently: padded, and up to 10 bytes', () => {
    const r = new ByteReader(Uint8Array.from([0x81, 0x80, 0x00, ...Array(9).fill(0xff), 0x01]))
    expect(r.protoVarint()).toBe(1)
    expect(r.protoVarint()).toBe(Number.MAX_SAFE_INTEGER)
  })

  it('reads and writes fixed 64-bit bigints as DataView does', () => {
    for (const n of [0n, 1n, 2n ** 32n + 5n, 2n ** 64n - 1n]) {
      const ours = new Uint8Array(8)
      putBigU64(ours, 0, n)
      const theirs = new Uint8Array(8)
      new DataView(theirs.buffer).setBigUint64(0, n)
      expect([...ours]).toEqual([...theirs])
      expect(getBigU64(ours, 0)).toBe(n)
    }
  })
})
