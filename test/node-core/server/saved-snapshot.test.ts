// The file `etcdctl snapshot save` writes from raftdesk: the server image, padding and its length,
// and a trailing SHA-256, so that etcdctl's own check (size = 512·n + 32) passes and raftdesk can
// tell its files from etcd's, and a damaged one from a good one.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  encodeSavedSnapshot,
  openSavedSnapshot,
  SAVED_SNAPSHOT_CHUNK_BYTES,
} from '../../../node-core/server/saved-snapshot'
import { createPrng } from '../../../node-core/raft/prng'
import { SERVER_IMAGE_MAGIC } from '../../../node-core/server/image'

let dir = ''
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
  dir = ''
})

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const p of stream) parts.push(Buffer.from(p))
  return Buffer.concat(parts)
}

async function* pieces(data: Buffer, seed: number): AsyncGenerator<Uint8Array> {
  const prng = createPrng(seed)
  for (let at = 0; at < data.byteLength;) {
    const n = prng.int(1, 70_000)
    yield data.subarray(at, at + n)
    at += n
  }
}

describe('saved snapshots', () => {
  it.each([4, 511, 512, 504, 100_000, 300_001])(
    'round-trips a %i-byte image in chunks etcdctl accepts',
    async (bytes) => {
      dir = mkdtempSync(join(tmpdir(), 'raftdesk-saved-'))
      const image = Buffer.alloc(bytes)
      for (let i = 0; i < bytes; i++) image[i] = (i * 31 + 7) & 0xff
      image.set(SERVER_IMAGE_MAGIC, 0)
      const chunks: Uint8Array[] = []
      for await (const c of encodeSavedSnapshot(pieces(image, bytes))) chunks.push(c)
      for (const c of chunks) expect(c.byteLength).toBeLessThanOrEqual(SAVED_SNAPSHOT_CHUNK_BYTES)
      const file = Buffer.concat(chunks)
      expect(file.byteLength % 512).toBe(32) // etcdctl's hasChecksum
      const path = join(dir, 'snap.db')
      writeFileSync(path, file)
      expect((await collect(await openSavedSnapshot(path))).equals(image)).toBe(true)
    },
  )

  it('refuses a damaged file and a file that is not a raftdesk snapshot, reading only', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftdesk-saved-'))
    const path = join(dir, 'snap.db')
    const image = Buffer.alloc(5000, 1)
    image.set(SERVER_IMAGE_MAGIC, 0)
    writeFileSync(path, await collect(encodeSavedSnapshot(pieces(image, 3))))
    const good = readFileSync(path)
    for (const at of [0, 2500, good.byteLength - 40, good.byteLength - 1]) {
      const bad = Buffer.from(good)
      bad[at]! ^= 0x10
      writeFileSync(path, bad)
      await expect(openSavedSnapshot(path)).rejects.toThrow(/damaged/)
      expect(readFileSync(path).equals(bad)).toBe(true)
    }
    writeFileSync(path, Buffer.alloc(4096))
    await expect(openSavedSnapshot(path)).rejects.toThrow(/not a snapshot saved with etcdctl/)
    // Well formed, but not a raftdesk image (as a real etcd's bbolt file is).
    writeFileSync(path, await collect(encodeSavedSnapshot(pieces(Buffer.alloc(5000, 2), 4))))
    await expect(openSavedSnapshot(path)).rejects.toThrow(/not a raftdesk snapshot/)
  })
})
