/**
 * The `snapshots/*` handlers: a node's snapshot files (their headers read for the list, the
 * whole file through its checksum on verify), and saving a cluster's backend to a file over
 * etcd's Maintenance.Snapshot (what `etcdctl snapshot save` writes), with progress. The file is
 * written beside its destination and renamed only once whole and fsync'd, so a cancelled or
 * failed save leaves nothing behind.
 */
import { open, rename, stat, unlink } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import type { SnapshotFileView, SnapshotList } from '../../contract'
import { NotFoundError, RaftdeskError, ValidationError } from '../errors'
import { listSnapshots, openSnapshot, verifySnapshotFile } from '../snap'
import type { SnapshotMetadata } from '../raft/types'
import { fromClientError, type Connections } from './connections'
import type { Handlers } from './router'
import { snapshotKeys } from './snapshot-keys'
import type { TopicHandlers } from './topics'

/** Chunks waiting for the disk beyond which the download pauses (etcd sends 32 KiB blobs). */
const SAVE_WRITES_QUEUED_MAX = 64

/** How long a save may run: a large backend streams for minutes. */
const SAVE_DEADLINE_MS = 30 * 60_000

async function snapDirOf(given: string): Promise<string> {
  if (!given.trim()) throw new ValidationError('NO_DIRECTORY', 'name a directory to open')
  const base = resolve(given)
  for (const dir of [join(base, 'snap'), base]) {
    if ((await stat(dir).catch(() => null))?.isDirectory()) {
      if (dir === base || (await listSnapshots(dir)).length > 0) return dir
    }
  }
  return base
}

function view(
  name: string,
  metadata: SnapshotMetadata,
  fileBytes: number,
  imageBytes: number,
  atMs: number,
): SnapshotFileView {
  const hex = (id: number) => id.toString(16)
  return {
    name,
    term: metadata.term,
    index: metadata.index,
    fileBytes,
    imageBytes,
    voters: metadata.confState.voters.map(hex),
    learners: metadata.confState.learners.map(hex),
    atMs,
  }
}

/** What the snapshot handlers need to start a cluster from a file (cluster/restored.ts). */
export interface RestorePort {
  start(
    file: string,
    name?: string,
  ): Promise<{ name: string; dataDir: string; endpoints: string[]; keys: number; revision: number }>
}

export function createSnapshotHandlers(
  conns?: Connections,
  restore?: RestorePort,
): Pick<Handlers, 'snapshots/list' | 'snapshots/verify' | 'snapshots/keys' | 'snapshots/restore'> {
  return {
    'snapshots/restore': async ({ path, name }) => {
      if (!restore || !conns) {
        throw new NotFoundError('NO_RESTORE', 'this host does not start clusters from files')
      }
      const r = await restore.start(path, name)
      const connection = `restored-${r.name}`
      conns.add({ id: connection, name: `restored ${r.name}`, endpoints: r.endpoints })
      return { ...r, connection }
    },
    'snapshots/keys': async ({ dir, ...args }) => snapshotKeys(await snapDirOf(dir), args),
    'snapshots/list': async ({ dir }): Promise<SnapshotList> => {
      const snapDir = await snapDirOf(dir)
      const names = await listSnapshots(snapDir)
      const snapshots = await Promise.all(
        names.map(async (n) => {
          const s = await openSnapshot(snapDir, { term: n.term, index: n.index })
          const mtime = (await stat(s.path)).mtimeMs
          return view(s.name, s.metadata, s.fileBytes, s.imageBytes, Math.round(mtime))
        }),
      )
      return { dir: snapDir, snapshots }
    },
    'snapshots/verify': async ({ dir, name }) => {
      const snapDir = await snapDirOf(dir)
      const info = await verifySnapshotFile(join(snapDir, name))
      const mtime = (await stat(info.path)).mtimeMs
      return view(info.name, info.metadata, info.fileBytes, info.imageBytes, Math.round(mtime))
    },
  }
}

interface SnapshotStream {
  on(event: 'data', fn: (item: { remaining_bytes: string; blob: Buffer }) => void): unknown
  on(event: 'end', fn: () => void): unknown
  on(event: 'error', fn: (err: Error) => void): unknown
  pause?(): void
  resume?(): void
  cancel?(): void
}

export function createSnapshotTopics(conns: Connections): Pick<TopicHandlers, 'snapshots/save'> {
  return {
    'snapshots/save': async ({ conn, path, overwrite }, sink) => {
      const target = resolve(path)
      if (!overwrite && (await stat(target).catch(() => null))) {
        throw new RaftdeskError('FILE_EXISTS', `${target} exists; choose another name`)
      }
      if (!(await stat(dirname(target)).catch(() => null))?.isDirectory()) {
        throw new ValidationError('NO_DIRECTORY', `${dirname(target)} is not a directory`)
      }
      const { client } = await conns.use(conn)
      const part = `${target}.part`
      const fh = await open(part, 'w')
      let stream: SnapshotStream
      try {
        stream = (await client.maintenance.snapshot({
          deadline: Date.now() + SAVE_DEADLINE_MS,
        })) as unknown as SnapshotStream
      } catch (err) {
        await fh.close()
        await unlink(part).catch(() => undefined)
        throw fromClientError(err)
      }
      let bytes = 0
      let totalBytes = 0
      let stopped = false
      let writing = Promise.resolve()
      let pending = 0
      let paused = false
      let lastEmitMs = 0
      const fail = async (err: unknown) => {
        if (stopped) return
        stopped = true
        stream.cancel?.()
        await writing.catch(() => undefined)
        await fh.close().catch(() => undefined)
        await unlink(part).catch(() => undefined)
        sink.fail(fromClientError(err))
      }
      stream.on('data', (item) => {
        if (stopped) return
        const chunk = item.blob
        bytes += chunk.byteLength
        if (totalBytes === 0) totalBytes = bytes + Number(item.remaining_bytes)
        // Writes are chained so that the file keeps the stream's order. The first failure (a
        // full disk) stops the download at once; while the disk is behind, the stream waits.
        pending++
        if (pending >= SAVE_WRITES_QUEUED_MAX && !paused) {
          paused = true
          stream.pause?.()
        }
        writing = writing
          .then(() => fh.write(chunk))
          .then(() => {
            pending--
            if (paused && pending <= SAVE_WRITES_QUEUED_MAX / 2) {
              paused = false
              stream.resume?.()
            }
          })
        writing.catch((err: unknown) => void fail(err))
        const now = Date.now()
        if (now - lastEmitMs >= 100) {
          lastEmitMs = now
          sink.emit({ path: target, bytes, totalBytes, done: false })
        }
      })
      stream.on('error', (err) => void fail(err))
      stream.on('end', () => {
        if (stopped) return
        void (async () => {
          await writing
          await fh.sync()
          await fh.close()
          await rename(part, target)
          stopped = true
          sink.emit({ path: target, bytes, totalBytes: Math.max(totalBytes, bytes), done: true })
        })().catch((err: unknown) => fail(err))
      })
      return () => {
        if (stopped) return
        stopped = true
        stream.cancel?.()
        void writing
          .catch(() => undefined)
          .then(() => fh.close())
          .catch(() => undefined)
          .then(() => unlink(part))
          .catch(() => undefined)
      }
    },
  }
}
