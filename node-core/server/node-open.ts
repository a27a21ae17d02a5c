/**
 * A node's start-up, before it runs: its data directory read back (the newest good snapshot,
 * the store brought up to it, the WAL replayed into raft's storage), or a new member's first
 * state (bootstrapping a new cluster, or joining one that already added it). RaftdeskNode.open
 * builds the node from what this returns.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { RaftdeskError } from '../errors'
import type { Member } from '../kernel/member'
import { openStore, type MvccStore } from '../mvcc/store'
import { encodeConfChange } from '../raft/confchange'
import { MemoryStorage } from '../raft/storage'
import type { ConfState, Entry } from '../raft/types'
import { loadNewest, type LoadedSnapshot } from '../snap/snap'
import { createWal, openWal, readSnapshotMarkers, walExists, type Wal } from '../wal/wal'
import { clusterIdFor, memberIdFor } from './ids'
import { splitImage } from './image'
import { encodeChangeContext, Membership } from './members'
import type { RaftdeskNodeOptions } from './node'

/** What the node is built from. */
export interface NodeInit {
  options: RaftdeskNodeOptions
  id: number
  clusterId: number
  store: MvccStore
  membership: Membership
  storage: MemoryStorage
  wal: Wal
  applied: number
  snapshotIndex: number
  confState: ConfState
}

/** What the WAL's metadata record holds: which member and cluster this log belongs to. */
interface WalMetadata {
  memberId: number
  clusterId: number
  name: string
}

/** Where a node keeps its WAL, snapshots and store inside its data directory. */
export function nodeDataDirs(dataDir: string): { walDir: string; snapDir: string; dbDir: string } {
  return {
    walDir: join(dataDir, 'wal'),
    snapDir: join(dataDir, 'snap'),
    dbDir: join(dataDir, 'db'),
  }
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Reads the data directory back, or starts a new member; see the module comment. */
export async function loadNode(options: RaftdeskNodeOptions): Promise<NodeInit> {
  const { walDir, snapDir, dbDir } = nodeDataDirs(options.dataDir)
  await mkdir(options.dataDir, { recursive: true })
  await mkdir(snapDir, { recursive: true })
  const hasWal = await walExists(walDir)
  const snap = hasWal ? await newestSnapshot(options, walDir, snapDir) : undefined
  // A watcher whose client reads slowly falls back to reading history (it keeps its place)
  // rather than being cancelled: the gRPC layer pauses and resumes watchers for flow control.
  const store = await openStore(dbDir, {
    ...options.store,
    watch: { slowWatchers: 'resync', ...options.store?.watch },
  })
  const fromSnapshot = snap ? await restoreFrom(options, snap, store) : new Membership()
  const storage = new MemoryStorage()
  let log: { id: number; clusterId: number; wal: Wal; membership: Membership }
  if (hasWal) {
    log = { ...(await replayWal(options, walDir, snap, storage)), membership: fromSnapshot }
  } else if (options.join) {
    log = await joinWal(options, walDir, options.join)
  } else if (options.bootstrap) {
    log = { ...(await bootstrapWal(options, walDir, storage)), membership: fromSnapshot }
  } else {
    await store.close()
    throw new RaftdeskError(
      'BAD_CONFIG',
      `no data in ${options.dataDir} and neither a cluster to bootstrap nor one to join`,
    )
  }
  const snapshotIndex = snap?.metadata.index ?? 0
  return {
    options,
    ...log,
    store,
    storage,
    applied: snapshotIndex,
    snapshotIndex,
    confState: snap?.metadata.confState ?? { voters: [], learners: [] },
  }
}

/** The newest snapshot the WAL knows of that reads back whole (broken ones moved aside). */
async function newestSnapshot(
  options: RaftdeskNodeOptions,
  walDir: string,
  snapDir: string,
): Promise<LoadedSnapshot | undefined> {
  const markers = await readSnapshotMarkers(walDir)
  return loadNewest(snapDir, {
    markers,
    onBroken: (name, path, err) =>
      options.logger.warn(`snapshot ${name} is corrupt, moved aside to ${path}: ${err.message}`),
  })
}

/** The membership a snapshot holds; the store is restored from it when it is behind. */
async function restoreFrom(
  options: RaftdeskNodeOptions,
  snap: LoadedSnapshot,
  store: MvccStore,
): Promise<Membership> {
  const { header, rest } = await splitImage(snap.openImage())
  if (store.consistentIndex < snap.metadata.index) {
    options.logger.info(
      `restoring the store from snapshot ${snap.name} (store at ${store.consistentIndex})`,
    )
    await store.restoreFromImage(rest, snap.metadata.index)
  } else {
    // Drain nothing more: the store is already at or past the snapshot.
    await drainQuietly(rest)
  }
  return new Membership(header.members, header.removed)
}

/** An existing member: its WAL (repaired if its tail was torn) replayed into raft's storage. */
async function replayWal(
  options: RaftdeskNodeOptions,
  walDir: string,
  snap: LoadedSnapshot | undefined,
  storage: MemoryStorage,
): Promise<{ id: number; clusterId: number; wal: Wal }> {
  const opened = await openWal(walDir, {
    ...options.wal,
    ...(snap ? { snapshot: { index: snap.metadata.index, term: snap.metadata.term } } : {}),
  })
  if (opened.repair) {
    options.logger.warn(
      `WAL repaired: ${opened.repair.file} cut at byte ${opened.repair.offset} (${opened.repair.reason}); damaged copy kept at ${opened.repair.brokenCopy}`,
    )
  }
  const meta = JSON.parse(decoder.decode(opened.metadata)) as WalMetadata
  if (snap) storage.applySnapshot({ metadata: snap.metadata, data: new Uint8Array(0) })
  storage.setHardState(opened.hardState)
  if (opened.entries.length > 0) storage.append(opened.entries)
  return { id: meta.memberId, clusterId: meta.clusterId, wal: opened.wal }
}

/** A member a running cluster added: an empty log; the leader sends it the rest. */
async function joinWal(
  options: RaftdeskNodeOptions,
  walDir: string,
  join: { memberId: number; clusterId: number; members: Member[] },
): Promise<{ id: number; clusterId: number; wal: Wal; membership: Membership }> {
  const meta = { memberId: join.memberId, clusterId: join.clusterId, name: options.name }
  const wal = await createWal(walDir, walMetadata(meta), options.wal)
  return {
    id: join.memberId,
    clusterId: join.clusterId,
    wal,
    membership: new Membership(join.members),
  }
}

/**
 * A member of a new cluster: ids derived from the members' names, peer URLs and the token (the
 * same on every member), and a log that starts with the conf changes adding them all.
 */
async function bootstrapWal(
  options: RaftdeskNodeOptions,
  walDir: string,
  storage: MemoryStorage,
): Promise<{ id: number; clusterId: number; wal: Wal }> {
  const token = options.token
  const members = options.bootstrap!.members.map((m) => ({
    ...m,
    id: memberIdFor(m.name, m.peerUrl, token),
  }))
  const self = members.find((m) => m.name === options.name)
  if (!self) {
    throw new RaftdeskError(
      'BAD_CONFIG',
      `member ${options.name} is not in the initial cluster (${members.map((m) => m.name).join(', ')})`,
    )
  }
  const clusterId = clusterIdFor(
    members.map((m) => m.id),
    token,
  )
  const meta = { memberId: self.id, clusterId, name: options.name }
  const wal = await createWal(walDir, walMetadata(meta), options.wal)
  const entries: Entry[] = members.map((m, i) => ({
    term: 1,
    index: i + 1,
    type: 'confChange',
    data: encodeConfChange({
      type: 'addVoter',
      nodeId: m.id,
      context: encodeChangeContext({
        name: m.name,
        peerUrls: [m.peerUrl],
        clientUrls: [m.clientUrl],
      }),
    }),
  }))
  const hardState = { term: 1, vote: 0, commit: entries.length }
  await wal.save(hardState, entries)
  storage.setHardState(hardState)
  storage.append(entries)
  return { id: self.id, clusterId, wal }
}

function walMetadata(meta: WalMetadata): Uint8Array {
  return encoder.encode(JSON.stringify(meta))
}

async function drainQuietly(stream: AsyncIterable<Uint8Array>): Promise<void> {
  // Closing the iterator releases the file; reading the rest would only verify a CRC again.
  const it = stream[Symbol.asyncIterator]()
  await it.return?.()
}
