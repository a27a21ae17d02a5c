/**
 * Small file-system helpers every layer that writes files shares (WAL, snapshots, the store,
 * join records): durable directory updates (fsync of the directory after a create, rename or
 * unlink), renames that survive a crash, whole-file atomic writes, full reads and writes, and
 * keeping a damaged file aside under a name that never overwrites an earlier copy.
 */
import { constants } from 'node:fs'
import { copyFile, open, rename, stat, unlink } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'

/** Makes a directory's entries (creates, renames, unlinks) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY)
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** Writes all of `buf` at `position`, looping over short writes. */
export async function writeAll(fh: FileHandle, buf: Uint8Array, position: number): Promise<void> {
  let done = 0
  while (done < buf.byteLength) {
    const { bytesWritten } = await fh.write(buf, done, buf.byteLength - done, position + done)
    if (bytesWritten <= 0) {
      throw new Error(`short write: ${bytesWritten} bytes at position ${position + done}`)
    }
    done += bytesWritten
  }
}

/**
 * Reads up to `length` bytes at `position` into `buf[offset..]`, looping over short reads;
 * returns the bytes read (fewer only at end of file).
 */
export async function readFully(
  fh: FileHandle,
  buf: Uint8Array,
  offset: number,
  length: number,
  position: number,
): Promise<number> {
  let done = 0
  while (done < length) {
    const { bytesRead } = await fh.read(buf, offset + done, length - done, position + done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  return done
}

/** Renames `from` to `to` and makes the rename durable (fsync of the target's directory). */
export async function renameDurably(from: string, to: string): Promise<void> {
  await rename(from, to)
  await fsyncDir(dirname(to))
}

/**
 * Replaces `path` with `data` all or nothing: written to `<path>.tmp`, synced, renamed over
 * `path`, and the rename synced. A crash leaves either the old file or the new one.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  mode = 0o666,
): Promise<void> {
  const tmp = `${path}.tmp`
  const fh = await open(tmp, 'w', mode)
  try {
    await writeAll(fh, typeof data === 'string' ? Buffer.from(data, 'utf8') : data, 0)
    await fh.datasync()
  } catch (err) {
    await fh.close().catch(() => undefined)
    await unlink(tmp).catch(() => undefined)
    throw err
  }
  await fh.close()
  await renameDurably(tmp, path)
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false
    throw err
  }
}

/** `<path>.broken`, or `<path>.broken.1`, `.2`, ... when earlier copies exist. */
export async function brokenName(path: string): Promise<string> {
  for (let n = 0; n < 1000; n++) {
    const candidate = n === 0 ? `${path}.broken` : `${path}.broken.${n}`
    if (!(await exists(candidate))) return candidate
  }
  throw new Error(`${path}: 1000 .broken copies already exist; clean them up`)
}

/** Copies a damaged file aside (durably) before it is repaired; returns the copy's path. */
export async function keepCopyAside(path: string): Promise<string> {
  const target = await brokenName(path)
  await copyFile(path, target, constants.COPYFILE_EXCL)
  const fh = await open(target, 'r+')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
  return target
}

/** Moves a damaged file aside (durably); returns its new path. */
export async function moveAside(path: string, dir: string): Promise<string> {
  const target = await brokenName(path)
  await rename(path, target)
  await fsyncDir(dir)
  return target
}

export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code
}
