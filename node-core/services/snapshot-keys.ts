/**
 * The keys a snapshot file holds at its revision, for browsing: the image is read once (its
 * record history replayed: the newest record of each key wins, a tombstone removes it), kept
 * for the last KEPT files asked about, and paged in key order under a prefix.
 */
import { stat } from 'node:fs/promises'
import type { SnapshotKey, SnapshotKeysPage } from '../../contract'
import { decodeImage } from '../mvcc/image'
import { compareBytes } from '../mvcc/keys'
import { decodeRecord, SPACE_RECORD } from '../mvcc/layout'
import { splitImage } from '../server/image'
import { openSnapshot, parseSnapshotName } from '../snap'
import { ValidationError } from '../errors'

/** Bytes of each value a page carries: enough to recognise it, little for a page of 500. */
const VALUE_PREVIEW = 4096
/** Files whose keys stay read (a person pages through one, maybe compares two). */
const KEPT = 2

interface KeyIndex {
  revision: number
  compactedRevision: number
  consistentIndex: number
  /** Sorted by key; each is the key's newest record (bytes as stored). */
  keys: Array<{ key: Uint8Array; record: Uint8Array }>
}

const cache = new Map<string, Promise<KeyIndex>>()

async function readIndex(dir: string, name: string): Promise<KeyIndex> {
  const ref = parseSnapshotName(name)
  if (!ref) throw new ValidationError('BAD_SNAPSHOT_NAME', `${name} is not a snapshot file name`)
  const snap = await openSnapshot(dir, ref)
  const { rest } = await splitImage(snap.openImage())
  const latest = new Map<string, { key: Uint8Array; record: Uint8Array }>()
  let header = { revision: 0, compactedRevision: 0, consistentIndex: 0 }
  await decodeImage(
    rest,
    (h) => {
      header = h
    },
    (e) => {
      if (e.key[0] !== SPACE_RECORD) return
      // Records come in revision order: a later one replaces what the key held.
      const r = decodeRecord(e.value)
      const key = e.value.subarray(r.keyStart, r.keyEnd)
      const id = Buffer.from(key).toString('latin1')
      if (r.tombstone) latest.delete(id)
      else latest.set(id, { key, record: e.value })
    },
  )
  const keys = [...latest.values()].sort((a, b) => compareBytes(a.key, b.key))
  return { ...header, keys }
}

function indexOf(dir: string, name: string, mtimeMs: number): Promise<KeyIndex> {
  const id = `${dir}\u0000${name}\u0000${mtimeMs}`
  let p = cache.get(id)
  if (!p) {
    p = readIndex(dir, name)
    cache.set(id, p)
    p.catch(() => cache.delete(id))
    while (cache.size > KEPT) cache.delete(cache.keys().next().value!)
  }
  return p
}

const startsWith = (key: Uint8Array, prefix: Uint8Array) =>
  key.length >= prefix.length && prefix.every((b, i) => key[i] === b)

/** First position whose key is >= `from` (binary search over the sorted keys). */
function lowerBound(keys: KeyIndex['keys'], from: Uint8Array): number {
  let lo = 0
  let hi = keys.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (compareBytes(keys[mid]!.key, from) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}

function view(k: { key: Uint8Array; record: Uint8Array }): SnapshotKey {
  const r = decodeRecord(k.record)
  const value = k.record.subarray(r.keyEnd)
  return {
    key: k.key.slice(),
    value: value.slice(0, VALUE_PREVIEW),
    valueBytes: value.length,
    createRevision: r.createRevision,
    modRevision: r.main,
    version: r.version,
    lease: r.lease === 0n ? '' : r.lease.toString(16),
  }
}

export async function snapshotKeys(
  snapDir: string,
  args: { name: string; prefix: Uint8Array; after?: Uint8Array; limit: number },
): Promise<SnapshotKeysPage> {
  const { mtimeMs } = await stat(`${snapDir}/${args.name}`)
  const index = await indexOf(snapDir, args.name, mtimeMs)
  const { keys } = index
  const first = lowerBound(keys, args.prefix)
  let end = first
  while (end < keys.length && startsWith(keys[end]!.key, args.prefix)) end++
  let from = first
  if (args.after) {
    from = lowerBound(keys, args.after)
    if (from < keys.length && compareBytes(keys[from]!.key, args.after) === 0) from++
    from = Math.max(first, from)
  }
  const page = keys.slice(from, Math.min(end, from + args.limit))
  return {
    revision: index.revision,
    compactedRevision: index.compactedRevision,
    consistentIndex: index.consistentIndex,
    total: end - first,
    keys: page.map(view),
    more: from + page.length < end,
  }
}
