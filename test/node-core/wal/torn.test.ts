/**
 * Crash damage and corruption: what a torn write leaves at the end of the last segment is
 * repaired (copy kept aside, truncated after the last good record); anything else is
 * WalCorruptError naming the file and the byte offset of the bad record.
 */
import { readFile, readdir, stat, truncate, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createPrng } from '../../../node-core/raft/prng'
import type { Entry, HardState } from '../../../node-core/raft/types'
import {
  WalCorruptError,
  createWal,
  inspectSegment,
  listSegments,
  openWal,
} from '../../../node-core/wal'
import type { RecordInfo } from '../../../node-core/wal'
import { entriesDiff, entry, makeTempDir, plain, removeDir, testSeed, textEncoder } from './helpers'

const META = textEncoder.encode('node 1 of cluster 7')
const SEGMENT_BYTES = 4096

let root: string
let dir: string
beforeEach(async () => {
  root = await makeTempDir('wal-torn')
  dir = join(root, 'wal')
})
afterEach(async () => {
  await removeDir(root)
})

interface Built {
  written: Entry[]
  hardStates: HardState[]
  lastSegment: string
  records: RecordInfo[]
  bytes: Buffer
}

/** A few segments of 150-byte entries, then small final batches: entry, hard state, entry. */
async function build(finalBytes = 120): Promise<Built> {
  const wal = await createWal(dir, META, { segmentBytes: SEGMENT_BYTES })
  const written: Entry[] = []
  const hardStates: HardState[] = []
  let index = 1
  for (let b = 0; b < 24; b++) {
    const batch = [entry(index, 1, 150), entry(index + 1, 1, 150), entry(index + 2, 1, 150)]
    const hs = { term: 1, vote: 1, commit: index - 1 }
    await wal.save(hs, batch)
    written.push(...batch)
    hardStates.push(hs)
    index += 3
  }
  const tail = [entry(index, 2, 40), entry(index + 1, 2, finalBytes)]
  await wal.save(undefined, [tail[0]!])
  await wal.save({ term: 2, vote: 1, commit: index }, [])
  await wal.save(undefined, [tail[1]!])
  written.push(...tail)
  hardStates.push({ term: 2, vote: 1, commit: index })
  await wal.close()
  const segments = await listSegments(dir)
  expect(segments.length).toBeGreaterThan(2)
  const lastSegment = segments[segments.length - 1]!.name
  const { records, result } = await inspectSegment(join(dir, lastSegment), 1 << 20)
  expect(result.damage).toBeUndefined()
  return {
    written,
    hardStates,
    lastSegment,
    records,
    bytes: await readFile(join(dir, lastSegment)),
  }
}

/** What replay must return when the last segment ends at `cut`: every record complete before it. */
function expectedAt(built: Built, cut: number): { lastIndex: number; hardState: HardState } {
  const tailStart = built.records.find((r) => r.type === 'entry')?.index
  let lastIndex = tailStart === undefined ? built.written.length : tailStart - 1
  let hardState: HardState | undefined
  for (const r of built.records) {
    if (r.offset + r.bytes > cut) break
    if (r.type === 'entry') lastIndex = r.index!
    if (r.type === 'hardState') hardState = { term: r.term!, vote: r.vote!, commit: r.commit! }
  }
  return { lastIndex, hardState: hardState! }
}

async function removeBrokenCopies(): Promise<string[]> {
  const broken = (await readdir(dir)).filter((n) => n.includes('.broken'))
  for (const n of broken) await unlink(join(dir, n))
  return broken
}

describe('wal: torn tail', () => {
  it('truncated at every byte of its last records, returns exactly the complete records', async () => {
    const built = await build()
    const path = join(dir, built.lastSegment)
    const from = built.records[built.records.length - 3]!.offset
    expect(built.bytes.length - from).toBeGreaterThan(250)
    for (let cut = from; cut <= built.bytes.length; cut++) {
      await writeFile(path, built.bytes.subarray(0, cut))
      const want = expectedAt(built, cut)
      const opened = await openWal(dir, { segmentBytes: SEGMENT_BYTES })
      try {
        expect(
          entriesDiff(opened.entries, built.written.slice(0, want.lastIndex)),
          `cut at ${cut}`,
        ).toBeUndefined()
        expect(opened.hardState, `cut at ${cut}`).toEqual(want.hardState)
        const complete = built.records.filter((r) => r.offset + r.bytes <= cut).at(-1)!
        const goodBytes = complete.offset + complete.bytes
        if (goodBytes === cut) {
          expect(opened.repair, `cut at ${cut}`).toBeUndefined()
        } else {
          expect(opened.repair, `cut at ${cut}`).toMatchObject({
            file: built.lastSegment,
            offset: goodBytes,
            brokenCopy: `${built.lastSegment}.broken`,
            bytesDropped: cut - goodBytes,
          })
          expect((await stat(path)).size).toBe(goodBytes)
          const copy = await readFile(join(dir, `${built.lastSegment}.broken`))
          expect(copy.equals(built.bytes.subarray(0, cut))).toBe(true)
        }
        // Now and then, check that the repaired WAL appends and replays cleanly.
        if (cut % 41 === 0) {
          const next = entry(want.lastIndex + 1, 3, 77)
          await opened.wal.save({ term: 3, vote: 0, commit: want.lastIndex }, [next])
          await opened.wal.close()
          const again = await openWal(dir, { segmentBytes: SEGMENT_BYTES })
          expect(again.repair).toBeUndefined()
          expect(plain(again.entries.slice(-1))).toEqual(plain([next]))
          expect(again.entries.length).toBe(want.lastIndex + 1)
          await again.wal.close()
        }
      } finally {
        await opened.wal.close()
      }
      await removeBrokenCopies()
    }
  })

  it('repairs zeros appended after the last record', async () => {
    const built = await build()
    const path = join(dir, built.lastSegment)
    await writeFile(path, Buffer.concat([built.bytes, Buffer.alloc(4096)]))
    const opened = await openWal(dir)
    expect(plain(opened.entries)).toEqual(plain(built.written))
    expect(opened.repair).toMatchObject({ offset: built.bytes.length, bytesDropped: 4096 })
    expect(opened.repair!.reason).toMatch(/all zeros/)
    expect((await stat(path)).size).toBe(built.bytes.length)
    await opened.wal.close()
    expect((await stat(join(dir, `${built.lastSegment}.broken`))).size).toBe(
      built.bytes.length + 4096,
    )
  })

  it('repairs a last record whose later sectors were never written (zeros to the end)', async () => {
    const built = await build(2000)
    const path = join(dir, built.lastSegment)
    const last = built.records.at(-1)!
    const zeroFrom = Math.ceil((last.offset + 16) / 512) * 512
    expect(zeroFrom).toBeLessThan(last.offset + last.bytes)
    const damaged = Buffer.from(built.bytes)
    damaged.fill(0, zeroFrom)
    await writeFile(path, damaged)
    const opened = await openWal(dir)
    expect(plain(opened.entries)).toEqual(plain(built.written.slice(0, -1)))
    expect(opened.repair).toMatchObject({ offset: last.offset })
    expect(opened.repair!.reason).toMatch(/entry record crc mismatch/)
    await opened.wal.close()
  })

  it('treats an unwritten sector inside the unacknowledged tail as torn, dropping what follows', async () => {
    const built = await build(2000)
    const path = join(dir, built.lastSegment)
    const last = built.records.at(-1)!
    // The last write's first data sector never made it, its later sectors did.
    const sector = Math.ceil((last.offset + 16) / 512) * 512
    const damaged = Buffer.from(built.bytes)
    damaged.fill(0, sector, sector + 512)
    expect(sector + 512).toBeLessThan(damaged.length)
    await writeFile(path, damaged)
    const opened = await openWal(dir)
    expect(opened.entries.length).toBe(built.written.length - 1)
    expect(opened.repair).toMatchObject({ offset: last.offset })
    await opened.wal.close()
  })

  it('calls a truncated segment that is not the last one corruption', async () => {
    const built = await build()
    const segments = await listSegments(dir)
    const middle = segments[1]!.name
    const size = (await stat(join(dir, middle))).size
    await truncate(join(dir, middle), size - 20)
    const err = await openWal(dir).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(WalCorruptError)
    expect(err).toMatchObject({ code: 'WAL_CORRUPT', file: middle })
    expect((err as WalCorruptError).message).toMatch(/runs past the end of the file/)
    expect(built.written.length).toBeGreaterThan(0)
  })

  it('calls zeros in a segment that is not the last one corruption', async () => {
    await build()
    const segments = await listSegments(dir)
    const middle = join(dir, segments[0]!.name)
    const bytes = await readFile(middle)
    bytes.fill(0, 1024, 1536)
    await writeFile(middle, bytes)
    await expect(openWal(dir)).rejects.toMatchObject({
      code: 'WAL_CORRUPT',
      file: segments[0]!.name,
    })
  })
})

describe('wal: corruption', () => {
  it('reports a flipped bit anywhere before the tail as corruption at that record', async () => {
    const seed = testSeed('wal flipped bits')
    const prng = createPrng(seed)
    await build()
    const segments = await listSegments(dir)
    const pristine = new Map<string, Buffer>()
    const layout = new Map<string, RecordInfo[]>()
    for (const s of segments) {
      pristine.set(s.name, await readFile(join(dir, s.name)))
      layout.set(s.name, (await inspectSegment(join(dir, s.name), 1 << 20)).records)
    }
    for (let trial = 0; trial < 40; trial++) {
      const seg = segments[prng.int(0, segments.length)]!
      const records = layout.get(seg.name)!
      // Every record but the very last one of the WAL (that one has its own test below).
      const isLastSeg = seg === segments[segments.length - 1]
      const record = records[prng.int(0, records.length - (isLastSeg ? 1 : 0))]!
      const byte = record.offset + prng.int(0, record.bytes)
      const bit = prng.int(0, 8)
      const bytes = Buffer.from(pristine.get(seg.name)!)
      bytes[byte]! ^= 1 << bit
      await writeFile(join(dir, seg.name), bytes)
      const err = await openWal(dir).catch((e: unknown) => e)
      const where = `seed ${seed} trial ${trial}: ${seg.name} byte ${byte} bit ${bit} (record ${record.type} at ${record.offset})`
      expect(err, where).toBeInstanceOf(WalCorruptError)
      expect(err, where).toMatchObject({ file: seg.name, offset: record.offset })
      expect((err as Error).message, where).toContain(`${seg.name} at byte offset ${record.offset}`)
      await writeFile(join(dir, seg.name), pristine.get(seg.name)!)
    }
    // Nothing was repaired or copied aside along the way, and the WAL is whole again.
    expect(await removeBrokenCopies()).toEqual([])
    const opened = await openWal(dir)
    expect(opened.repair).toBeUndefined()
    await opened.wal.close()
  })

  it('reports a flipped bit in the last record as corruption, not a torn tail', async () => {
    const built = await build(300)
    const last = built.records.at(-1)!
    const damaged = Buffer.from(built.bytes)
    damaged[last.offset + 16 + 17 + 100]! ^= 0x10
    await writeFile(join(dir, built.lastSegment), damaged)
    await expect(openWal(dir)).rejects.toMatchObject({
      code: 'WAL_CORRUPT',
      file: built.lastSegment,
      offset: last.offset,
      message: expect.stringMatching(/crc mismatch/),
    })
    expect(await removeBrokenCopies()).toEqual([])
  })

  it('reports a record longer than the reading limit as corruption, even at the tail', async () => {
    const built = await build(2000)
    const last = built.records.at(-1)!
    await expect(openWal(dir, { recordBytesMax: 1024 })).rejects.toMatchObject({
      code: 'WAL_CORRUPT',
      file: built.lastSegment,
      offset: last.offset,
      message: expect.stringMatching(/record length 2017 is over the limit of 1024/),
    })
  })
})
