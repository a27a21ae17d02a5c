/**
 * Starting a new cluster from a file saved with `etcdctl snapshot save` (`raftdesk serve
 * --restore FILE`), as `etcdctl snapshot restore` does for etcd: every member's store begins with
 * the snapshot's keys, leases and revisions, while the cluster itself is new (new members, new
 * cluster id, a fresh raft log whose first entries add the members). The membership recorded in
 * the file is not used.
 *
 * Each member's store is written with consistent index 0, so the bootstrap's conf-change entries
 * (indexes 1..n) apply on top of it. Nothing is written before the file has been checked whole
 * (size, SHA-256, magic); if the image inside still turns out bad, what was written is removed.
 */
import { existsSync, readdirSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { ValidationError } from '../errors'
import { openStore } from '../mvcc/store'
import { splitImage } from './image'
import { nodeDataDirs } from './node-open'
import { openSavedSnapshot } from './saved-snapshot'

export interface RestoreResult {
  /** The store revision the snapshot was taken at. */
  revision: number
  /** Keys (live, at that revision) in the restored store. */
  keys: number
}

/**
 * Restores the saved snapshot at `file` into the stores of new members `names` under `dataDir`
 * (member `name` keeps its data in dataDir/name, as the local supervisor lays it out). The
 * directory must be new (absent or empty); on any failure it is left as it was found.
 */
export async function restoreCluster(
  file: string,
  dataDir: string,
  names: readonly string[],
): Promise<RestoreResult> {
  const existed = existsSync(dataDir)
  if (existed && readdirSync(dataDir).length > 0) {
    throw new ValidationError(
      'RESTORE_TARGET_NOT_EMPTY',
      `--restore starts a new cluster, but ${dataDir} already holds data: give a new --data-dir`,
    )
  }
  // Checks the whole file before anything is written; every member then reads the image again.
  const image = await openSavedSnapshot(file)
  try {
    let result: RestoreResult | null = null
    for (const name of names) {
      const dir = join(dataDir, name)
      await mkdir(dir, { recursive: true })
      const { rest } = await splitImage(image)
      const store = await openStore(nodeDataDirs(dir).dbDir)
      try {
        await store.restoreFromImage(rest, 0)
        const all = store.range({
          key: new Uint8Array([0]),
          rangeEnd: new Uint8Array([0]),
          countOnly: true,
        })
        result = { revision: store.revision, keys: all.count }
      } finally {
        await store.close()
      }
    }
    if (!result) throw new ValidationError('RESTORE_NO_MEMBERS', 'no member to restore into')
    return result
  } catch (err) {
    if (existed) {
      for (const entry of readdirSync(dataDir)) {
        await rm(join(dataDir, entry), { recursive: true, force: true })
      }
    } else {
      await rm(dataDir, { recursive: true, force: true })
    }
    throw err
  }
}
