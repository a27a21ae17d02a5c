import { readFile, readdir, rename, stat, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  SNAP_DEFAULTS,
  SnapCorruptError,
  SnapInvalidArgumentError,
  SnapMismatchError,
  SnapTooLargeError,
  listSnapshots,
  loadNewest,
  openSnapshot,
  purgeSnapshots,
  receiveSnapshot,
  saveSnapshot,
  verifySnapshotFile,
} from '../../../node-core/snap'
import { makeTempDir, removeDir, testSeed } from '../wal/helpers'
import { digest, fromBuffers, meta, seededImage } from './helpers'

const MIB = 1024 * 1024

let dir: string
beforeEach(async () => {
  dir = await makeTempDir('snap')
})
afterEach(async () => {
  await removeDir(dir)
})

async function flipByte(path: string, offset: number): Promise<void> {
  const bytes = await readFile(path)
  bytes[offset]! ^= 0x40
  await writeFile(path, bytes)
}

describe('snap: save and load', () => {
  it('round-trips a multi-MiB image streamed in uneven chunks, never more than a chunk at a time', async () => {
    const seed = testSeed('snap round trip')
    const size = 5 * MIB + 12345
    const want = await digest(seededImage(seed, size))
    const info = await saveSnapshot(dir, meta(1000, 7), seededImage(seed, size))
    expect(info.name).toBe('0000000000000007-00000000000003e8.snap')
    expect(info.imageBytes).toBe(size)
    expect((await stat(info.path)).size).toBe(info.fileBytes)
    expect((await readdir(dir)).sort()).toEqual([info.name])

    const loaded = await loadNewest(dir)
    expect(loaded).toBeDefined()
    expect(loaded!.metadata).toEqual(meta(1000, 7))
    expect(loaded!.imageBytes).toBe(size)
    const got = await digest(loaded!.openImage())
    expect(got.sha256).toBe(want.sha256)
    expect(got.bytes).toBe(size)
    expect(got.largestChunk).toBeLessThanOrEqual(SNAP_DEFAULTS.chunkBytes)
    expect(got.chunks).toBeGreaterThan(4)
    // And again: openImage() can be called more than once.
    expect((await digest(loaded!.openImage())).sha256).toBe(want.sha256)
  })

  it('round-trips an empty image', async () => {
    await saveSnapshot(dir, meta(1, 1), fromBuffers())
    const loaded = await loadNewest(dir)
    expect(loaded!.imageBytes).toBe(0)
    expect((await digest(loaded!.openImage())).bytes).toBe(0)
  })

  it('returns undefined for an empty or missing directory', async () => {
    expect(await loadNewest(dir)).toBeUndefined()
    expect(await loadNewest(join(dir, 'missing'))).toBeUndefined()
  })

  it('refuses invalid metadata and an image over the limit, leaving nothing behind', async () => {
    await expect(saveSnapshot(dir, meta(0, 1), fromBuffers())).rejects.toBeInstanceOf(
      SnapInvalidArgumentError,
    )
    await expect(
      saveSnapshot(
        dir,
        { index: 5, term: 1, confState: { voters: [1.5], learners: [] } },
        fromBuffers(),
      ),
    ).rejects.toThrow(/voters/)
    await expect(
      saveSnapshot(dir, meta(5, 1), seededImage(1, 3 * MIB), { imageBytesMax: 2 * MIB }),
    ).rejects.toBeInstanceOf(SnapTooLargeError)
    expect(await readdir(dir)).toEqual([])
  })

  it('leaves nothing behind when the image stream fails', async () => {
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(1000)
      throw new Error('state machine went away')
    }
    await expect(saveSnapshot(dir, meta(5, 1), failing())).rejects.toThrow(/went away/)
    expect(await readdir(dir)).toEqual([])
  })
})

describe('snap: corruption', () => {
  it('falls back to the previous snapshot when the newest is corrupt, keeping it aside', async () => {
    await saveSnapshot(dir, meta(10, 1), seededImage(1, 300_000))
    await saveSnapshot(dir, meta(20, 1), seededImage(2, 300_000))
    const newest = await saveSnapshot(dir, meta(30, 2), seededImage(3, 300_000))
    await flipByte(newest.path, 150_000)
    const broken: string[] = []
    const loaded = await loadNewest(dir, {
      onBroken: (name, _path, err) => broken.push(`${name}: ${err.code}`),
    })
    expect(loaded!.metadata.index).toBe(20)
    expect((await digest(loaded!.openImage())).sha256).toBe(
      (await digest(seededImage(2, 300_000))).sha256,
    )
    expect(broken).toEqual([`${newest.name}: SNAP_CORRUPT`])
    expect((await readdir(dir)).sort()).toEqual([
      '0000000000000001-000000000000000a.snap',
      '0000000000000001-0000000000000014.snap',
      `${newest.name}.broken`,
    ])
  })

  it('detects truncation, a damaged header and a name that does not match the metadata', async () => {
    const a = await saveSnapshot(dir, meta(10, 1), seededImage(1, 5000))
    const b = await saveSnapshot(dir, meta(20, 1), seededImage(2, 5000))
    const c = await saveSnapshot(dir, meta(30, 1), seededImage(3, 5000))
    await truncate(c.path, c.fileBytes - 1)
    await flipByte(b.path, 20) // inside the metadata JSON: header crc
    await expect(verifySnapshotFile(c.path)).rejects.toBeInstanceOf(SnapCorruptError)
    await expect(verifySnapshotFile(b.path)).rejects.toThrow(/header crc mismatch/)
    const renamed = join(dir, '0000000000000001-0000000000000028.snap')
    await rename(a.path, renamed)
    await expect(verifySnapshotFile(renamed)).rejects.toThrow(
      /metadata says 0000000000000001-000000000000000a.snap/,
    )
    expect(await loadNewest(dir)).toBeUndefined()
    expect((await readdir(dir)).filter((n) => n.endsWith('.broken'))).toHaveLength(3)
  })

  it('openImage() throws at the end when the file was damaged after loading', async () => {
    await saveSnapshot(dir, meta(10, 1), seededImage(4, 3 * MIB))
    const loaded = await loadNewest(dir)
    await flipByte(loaded!.path, 2 * MIB)
    let chunks = 0
    const consume = async () => {
      for await (const _chunk of loaded!.openImage()) chunks++
    }
    await expect(consume()).rejects.toMatchObject({
      code: 'SNAP_CORRUPT',
      message: expect.stringMatching(/file crc mismatch/),
    })
    expect(chunks).toBe(3)
  })
})

describe('snap: retention and markers', () => {
  it('keeps the newest five by default, or as many as asked', async () => {
    for (let i = 1; i <= 7; i++) await saveSnapshot(dir, meta(i * 10, 1), seededImage(i, 100))
    const first = await purgeSnapshots(dir)
    expect(first.removed).toEqual([
      '0000000000000001-0000000000000014.snap',
      '0000000000000001-000000000000000a.snap',
    ])
    expect(first.kept.map((s) => s.index)).toEqual([70, 60, 50, 40, 30])
    const second = await purgeSnapshots(dir, 2)
    expect(second.kept.map((s) => s.index)).toEqual([70, 60])
    expect((await listSnapshots(dir)).map((s) => s.index)).toEqual([70, 60])
    await expect(purgeSnapshots(dir, 0)).rejects.toBeInstanceOf(SnapInvalidArgumentError)
  })

  it('with markedUpTo, neither counts nor removes snapshots above it', async () => {
    for (let i = 1; i <= 4; i++) await saveSnapshot(dir, meta(i * 10, 1), seededImage(i, 100))
    const { kept, removed } = await purgeSnapshots(dir, 1, { markedUpTo: 25 })
    expect(kept.map((s) => s.index)).toEqual([20])
    expect(removed).toEqual(['0000000000000001-000000000000000a.snap'])
    expect((await listSnapshots(dir)).map((s) => s.index)).toEqual([40, 30, 20])
  })

  it('with markers, considers only snapshots the WAL recorded (without renaming the others)', async () => {
    await saveSnapshot(dir, meta(10, 1), seededImage(1, 100))
    await saveSnapshot(dir, meta(20, 1), seededImage(2, 100))
    const loaded = await loadNewest(dir, {
      markers: [
        { index: 10, term: 1 },
        { index: 20, term: 2 },
      ],
    })
    expect(loaded!.metadata.index).toBe(10)
    expect((await listSnapshots(dir)).length).toBe(2)
  })

  it('removes temp files left by other processes, not its own', async () => {
    await writeFile(join(dir, '0000000000000001-000000000000000a.snap.1.1.tmp'), 'x')
    await writeFile(join(dir, `incoming.snap.${process.pid}.99.tmp`), 'x')
    await purgeSnapshots(dir)
    expect(await readdir(dir)).toEqual([`incoming.snap.${process.pid}.99.tmp`])
  })
})

describe('snap: sending and receiving', () => {
  it('streams a file to another directory in chunks and verifies it there', async () => {
    const seed = testSeed('snap transfer')
    const sent = await saveSnapshot(dir, meta(500, 3), seededImage(seed, 2 * MIB + 3))
    const leader = await openSnapshot(dir, { index: 500, term: 3 })
    expect(leader.fileBytes).toBe(sent.fileBytes)
    const target = join(dir, 'follower')
    const received = await receiveSnapshot(target, leader.readFile(7777), {
      expected: { index: 500, term: 3 },
    })
    expect(received).toMatchObject({
      name: sent.name,
      fileBytes: sent.fileBytes,
      imageBytes: 2 * MIB + 3,
    })
    expect((await readFile(received.path)).equals(await readFile(sent.path))).toBe(true)
    const loaded = await loadNewest(target)
    expect((await digest(loaded!.openImage())).sha256).toBe(
      (await digest(seededImage(seed, 2 * MIB + 3))).sha256,
    )
    expect(await readdir(target)).toEqual([sent.name])
  })

  it('refuses a damaged, truncated, mislabelled or failing stream, making nothing visible', async () => {
    const sent = await saveSnapshot(dir, meta(500, 3), seededImage(9, 100_000))
    const bytes = await readFile(sent.path)
    const target = join(dir, 'follower')

    const flipped = Buffer.from(bytes)
    flipped[50_000]! ^= 1
    await expect(
      receiveSnapshot(target, fromBuffers(flipped.subarray(0, 30_000), flipped.subarray(30_000))),
    ).rejects.toMatchObject({
      code: 'SNAP_CORRUPT',
      message: expect.stringMatching(/file crc mismatch/),
    })
    await expect(
      receiveSnapshot(target, fromBuffers(bytes.subarray(0, bytes.length - 5))),
    ).rejects.toBeInstanceOf(SnapCorruptError)
    await expect(receiveSnapshot(target, fromBuffers(bytes.subarray(0, 10)))).rejects.toThrow(
      /inside the header/,
    )
    await expect(
      receiveSnapshot(target, fromBuffers(bytes), { expected: { index: 500, term: 4 } }),
    ).rejects.toBeInstanceOf(SnapMismatchError)
    await expect(
      receiveSnapshot(target, fromBuffers(bytes), { imageBytesMax: 50_000 }),
    ).rejects.toBeInstanceOf(SnapTooLargeError)
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield bytes.subarray(0, 40_000)
      throw new Error('peer went away')
    }
    await expect(receiveSnapshot(target, broken())).rejects.toThrow(/peer went away/)
    expect(await readdir(target)).toEqual([])

    // One byte at a time still works (the trailer is held back across chunk boundaries).
    const tiny = async function* () {
      for (let i = 0; i < bytes.length; i += 1 + (i % 3))
        yield bytes.subarray(i, Math.min(bytes.length, i + 1 + (i % 3)))
    }
    const ok = await receiveSnapshot(target, tiny())
    expect(ok.imageBytes).toBe(100_000)
  })
})
