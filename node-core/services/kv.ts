/**
 * The `kv/*` handlers: paged listings (flat, or one tree level with folder rows), counts, reads,
 * writes guarded by the mod revision the window last saw, deletes of a key or a prefix, and the
 * `kv/watch` topic. Everything goes through the connection's etcd client, so the same code
 * serves raftdesk and real etcd clusters.
 */
import { Buffer } from 'node:buffer'
import type { IKeyValue, IRangeResponse } from 'etcd3'
import type {
  KeyDetail,
  KeyVersion,
  ListArgs,
  ListPage,
  ListRow,
  WatchBatch,
  WatchEvent,
} from '../../contract'
import { bytesOf, keyAfter, prefixEnd, rangeStart } from '../client/etcd-client'
import { fromClientError, withClientErrors, type Connections } from './connections'
import type { Handlers } from './router'
import type { TopicHandlers } from './topics'

type KvHandlers = Pick<
  Handlers,
  'kv/list' | 'kv/count' | 'kv/get' | 'kv/put' | 'kv/delete' | 'kv/history'
>

/** A lease id as etcdctl prints it ('' for none). */
export function leaseHex(lease: string | number | undefined): string {
  if (lease === undefined || lease === '0' || lease === 0) return ''
  // As etcdctl prints lease ids: 16 hex digits (%016x), leading zeros kept.
  return BigInt(lease).toString(16).padStart(16, '0')
}

function detail(kv: IKeyValue, revision: number): KeyDetail {
  return {
    key: bytesOf(kv.key),
    value: bytesOf(kv.value),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
    lease: leaseHex(kv.lease),
    revision,
  }
}

/** Rows per range call while filling a page: small enough that a folder wastes little. */
const RANGE_CHUNK = 256

async function list(conns: Connections, args: ListArgs): Promise<ListPage> {
  const kv = (await conns.use(args.conn)).client.kv
  const prefix = Buffer.from(args.prefix)
  const end = prefixEnd(prefix)
  const sep = args.separator === '' ? null : Buffer.from(args.separator)
  let start: Buffer
  if (!args.after) start = prefix
  else if (sep && Buffer.from(args.after).subarray(-sep.length).equals(sep)) {
    start = prefixEnd(args.after) // after a folder: past every key in it
  } else start = keyAfter(args.after)
  let revision = args.revision ?? 0
  const rows: ListRow[] = []
  const range = async (from: Buffer, limit: number): Promise<IRangeResponse> => {
    const key = rangeStart(from)
    const res = await kv.range({ key, range_end: end, limit, revision, keys_only: true })
    if (revision === 0) revision = Number(res.header.revision)
    return res
  }
  for (;;) {
    if (rows.length >= args.limit) break
    if (Buffer.compare(start, end) >= 0 && !(end.length === 1 && end[0] === 0)) break
    const res = await range(start, Math.min(RANGE_CHUNK, args.limit - rows.length))
    if (res.kvs.length === 0) return { rows, more: false, revision }
    let jumped = false
    for (const item of res.kvs) {
      const key = item.key
      const at = sep ? key.indexOf(sep, prefix.length) : -1
      if (at >= 0) {
        const folder = key.subarray(0, at + sep!.length)
        rows.push({ kind: 'folder', prefix: bytesOf(Buffer.from(folder)) })
        start = prefixEnd(folder)
        jumped = true
        break
      }
      rows.push({
        kind: 'key',
        key: bytesOf(key),
        createRevision: Number(item.create_revision),
        modRevision: Number(item.mod_revision),
        version: Number(item.version),
        lease: leaseHex(item.lease),
      })
      start = keyAfter(key)
      if (rows.length >= args.limit) break
    }
    if (!jumped && !res.more && rows.length < args.limit) return { rows, more: false, revision }
  }
  const next = await range(start, 1)
  return { rows, more: next.kvs.length > 0, revision }
}

export function createKvHandlers(conns: Connections): KvHandlers {
  return {
    'kv/list': withClientErrors((args) => list(conns, args)),
    'kv/count': withClientErrors(async ({ conn, prefix, revision }) => {
      const res = await (
        await conns.use(conn)
      ).client.kv.range({
        key: rangeStart(prefix),
        range_end: prefixEnd(prefix),
        revision: revision ?? 0,
        count_only: true,
      })
      return Number(res.count)
    }),
    'kv/get': withClientErrors(async ({ conn, key, revision }) => {
      const res = await (
        await conns.use(conn)
      ).client.kv.range({
        key: Buffer.from(key),
        revision: revision ?? 0,
      })
      const kv = res.kvs[0]
      return kv ? detail(kv, Number(res.header.revision)) : null
    }),
    'kv/put': withClientErrors(async ({ conn, key, value, expectedModRevision, lease }) => {
      const kv = (await conns.useWritable(conn)).client.kv
      const put = {
        key: Buffer.from(key),
        value: Buffer.from(value),
        ...(lease ? { lease: BigInt(`0x${lease}`).toString() } : {}),
      }
      if (expectedModRevision === undefined) {
        const res = await kv.put(put)
        return { ok: true, revision: Number(res.header.revision) }
      }
      const res = await kv.txn({
        compare: [
          {
            key: put.key,
            target: 'Mod',
            result: 'Equal',
            mod_revision: String(expectedModRevision),
          },
        ],
        success: [{ request_put: put }],
        failure: [{ request_range: { key: put.key } }],
      })
      if (res.succeeded) return { ok: true, revision: Number(res.header.revision) }
      const current = res.responses[0]?.response_range?.kvs[0]
      return {
        ok: false,
        conflict: true,
        current: current ? detail(current, Number(res.header.revision)) : null,
      }
    }),
    'kv/history': withClientErrors(async ({ conn, key, limit }) => {
      const kv = (await conns.use(conn)).client.kv
      const versions: KeyVersion[] = []
      let compactedAt = 0
      let more = false
      // Each version was replaced at its mod revision: reading one revision earlier finds the
      // one before it, back to the key's creation (or a compaction).
      let at = 0
      for (;;) {
        let res: IRangeResponse
        try {
          res = await kv.range({ key: Buffer.from(key), revision: at })
        } catch (err) {
          const e = fromClientError(err)
          if (e instanceof Error && /compacted/.test(e.message)) {
            compactedAt = at
            break
          }
          throw e
        }
        const item = res.kvs[0]
        if (!item) break
        if (versions.length >= limit) {
          more = true
          break
        }
        versions.push({
          value: bytesOf(item.value),
          modRevision: Number(item.mod_revision),
          version: Number(item.version),
        })
        if (Number(item.version) <= 1) break
        at = Number(item.mod_revision) - 1
      }
      return { versions, more, compactedAt }
    }),
    'kv/delete': withClientErrors(async ({ conn, key, prefix, confirm }) => {
      const res = await (
        await conns.useForDelete(conn, key, confirm)
      ).client.kv.deleteRange({
        key: Buffer.from(key),
        ...(prefix ? { range_end: prefixEnd(key) } : {}),
      })
      return { deleted: Number(res.deleted), revision: Number(res.header.revision) }
    }),
  }
}

export function createKvTopics(conns: Connections): Pick<TopicHandlers, 'kv/watch'> {
  return {
    'kv/watch': async ({ conn, key, prefix, startRevision }, sink) => {
      const client = (await conns.use(conn)).client
      let builder = client.watch().withPreviousKV()
      builder = prefix ? builder.prefix(Buffer.from(key)) : builder.key(Buffer.from(key))
      if (startRevision !== undefined) builder = builder.startRevision(String(startRevision))
      const watcher = await builder.create().catch((err: unknown) => {
        throw fromClientError(err)
      })
      const batch = (event: WatchEvent): WatchBatch => ({ events: [event], skipped: 0 })
      const one = (type: WatchEvent['type'], kv: IKeyValue, prev?: IKeyValue): WatchEvent => ({
        type,
        key: bytesOf(kv.key),
        value: bytesOf(kv.value),
        ...(prev ? { prevValue: bytesOf(prev.value) } : {}),
        modRevision: Number(kv.mod_revision),
      })
      watcher.on('put', (kv, prev) => sink.emit(batch(one('put', kv, prev))))
      watcher.on('delete', (kv, prev) => sink.emit(batch(one('delete', kv, prev))))
      watcher.on('error', (err) => sink.fail(fromClientError(err)))
      return () => void watcher.cancel().catch(() => undefined)
    },
  }
}
