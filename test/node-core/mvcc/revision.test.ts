// Revision encoding: fixed-width big-endian so that byte order is revision order, with etcd's
// tombstone marker; and the record codec of layout.ts.
import { describe, expect, it } from 'vitest'
import { compareBytes } from '../../../node-core/mvcc/keys'
import {
  checkRecordKey,
  decodeRecord,
  encodeRecord,
  recordKey,
  recordKeyValue,
} from '../../../node-core/mvcc/layout'
import {
  compareRevisions,
  decodeRevision,
  encodeRevision,
  readBigUint64,
  readUint64,
  writeBigUint64,
  writeUint64,
} from '../../../node-core/mvcc/revision'
import { createPrng } from '../../../node-core/raft/prng'

describe('revision encoding', () => {
  it('is 8 bytes of main and 8 of sub, big-endian, plus a t for a tombstone', () => {
    expect([...encodeRevision(5, 1)]).toEqual([0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1])
    expect([...encodeRevision(0x1_0000_0001, 0, true)]).toEqual([
      0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x74,
    ])
  })

  it('round-trips every width up to 2^53 - 1', () => {
    for (const main of [0, 1, 255, 256, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 48 + 7, 2 ** 53 - 1]) {
      for (const tombstone of [false, true]) {
        expect(decodeRevision(encodeRevision(main, 3, tombstone))).toEqual({
          main,
          sub: 3,
          tombstone,
        })
      }
    }
  })

  it('orders bytes like revisions (seeded random pairs)', () => {
    const seed = Number(process.env['SEED'] ?? Date.now() % 100_000)
    console.log(`revision order: SEED=${seed}`)
    const prng = createPrng(seed)
    const pick = () => {
      const r = prng.float()
      // Mix small numbers (shared prefixes) with large ones (differences in the high words).
      return r < 0.5 ? prng.int(0, 300) : Math.floor(prng.float() * 2 ** 53)
    }
    for (let i = 0; i < 2000; i++) {
      const a = { main: pick(), sub: prng.int(0, 3) }
      const b = { main: prng.chance(0.3) ? a.main : pick(), sub: prng.int(0, 3) }
      const byBytes = Math.sign(
        compareBytes(
          encodeRevision(a.main, a.sub, prng.chance(0.5)),
          encodeRevision(b.main, b.sub, prng.chance(0.5)),
        ),
      )
      const expected = compareRevisions(a, b)
      // Equal revisions may differ only by the marker; distinct ones must order like revisions.
      if (expected !== 0) expect(byBytes, `seed ${seed}: ${JSON.stringify([a, b])}`).toBe(expected)
    }
  })

  it('refuses what does not fit', () => {
    expect(() => encodeRevision(2 ** 53, 0)).toThrow(/not a safe/)
    expect(() => encodeRevision(-1, 0)).toThrow(/not a safe/)
    const big = new Uint8Array(8).fill(0xff)
    expect(() => readUint64(big, 0)).toThrow(/not below 2\^53/)
    expect(() => decodeRevision(new Uint8Array(15))).toThrow(/15 bytes/)
    const bad = encodeRevision(1, 1, true)
    bad[16] = 0x75
    expect(() => decodeRevision(bad)).toThrow(/not 't'/)
    const out = new Uint8Array(8)
    writeUint64(out, 0, 2 ** 53 - 1)
    expect(readUint64(out, 0)).toBe(2 ** 53 - 1)
  })

  it('writes and reads 64-bit bigints (lease ids) as DataView does, big-endian', () => {
    const values = [0n, 1n, 0xffff_ffffn, 2n ** 32n, 2n ** 53n + 1n, 0x7a3c_91f2_0b44_6e15n]
    values.push(2n ** 63n - 1n, 2n ** 64n - 1n)
    for (const n of values) {
      const ours = new Uint8Array(10)
      writeBigUint64(ours, 1, n)
      const reference = new Uint8Array(10)
      new DataView(reference.buffer).setBigUint64(1, n)
      expect([...ours], `0x${n.toString(16)}`).toEqual([...reference])
      expect(readBigUint64(ours, 1)).toBe(n)
    }
    expect(() => writeBigUint64(new Uint8Array(8), 0, 2n ** 64n)).toThrow(RangeError)
    expect(() => writeBigUint64(new Uint8Array(8), 0, -1n)).toThrow(RangeError)
    expect(() => readBigUint64(new Uint8Array(8), 1)).toThrow(/past the end/)
  })
})

describe('records', () => {
  it('round-trip with their revision, checked against the key they are stored under', () => {
    const key = new TextEncoder().encode('k')
    const value = new TextEncoder().encode('value')
    const fields = {
      main: 9,
      sub: 2,
      tombstone: false,
      createRevision: 4,
      version: 3,
      lease: 2n ** 63n - 1n,
    }
    const record = encodeRecord(fields, key, value)
    const view = decodeRecord(record)
    expect(view).toMatchObject(fields)
    expect(recordKeyValue(record, view)).toEqual({
      key,
      value,
      createRevision: 4,
      modRevision: 9,
      version: 3,
      lease: 2n ** 63n - 1n,
    })
    checkRecordKey(recordKey(9, 2, false), view)
    expect(() => checkRecordKey(recordKey(9, 3, false), view)).toThrow(/another revision/)
    expect(() => checkRecordKey(recordKey(9, 2, true), view)).toThrow(/another revision/)
  })

  it('refuses a truncated or foreign record', () => {
    const record = encodeRecord(
      { main: 1, sub: 0, tombstone: false, createRevision: 1, version: 1, lease: 0n },
      new Uint8Array([1, 2, 3]),
      new Uint8Array(0),
    )
    expect(() => decodeRecord(record.subarray(0, 47))).toThrow(/overruns/)
    const foreign = record.slice()
    foreign[0] = 9
    expect(() => decodeRecord(foreign)).toThrow(/format byte 9/)
  })
})
