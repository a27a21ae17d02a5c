/**
 * Restoring the store from a snapshot image, the part that needs no live store: the image is
 * written into a fresh database beside the live one, which store.ts then swaps in.
 */
import { rm } from 'node:fs/promises'
import { SPACE_ALARM } from './alarms'
import { SPACE_AUTH } from './auth'
import { openDb, openOrExplain, type DbOp } from './db'
import { CorruptionError } from './errors'
import { decodeImage, type ImageHeader } from './image'
import {
  checkRecordKey,
  decodeRecord,
  encodeFormat,
  encodeState,
  META_FORMAT_KEY,
  META_STATE_KEY,
  SPACE_RECORD,
} from './layout'

/**
 * Writes a snapshot image into a fresh database at `staged` (checked entry by entry: records
 * under their own revision, lease entries of their size, nothing above the image's revision),
 * with the store state at `consistentIndex`. On any failure the staged directory is removed.
 */
export async function stageImage(
  staged: string,
  stream: AsyncIterable<Uint8Array>,
  consistentIndex: number,
): Promise<void> {
  await rm(staged, { recursive: true, force: true })
  const db = openDb(staged)
  await openOrExplain(db, staged)
  let header: ImageHeader | undefined
  try {
    let ops: DbOp[] = []
    let bytes = 0
    let maxMain = 0
    await decodeImage(
      stream,
      (h) => {
        header = h
      },
      async ({ key, value }) => {
        if (key[0] === SPACE_RECORD) {
          const rec = decodeRecord(value)
          checkRecordKey(key, rec)
          maxMain = Math.max(maxMain, rec.main)
        } else if (key[0] === SPACE_AUTH || key[0] === SPACE_ALARM) {
          // Checked as a whole when the store loads them (AuthState.load).
        } else if (key.length !== 9 || value.length !== 8) {
          throw new CorruptionError(`image: lease entry of ${key.length}/${value.length} bytes`)
        }
        ops.push({ type: 'put', key, value })
        bytes += key.length + value.length
        if (ops.length >= 10_000 || bytes >= 8 * 1024 * 1024) {
          await db.batch(ops)
          ops = []
          bytes = 0
        }
      },
    )
    const h = header!
    if (maxMain > h.revision) {
      throw new CorruptionError(`image: record at ${maxMain} above its revision ${h.revision}`)
    }
    const state = {
      consistentIndex,
      revision: h.revision,
      compactedRevision: h.compactedRevision,
    }
    ops.push({ type: 'put', key: META_FORMAT_KEY, value: encodeFormat() })
    ops.push({ type: 'put', key: META_STATE_KEY, value: encodeState(state) })
    await db.batch(ops, { sync: true })
    await db.close()
  } catch (err) {
    await db.close().catch(() => undefined)
    await rm(staged, { recursive: true, force: true })
    throw err
  }
}
