import { crc32c } from '@node-rs/crc32'
import { expect, it } from 'vitest'
import { createPrng } from '../../../node-core/raft/prng'
import { NATIVE_CRC_MIN_BYTES, crc32cRange } from '../../../node-core/wal/crc'
import { testSeed } from './helpers'

it('crc32cRange equals the native crc32c for any offset, length and initial state', () => {
  const seed = testSeed('crc32cRange')
  const prng = createPrng(seed)
  const backing = new Uint8Array(4096)
  for (let i = 0; i < backing.length; i++) backing[i] = prng.int(0, 256)
  // Views at every alignment of the underlying buffer, so both the word and byte paths run.
  for (let viewStart = 0; viewStart < 8; viewStart++) {
    const view = backing.subarray(viewStart)
    for (let trial = 0; trial < 300; trial++) {
      const start = prng.int(0, 64)
      const length = prng.chance(0.2)
        ? prng.int(NATIVE_CRC_MIN_BYTES - 8, NATIVE_CRC_MIN_BYTES + 8)
        : prng.int(0, 300)
      const initial = prng.chance(0.3) ? 0 : prng.nextUint32()
      const want = crc32c(view.slice(start, start + length), initial)
      expect(
        crc32cRange(view, start, start + length, initial),
        `seed ${seed} view ${viewStart} trial ${trial}`,
      ).toBe(want)
    }
  }
  // The standard check value of CRC-32C.
  expect(crc32cRange(new TextEncoder().encode('123456789'), 0, 9, 0)).toBe(0xe3069283)
})
