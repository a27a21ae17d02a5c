/** Helpers of the snapshot tests: seeded images streamed in uneven chunks, and digests. */
import { createHash } from 'node:crypto'
import { createPrng } from '../../../node-core/raft/prng'
import type { SnapshotMetadata } from '../../../node-core/raft/types'

/**
 * A deterministic image of `totalBytes`, produced in chunks of 1 byte to 200 KiB (seeded), each
 * a fresh buffer so that nothing is held but the chunk in flight.
 */
export async function* seededImage(seed: number, totalBytes: number): AsyncGenerator<Uint8Array> {
  const prng = createPrng(seed)
  let left = totalBytes
  while (left > 0) {
    const size = Math.min(left, prng.chance(0.1) ? prng.int(1, 64) : prng.int(1, 200 * 1024))
    const chunk = new Uint8Array(size)
    for (let i = 0; i < size; i += 4) {
      const word = prng.nextUint32()
      chunk[i] = word & 0xff
      if (i + 1 < size) chunk[i + 1] = (word >>> 8) & 0xff
      if (i + 2 < size) chunk[i + 2] = (word >>> 16) & 0xff
      if (i + 3 < size) chunk[i + 3] = word >>> 24
    }
    left -= size
    yield chunk
  }
}

export interface Digest {
  sha256: string
  bytes: number
  chunks: number
  largestChunk: number
}

export async function digest(stream: AsyncIterable<Uint8Array>): Promise<Digest> {
  const hash = createHash('sha256')
  let bytes = 0
  let chunks = 0
  let largestChunk = 0
  for await (const chunk of stream) {
    hash.update(chunk)
    bytes += chunk.byteLength
    chunks++
    largestChunk = Math.max(largestChunk, chunk.byteLength)
  }
  return { sha256: hash.digest('hex'), bytes, chunks, largestChunk }
}

export function meta(index: number, term: number): SnapshotMetadata {
  return { index, term, confState: { voters: [1, 2, 3], learners: [4] } }
}

export async function* fromBuffers(...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield p
}
