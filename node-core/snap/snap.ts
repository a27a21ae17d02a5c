/**
 * The snapshot store: one directory of `<term>-<index>.snap` files (format in format.ts).
 *
 * - saveSnapshot() streams a state-machine image into `<name>.<pid>.<n>.tmp`, fsyncs it, renames
 *   it into place and fsyncs the directory: a snapshot file is either absent or whole.
 * - loadNewest() verifies candidates newest first, streaming each whole file through its CRC
 *   before trusting it; a bad one is renamed aside to `<name>.broken` and the next one tried.
 *   With `markers` (the WAL's snapshot markers) it considers only snapshots the WAL can replay
 *   from, so that a crash between saving the file and writing the WAL marker is harmless.
 * - openImage() streams the image back and checks the file CRC at the end: a consumer must
 *   treat the error thrown there as "discard what you built".
 * - readSnapshotFile() gives a file's raw bytes in chunks (for the transport to send), and
 *   receiveSnapshot() writes such a stream into the directory, verifying all of it (and that
 *   it is the snapshot announced) before it becomes visible.
 * - purgeSnapshots() keeps the newest `keep` files (default 5) and removes temp files left by
 *   earlier processes. Images are never held whole in memory: everything moves in chunks.
 */
import { mkdir, open, readdir, unlink } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { crc32c } from '@node-rs/crc32'
import type { SnapshotMetadata } from '../raft/types'
import { fsyncDir, isErrno, moveAside, readFully, renameDurably, writeAll } from '../kernel/fs'
import {
  SnapCorruptError,
  SnapInvalidArgumentError,
  SnapMismatchError,
  SnapNotFoundError,
  SnapTooLargeError,
} from './errors'
import {
  PREFIX_BYTES,
  TRAILER_BYTES,
  checkMetadata,
  checkTrailer,
  decodeHeader,
  encodeHeader,
  encodeTrailer,
  headerBytesFromPrefix,
  newestFirst,
  parseSnapshotName,
  snapshotFileName,
} from './format'
import type { SnapshotName } from './format'

const GIB = 1024 * 1024 * 1024

export const SNAP_DEFAULTS = {
  /** Snapshot files kept by purgeSnapshots(). */
  keep: 5,
  /** Largest image accepted by saveSnapshot() and receiveSnapshot(). */
  imageBytesMax: 64 * GIB,
  /** Size of the chunks read from and written to snapshot files. */
  chunkBytes: 1024 * 1024,
} as const

export interface SnapshotFileInfo {
  name: string
  path: string
  metadata: SnapshotMetadata
  /** Size of the whole file (what readSnapshotFile() streams). */
  fileBytes: number
  /** Size of the state-machine image inside it. */
  imageBytes: number
}

export interface LoadedSnapshot extends SnapshotFileInfo {
  /** The image, in chunks; throws SnapCorruptError at the end if the file CRC fails. */
  openImage(): AsyncIterable<Uint8Array>
  /** The file's raw bytes, for sending to a follower. */
  readFile(chunkBytes?: number): AsyncIterable<Uint8Array>
}

export interface SnapshotRef {
  index: number
  term: number
}

export interface LoadNewestOptions {
  /** Only snapshots with one of these (index, term) pairs are candidates (the WAL's markers). */
  markers?: readonly SnapshotRef[]
  /** Told about each corrupt file moved aside (for the log). */
  onBroken?: (name: string, brokenPath: string, err: SnapCorruptError) => void
}

let tempCounter = 0

function tempName(base: string): string {
  tempCounter++
  return `${base}.${process.pid}.${tempCounter}.tmp`
}

const TEMP_RE = /\.(\d+)\.(\d+)\.tmp$/

/** Snapshot files in `dir`, newest first (names only; nothing verified). */
export async function listSnapshots(dir: string): Promise<SnapshotName[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return []
    throw err
  }
  return names
    .map(parseSnapshotName)
    .filter((s): s is SnapshotName => s !== undefined)
    .sort(newestFirst)
}

/**
 * Streams `image` into a new snapshot file for `metadata` and makes it durable and visible.
 * The image iterable is consumed once, chunk by chunk; nothing is held beyond one write buffer.
 */
export async function saveSnapshot(
  dir: string,
  metadata: SnapshotMetadata,
  image: AsyncIterable<Uint8Array>,
  options: { imageBytesMax?: number } = {},
): Promise<SnapshotFileInfo> {
  const bad = checkMetadata(metadata)
  if (bad) throw new SnapInvalidArgumentError(bad)
  const imageBytesMax = options.imageBytesMax ?? SNAP_DEFAULTS.imageBytesMax
  await mkdir(dir, { recursive: true })
  const name = snapshotFileName(metadata.term, metadata.index)
  const tmp = join(dir, tempName(name))
  const fh = await open(tmp, 'wx')
  let done = false
  try {
    const header = encodeHeader(metadata)
    const out = new ChunkWriter(fh)
    await out.write(header)
    let crc = crc32c(header)
    let imageBytes = 0
    for await (const chunk of image) {
      imageBytes += chunk.byteLength
      if (imageBytes > imageBytesMax)
        throw new SnapTooLargeError('image', imageBytes, imageBytesMax)
      crc = crc32c(chunk, crc)
      await out.write(chunk)
    }
    const trailer = encodeTrailer(imageBytes, crc)
    await out.write(trailer)
    await out.flush()
    await fh.datasync()
    await fh.close()
    done = true
    await renameDurably(tmp, join(dir, name))
    return {
      name,
      path: join(dir, name),
      metadata: copyMetadata(metadata),
      fileBytes: header.length + imageBytes + trailer.length,
      imageBytes,
    }
  } finally {
    if (!done) {
      await fh.close().catch(() => undefined)
      await unlink(tmp).catch(() => undefined)
    }
  }
}

/**
 * The newest snapshot that verifies (and, with `markers`, has a WAL marker), or undefined when
 * there is none. Corrupt files are renamed to `<name>.broken` on the way.
 */
export async function loadNewest(
  dir: string,
  options: LoadNewestOptions = {},
): Promise<LoadedSnapshot | undefined> {
  await removeStaleTemp(dir)
  const wanted = options.markers
    ? new Set(options.markers.map((m) => `${m.index}/${m.term}`))
    : undefined
  for (const candidate of await listSnapshots(dir)) {
    if (wanted && !wanted.has(`${candidate.index}/${candidate.term}`)) continue
    const path = join(dir, candidate.name)
    try {
      const info = await verifySnapshotFile(path)
      return loaded(info)
    } catch (err) {
      if (!(err instanceof SnapCorruptError)) throw err
      const brokenPath = await moveAside(path, dir)
      options.onBroken?.(candidate.name, brokenPath, err)
    }
  }
  return undefined
}

/**
 * The snapshot file for (index, term), its header checked but not its whole CRC (the receiver
 * of readFile() and the consumer of openImage() check that). For the leader sending a snapshot
 * it loaded earlier.
 */
export async function openSnapshot(dir: string, ref: SnapshotRef): Promise<LoadedSnapshot> {
  const name = snapshotFileName(ref.term, ref.index)
  const path = join(dir, name)
  let fh: FileHandle
  try {
    fh = await open(path, 'r')
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new SnapNotFoundError(`${name} does not exist in ${dir}`)
    throw err
  }
  try {
    const size = (await fh.stat()).size
    const { metadata, headerBytes } = await readHeader(fh, size, name)
    checkNameMatches(name, metadata)
    return loaded({
      name,
      path,
      metadata,
      fileBytes: size,
      imageBytes: size - headerBytes - TRAILER_BYTES,
    })
  } finally {
    await fh.close()
  }
}

/** Reads a whole snapshot file through its CRC; throws SnapCorruptError when it is damaged. */
export async function verifySnapshotFile(path: string): Promise<SnapshotFileInfo> {
  const name = basename(path)
  const fh = await open(path, 'r')
  try {
    const size = (await fh.stat()).size
    const { metadata, headerBytes, header } = await readHeader(fh, size, name)
    checkNameMatches(name, metadata)
    const imageBytes = size - headerBytes - TRAILER_BYTES
    let crc = crc32c(header)
    for await (const chunk of readRange(
      fh,
      headerBytes,
      size - TRAILER_BYTES,
      SNAP_DEFAULTS.chunkBytes,
    )) {
      crc = crc32c(chunk, crc)
    }
    const trailer = await readExactly(fh, size - TRAILER_BYTES, TRAILER_BYTES, name)
    const bad = checkTrailer(trailer, imageBytes, crc)
    if (bad) throw new SnapCorruptError(name, size - TRAILER_BYTES, bad)
    return { name, path, metadata, fileBytes: size, imageBytes }
  } finally {
    await fh.close()
  }
}

/** A snapshot file's raw bytes in chunks of at most `chunkBytes`. */
export async function* readSnapshotFile(
  path: string,
  chunkBytes: number = SNAP_DEFAULTS.chunkBytes,
): AsyncGenerator<Uint8Array> {
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1) {
    throw new SnapInvalidArgumentError(`chunkBytes ${chunkBytes} is not a positive integer`)
  }
  const fh = await open(path, 'r')
  try {
    const size = (await fh.stat()).size
    yield* readRange(fh, 0, size, chunkBytes)
  } finally {
    await fh.close()
  }
}

/**
 * Writes a snapshot file arriving as raw chunks (readSnapshotFile() on the leader) into `dir`,
 * verifying the header, the announced (index, term) when `expected` is given, the length and
 * the CRC before renaming it into place. On any failure nothing becomes visible.
 */
export async function receiveSnapshot(
  dir: string,
  chunks: AsyncIterable<Uint8Array>,
  options: { expected?: SnapshotRef; imageBytesMax?: number } = {},
): Promise<SnapshotFileInfo> {
  const imageBytesMax = options.imageBytesMax ?? SNAP_DEFAULTS.imageBytesMax
  await mkdir(dir, { recursive: true })
  const tmp = join(dir, tempName('incoming.snap'))
  const fh = await open(tmp, 'wx')
  let done = false
  try {
    const parser = new IncomingParser(options.expected, imageBytesMax)
    const out = new ChunkWriter(fh)
    for await (const chunk of chunks) {
      parser.push(chunk)
      await out.write(chunk)
    }
    const { metadata, fileBytes, imageBytes } = parser.finish()
    await out.flush()
    await fh.datasync()
    await fh.close()
    done = true
    const name = snapshotFileName(metadata.term, metadata.index)
    await renameDurably(tmp, join(dir, name))
    return { name, path: join(dir, name), metadata, fileBytes, imageBytes }
  } finally {
    if (!done) {
      await fh.close().catch(() => undefined)
      await unlink(tmp).catch(() => undefined)
    }
  }
}

/**
 * Keeps the newest `keep` snapshot files and removes the rest, and removes temp files left by
 * other (earlier) processes. With `markedUpTo` (the WAL's newest snapshot marker), files above
 * it are neither counted nor removed: a snapshot received from the leader is in the directory
 * before its marker is in the WAL, and until then the older snapshots are the ones a restart
 * can use. Returns what is kept (newest first; counted ones only) and what was removed.
 */
export async function purgeSnapshots(
  dir: string,
  keep: number = SNAP_DEFAULTS.keep,
  options: { markedUpTo?: number } = {},
): Promise<{ kept: SnapshotName[]; removed: string[] }> {
  if (!Number.isSafeInteger(keep) || keep < 1) {
    throw new SnapInvalidArgumentError(`keep ${keep} is not an integer >= 1`)
  }
  await removeStaleTemp(dir)
  const bound = options.markedUpTo ?? Number.POSITIVE_INFINITY
  const counted = (await listSnapshots(dir)).filter((s) => s.index <= bound)
  const removed: string[] = []
  for (const old of counted.slice(keep)) {
    try {
      await unlink(join(dir, old.name))
      removed.push(old.name)
    } catch (err) {
      // A concurrent purge got there first.
      if (!isErrno(err, 'ENOENT')) throw err
    }
  }
  if (removed.length > 0) await fsyncDir(dir)
  return { kept: counted.slice(0, keep), removed }
}

function loaded(info: SnapshotFileInfo): LoadedSnapshot {
  return {
    ...info,
    openImage: () => streamImage(info),
    readFile: (chunkBytes?: number) => readSnapshotFile(info.path, chunkBytes),
  }
}

async function* streamImage(info: SnapshotFileInfo): AsyncGenerator<Uint8Array> {
  const fh = await open(info.path, 'r')
  try {
    const size = (await fh.stat()).size
    if (size !== info.fileBytes) {
      throw new SnapCorruptError(info.name, size, `file is ${size} bytes, was ${info.fileBytes}`)
    }
    const { headerBytes, header } = await readHeader(fh, size, info.name)
    let crc = crc32c(header)
    for await (const chunk of readRange(
      fh,
      headerBytes,
      size - TRAILER_BYTES,
      SNAP_DEFAULTS.chunkBytes,
    )) {
      crc = crc32c(chunk, crc)
      yield chunk
    }
    const trailer = await readExactly(fh, size - TRAILER_BYTES, TRAILER_BYTES, info.name)
    const bad = checkTrailer(trailer, info.imageBytes, crc)
    if (bad) throw new SnapCorruptError(info.name, size - TRAILER_BYTES, bad)
  } finally {
    await fh.close()
  }
}

async function readHeader(
  fh: FileHandle,
  size: number,
  name: string,
): Promise<{ metadata: SnapshotMetadata; headerBytes: number; header: Buffer }> {
  if (size < PREFIX_BYTES + TRAILER_BYTES) {
    throw new SnapCorruptError(name, size, `file of ${size} bytes is too short for a snapshot`)
  }
  const prefix = await readExactly(fh, 0, PREFIX_BYTES, name)
  const headerBytes = headerBytesFromPrefix(prefix)
  if (typeof headerBytes === 'string') throw new SnapCorruptError(name, 0, headerBytes)
  if (headerBytes + TRAILER_BYTES > size) {
    throw new SnapCorruptError(
      name,
      8,
      `header of ${headerBytes} bytes does not fit a ${size}-byte file`,
    )
  }
  const header = await readExactly(fh, 0, headerBytes, name)
  const metadata = decodeHeader(header)
  if (typeof metadata === 'string') throw new SnapCorruptError(name, PREFIX_BYTES, metadata)
  return { metadata, headerBytes, header }
}

function checkNameMatches(name: string, metadata: SnapshotMetadata): void {
  const expected = snapshotFileName(metadata.term, metadata.index)
  if (name !== expected) {
    throw new SnapCorruptError(name, PREFIX_BYTES, `metadata says ${expected}`)
  }
}

async function readExactly(
  fh: FileHandle,
  position: number,
  length: number,
  name: string,
): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length)
  const n = await readFully(fh, buf, 0, length, position)
  if (n !== length) throw new SnapCorruptError(name, position + n, 'file shorter than expected')
  return buf
}

/** Fresh buffers (the consumer may keep them) covering [from, to) of the file. */
async function* readRange(
  fh: FileHandle,
  from: number,
  to: number,
  chunkBytes: number,
): AsyncGenerator<Buffer> {
  for (let pos = from; pos < to;) {
    const length = Math.min(chunkBytes, to - pos)
    const buf = Buffer.allocUnsafe(length)
    const n = await readFully(fh, buf, 0, length, pos)
    if (n !== length) throw new Error(`file shrank while being read (at ${pos + n} of ${to})`)
    yield buf
    pos += length
  }
}

async function removeStaleTemp(dir: string): Promise<void> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return
    throw err
  }
  let removed = 0
  for (const n of names) {
    const m = TEMP_RE.exec(n)
    if (m && Number(m[1]) !== process.pid) {
      await unlink(join(dir, n)).catch((err: unknown) => {
        if (!isErrno(err, 'ENOENT')) throw err
      })
      removed++
    }
  }
  if (removed > 0) await fsyncDir(dir)
}

function copyMetadata(m: SnapshotMetadata): SnapshotMetadata {
  return {
    index: m.index,
    term: m.term,
    confState: { voters: [...m.confState.voters], learners: [...m.confState.learners] },
  }
}

/** Sequential writes through a staging buffer, so that many small chunks cost few syscalls. */
class ChunkWriter {
  private readonly staging = Buffer.allocUnsafe(SNAP_DEFAULTS.chunkBytes)
  private staged = 0
  private position = 0

  constructor(private readonly fh: FileHandle) {}

  async write(chunk: Uint8Array): Promise<void> {
    if (chunk.byteLength >= this.staging.length) {
      await this.flush()
      await writeAll(this.fh, chunk, this.position)
      this.position += chunk.byteLength
      return
    }
    if (this.staged + chunk.byteLength > this.staging.length) await this.flush()
    this.staging.set(chunk, this.staged)
    this.staged += chunk.byteLength
  }

  async flush(): Promise<void> {
    if (this.staged === 0) return
    await writeAll(this.fh, this.staging.subarray(0, this.staged), this.position)
    this.position += this.staged
    this.staged = 0
  }
}

/**
 * Follows a snapshot file as it streams in: parses the header as soon as it is complete,
 * feeds the CRC with everything but the last TRAILER_BYTES (held back until the end), and
 * enforces the size limit.
 */
class IncomingParser {
  private head: Buffer[] = []
  private headBytes = 0
  private headerBytes = -1
  private metadata: SnapshotMetadata | undefined
  private total = 0
  private crc = 0
  private held = Buffer.alloc(0)

  constructor(
    private readonly expected: SnapshotRef | undefined,
    private readonly imageBytesMax: number,
  ) {}

  push(chunk: Uint8Array): void {
    this.total += chunk.byteLength
    if (this.metadata === undefined) this.collectHeader(chunk)
    if (this.metadata !== undefined) {
      const imageBytesSoFar = this.total - this.headerBytes - TRAILER_BYTES
      if (imageBytesSoFar > this.imageBytesMax) {
        throw new SnapTooLargeError('received image', imageBytesSoFar, this.imageBytesMax)
      }
    }
    // Everything except the last TRAILER_BYTES seen so far goes into the crc.
    if (chunk.byteLength >= TRAILER_BYTES) {
      const feed = chunk.byteLength - TRAILER_BYTES
      this.crc = crc32c(chunk.subarray(0, feed), crc32c(this.held, this.crc))
      this.held = Buffer.from(chunk.subarray(feed))
    } else {
      const joined = Buffer.concat([this.held, chunk])
      const feed = Math.max(0, joined.length - TRAILER_BYTES)
      this.crc = crc32c(joined.subarray(0, feed), this.crc)
      this.held = joined.subarray(feed)
    }
  }

  private collectHeader(chunk: Uint8Array): void {
    this.head.push(Buffer.from(chunk))
    this.headBytes += chunk.byteLength
    if (this.headBytes < PREFIX_BYTES) return
    const head = Buffer.concat(this.head)
    this.head = [head]
    if (this.headerBytes < 0) {
      const size = headerBytesFromPrefix(head)
      if (typeof size === 'string') throw new SnapCorruptError('incoming snapshot', 0, size)
      this.headerBytes = size
    }
    if (head.length < this.headerBytes) return
    const metadata = decodeHeader(head.subarray(0, this.headerBytes))
    if (typeof metadata === 'string')
      throw new SnapCorruptError('incoming snapshot', PREFIX_BYTES, metadata)
    const want = this.expected
    if (want && (metadata.index !== want.index || metadata.term !== want.term)) {
      throw new SnapMismatchError(
        `received index ${metadata.index} term ${metadata.term}, announced index ${want.index} term ${want.term}`,
      )
    }
    this.metadata = metadata
    this.head = []
  }

  finish(): { metadata: SnapshotMetadata; fileBytes: number; imageBytes: number } {
    if (this.metadata === undefined) {
      throw new SnapCorruptError('incoming snapshot', this.total, 'stream ended inside the header')
    }
    const imageBytes = this.total - this.headerBytes - TRAILER_BYTES
    if (imageBytes < 0 || this.held.length !== TRAILER_BYTES) {
      throw new SnapCorruptError('incoming snapshot', this.total, 'stream ended before the trailer')
    }
    const bad = checkTrailer(this.held, imageBytes, this.crc)
    if (bad) throw new SnapCorruptError('incoming snapshot', this.total - TRAILER_BYTES, bad)
    return { metadata: this.metadata, fileBytes: this.total, imageBytes }
  }
}
