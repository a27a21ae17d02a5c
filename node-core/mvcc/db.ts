/**
 * The store's classic-level database: its types, how it is opened (a held lock explained), and
 * the directories a restore from an image stages and swaps (store.ts, restoreFromImage):
 * `<dir>.restore` is the new database being written, `<dir>.old` the live one moved aside.
 */
import { existsSync } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { ClassicLevel } from 'classic-level'
import { StoreLockedError } from './errors'

export type Db = ClassicLevel<Uint8Array, Uint8Array>
export type DbOp =
  { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array }
export type DbSnapshot = ReturnType<Db['snapshot']>

/** See the module comment: a crash during restoreFromImage leaves these directories behind. */
export async function finishInterruptedRestore(dir: string): Promise<void> {
  const staged = `${dir}.restore`
  if (existsSync(staged)) {
    // The staged database is complete only once the live one has been moved aside.
    if (existsSync(dir)) await rm(staged, { recursive: true, force: true })
    else await rename(staged, dir)
  }
  await rm(`${dir}.old`, { recursive: true, force: true })
}

/** Opens classic-level, turning "LOCK already held" into an error a person can act on. */
export async function openOrExplain(db: Db, dir: string): Promise<void> {
  try {
    await db.open()
  } catch (err) {
    const cause = (err as { cause?: { code?: unknown } }).cause
    if (cause?.code === 'LEVEL_LOCKED') throw new StoreLockedError(dir)
    throw err
  }
}

export function openDb(dir: string): Db {
  return new ClassicLevel<Uint8Array, Uint8Array>(dir, {
    keyEncoding: 'view',
    valueEncoding: 'view',
  })
}
