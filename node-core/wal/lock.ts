/**
 * The WAL directory lock: a file `lock` inside the directory, created with O_EXCL, holding the
 * owner's pid in decimal. Two nodes must never append to one WAL.
 *
 * A lock whose pid is alive (or is this process: a second Wal in the same process) is refused
 * with WalLockedError. A lock whose pid is dead was left by a crash and is taken over: it is
 * renamed to a name unique to this process, checked to still hold the dead pid (so that a lock
 * another process has just taken over is never removed), then removed and created afresh.
 * A pid reused by an unrelated process makes the lock look held; the error says which pid, so
 * a person can remove the file.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { WalLockedError } from './errors'
import { isErrno } from '../kernel/fs'

export const LOCK_FILE = 'lock'

export interface DirLock {
  readonly path: string
  release(): Promise<void>
}

export async function acquireLock(dir: string): Promise<DirLock> {
  const path = join(dir, LOCK_FILE)
  for (let attempt = 0; attempt < 2; attempt++) {
    if (await tryCreate(path)) return makeLock(path)
    const pid = await readPid(path)
    if (pid === undefined) continue // removed between our create and read: try again
    if (pid === process.pid) throw new WalLockedError(dir, pid, ' (this process)')
    if (pid > 0 && isAlive(pid)) throw new WalLockedError(dir, pid, '')
    await takeOverStale(dir, path, pid)
  }
  const pid = (await readPid(path)) ?? 0
  throw new WalLockedError(dir, pid, ' (lost a race for a stale lock)')
}

async function tryCreate(path: string): Promise<boolean> {
  try {
    // Not fsync'd: after a crash a lock is stale anyway, whatever the disk kept of it.
    const fh = await open(path, 'wx')
    try {
      await fh.writeFile(`${process.pid}\n`)
    } finally {
      await fh.close()
    }
    return true
  } catch (err) {
    if (isErrno(err, 'EEXIST')) return false
    throw err
  }
}

/** The pid in a lock file; NaN-free: a garbled file reads as pid 0 (dead, taken over). */
async function readPid(path: string): Promise<number | undefined> {
  try {
    const text = await readFile(path, 'utf8')
    const pid = Number.parseInt(text.trim(), 10)
    return Number.isSafeInteger(pid) && pid > 0 ? pid : 0
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined
    throw err
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return isErrno(err, 'EPERM')
  }
}

async function takeOverStale(dir: string, path: string, stalePid: number): Promise<void> {
  const aside = join(dir, `${LOCK_FILE}.stale.${process.pid}`)
  try {
    await rename(path, aside)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return // someone else moved it; retry the create
    throw err
  }
  const pid = await readPid(aside)
  if (pid !== stalePid) {
    // Another process took the lock over between our read and our rename: give it back.
    await rename(aside, path)
    throw new WalLockedError(dir, pid ?? 0, ' (taken over by another process just now)')
  }
  await unlink(aside)
}

function makeLock(path: string): DirLock {
  let released = false
  return {
    path,
    async release() {
      if (released) return
      released = true
      const pid = await readPid(path)
      if (pid === process.pid) await unlink(path)
    },
  }
}
