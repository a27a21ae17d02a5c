/**
 * The `bulk/*` services: copy and move of prefixes (within a connection or to another one),
 * export of a prefix, import of a file's entries, rename of a key.
 *
 * Every writer goes through writeBatch(), one page at a time:
 *   1. read what the target holds for each key of the page (one transaction of ranges);
 *   2. decide per key: create (absent), update (differs, overwrite on), unchanged (same value),
 *      skip (differs, overwrite off);
 *   3. write the page in one transaction guarded per key by what step 1 read (create revision
 *      0 for a create, the mod revision for an update, and for a move the source's mod
 *      revision too), so nobody's concurrent write is lost;
 *   4. if the guard fails, write the page key by key with the same guards: the keys someone
 *      changed meanwhile are left as that writer left them and counted as conflicts.
 * A preview stops after step 2. Sources are read at one revision, taken when the work starts.
 */
import { Buffer } from 'node:buffer'
import type { IKeyValue, IRangeResponse, KVClient } from 'etcd3'
import type {
  BulkCounts,
  ChangeSample,
  CopyArgs,
  ExportChunk,
  ImportEntry,
  RenameArgs,
  RenameResult,
} from '../../contract'
import { ValidationError } from '../errors'
import { bytesOf, keyAfter, prefixEnd, rangeStart } from '../client/etcd-client'
import { fromClientError, withClientErrors, type Connections } from './connections'
import type { Handlers } from './router'
import type { TopicHandlers } from './topics'

/** Keys per transaction: etcd allows 128 operations per branch by default. */
export const BATCH_KEYS = 100
/** A move compares and deletes each source key as well, so its pages are half as long. */
export const MOVE_BATCH_KEYS = 50
/** Changes listed for a preview, over a whole run. */
export const SAMPLES_MAX = 200
/** Keys per export page (values travel too: up to 1.5 MiB each). */
const EXPORT_PAGE = 200

/** One key to write: where it goes and, for a move, where it comes from. */
export interface BatchItem {
  target: Buffer
  value: Buffer
  /** Decimal lease id to attach, if any. */
  lease?: string
  /** A move's source key and its mod revision as read. */
  source?: { key: Buffer; modRevision: string }
}

export interface BatchOptions {
  overwrite: boolean
  dryRun: boolean
}

export interface BatchResult extends BulkCounts {
  samples: ChangeSample[]
}

export function emptyCounts(): BulkCounts {
  return { scanned: 0, created: 0, updated: 0, unchanged: 0, skipped: 0, deleted: 0, conflicts: 0 }
}

export function addCounts(into: BulkCounts, from: BulkCounts): void {
  into.scanned += from.scanned
  into.created += from.created
  into.updated += from.updated
  into.unchanged += from.unchanged
  into.skipped += from.skipped
  into.deleted += from.deleted
  into.conflicts += from.conflicts
}

type Decision = 'create' | 'update' | 'unchanged' | 'skip'

/** What the target holds for each item, read in one transaction. */
async function readTargets(kv: KVClient, items: BatchItem[]): Promise<(IKeyValue | undefined)[]> {
  const res = await kv.txn({
    compare: [],
    success: items.map((i) => ({ request_range: { key: i.target } })),
    failure: [],
  })
  return res.responses.map((r) => r.response_range?.kvs[0])
}

function decide(current: IKeyValue | undefined, item: BatchItem, overwrite: boolean): Decision {
  if (!current) return 'create'
  if (current.value.equals(item.value)) return 'unchanged'
  return overwrite ? 'update' : 'skip'
}

/** The guarded writes of one item, as transaction parts. */
function itemTxn(item: BatchItem, decision: Decision, current: IKeyValue | undefined) {
  const compare = []
  const success = []
  if (decision === 'create' || decision === 'update') {
    compare.push(
      decision === 'create'
        ? {
            key: item.target,
            target: 'Create' as const,
            result: 'Equal' as const,
            create_revision: '0',
          }
        : {
            key: item.target,
            target: 'Mod' as const,
            result: 'Equal' as const,
            mod_revision: String(current!.mod_revision),
          },
    )
    success.push({
      request_put: {
        key: item.target,
        value: item.value,
        ...(item.lease ? { lease: item.lease } : {}),
      },
    })
  } else if (decision === 'unchanged' && item.source) {
    // The copy is already there; the source still goes, if the target is still that copy.
    compare.push({
      key: item.target,
      target: 'Mod' as const,
      result: 'Equal' as const,
      mod_revision: String(current!.mod_revision),
    })
  }
  if (item.source && decision !== 'skip') {
    compare.push({
      key: item.source.key,
      target: 'Mod' as const,
      result: 'Equal' as const,
      mod_revision: item.source.modRevision,
    })
    success.push({ request_delete_range: { key: item.source.key } })
  }
  return { compare, success }
}

function count(result: BatchResult, decision: Decision, item: BatchItem): void {
  if (decision === 'create') result.created++
  else if (decision === 'update') result.updated++
  else if (decision === 'unchanged') result.unchanged++
  else result.skipped++
  if (item.source && decision !== 'skip') result.deleted++
}

/**
 * Writes (or, in a dry run, plans) one batch of at most BATCH_KEYS items with distinct targets,
 * all through `kv`. Samples list the first `samplesLeft` changes.
 */
export async function writeBatch(
  kv: KVClient,
  items: BatchItem[],
  options: BatchOptions,
  samplesLeft: number,
): Promise<BatchResult> {
  const result: BatchResult = { ...emptyCounts(), scanned: items.length, samples: [] }
  if (items.length === 0) return result
  const current = await readTargets(kv, items)
  const decisions = items.map((item, i) => decide(current[i], item, options.overwrite))
  decisions.forEach((d, i) => {
    if (d === 'unchanged' || result.samples.length >= samplesLeft) return
    result.samples.push({ key: bytesOf(items[i]!.target), change: d })
  })
  const parts = items.map((item, i) => itemTxn(item, decisions[i]!, current[i]))
  const writes = parts.filter((p) => p.success.length > 0)
  if (options.dryRun || writes.length === 0) {
    items.forEach((item, i) => count(result, decisions[i]!, item))
    return result
  }
  const all = await kv.txn({
    compare: writes.flatMap((p) => p.compare),
    success: writes.flatMap((p) => p.success),
    failure: [],
  })
  if (all.succeeded) {
    items.forEach((item, i) => count(result, decisions[i]!, item))
    return result
  }
  // Someone wrote one of these keys since step 1: each key on its own, with its own guard.
  for (const [i, item] of items.entries()) {
    const part = parts[i]!
    if (part.success.length > 0) {
      const one = await kv.txn({ compare: part.compare, success: part.success, failure: [] })
      if (!one.succeeded) {
        result.conflicts++
        continue
      }
    }
    count(result, decisions[i]!, item)
  }
  return result
}

/** Import entries with duplicates resolved as a sequential write would: the last one wins. */
export function lastWins(entries: ImportEntry[]): ImportEntry[] {
  const byKey = new Map<string, ImportEntry>()
  for (const e of entries) {
    const id = Buffer.from(e.key).toString('latin1')
    byKey.delete(id)
    byKey.set(id, e)
  }
  return [...byKey.values()]
}

function startsWith(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).subarray(0, b.byteLength).equals(Buffer.from(b))
}

function checkCopy(args: CopyArgs): void {
  const same = args.from.conn === args.to.conn
  if (args.move && !same) {
    throw new ValidationError('BAD_ARGUMENT', 'a move stays within one connection: copy instead')
  }
  if (
    same &&
    (startsWith(args.to.prefix, args.from.prefix) || startsWith(args.from.prefix, args.to.prefix))
  ) {
    throw new ValidationError(
      'OVERLAP',
      'the source and target prefixes contain one another: choose a target outside the source',
    )
  }
}

/** The stored source lease id (decimal), kept within one connection, dropped across them. */
function leaseOf(kv: IKeyValue, keep: boolean): string | undefined {
  return keep && kv.lease !== undefined && String(kv.lease) !== '0' ? String(kv.lease) : undefined
}

function createCopyTopic(conns: Connections): TopicHandlers['bulk/copy'] {
  return async (args, sink) => {
    checkCopy(args)
    const source = (
      args.move && !args.dryRun
        ? await conns.useWritable(args.from.conn)
        : await conns.use(args.from.conn)
    ).client.kv
    const target = (
      args.dryRun ? await conns.use(args.to.conn) : await conns.useWritable(args.to.conn)
    ).client.kv
    const sameConn = args.from.conn === args.to.conn
    const from = Buffer.from(args.from.prefix)
    const to = Buffer.from(args.to.prefix)
    let cancelled = false
    const run = async () => {
      const end = prefixEnd(from)
      const counted = await source.range({
        key: rangeStart(from),
        range_end: end,
        count_only: true,
      })
      const revision = Number(counted.header.revision)
      const total = Number(counted.count)
      const done = emptyCounts()
      let sampled = 0
      let start = rangeStart(from)
      const limit = args.move ? MOVE_BATCH_KEYS : BATCH_KEYS
      for (;;) {
        if (cancelled) return
        const page: IRangeResponse = await source.range({
          key: start,
          range_end: end,
          limit,
          revision,
        })
        const items: BatchItem[] = page.kvs.map((kv) => {
          const lease = leaseOf(kv, sameConn)
          return {
            target: Buffer.concat([to, kv.key.subarray(from.length)]),
            value: kv.value,
            ...(lease ? { lease } : {}),
            ...(args.move ? { source: { key: kv.key, modRevision: String(kv.mod_revision) } } : {}),
          }
        })
        const batch = await writeBatch(target, items, args, SAMPLES_MAX - sampled)
        addCounts(done, batch)
        sampled += batch.samples.length
        const last = page.kvs.at(-1)
        const finished = !page.more || !last
        sink.emit({ ...done, total, samples: batch.samples, done: finished, revision })
        if (finished) return
        start = keyAfter(last.key)
      }
    }
    run().catch((err: unknown) => sink.fail(fromClientError(err)))
    return () => {
      cancelled = true
    }
  }
}

/** A key or value as the JSON export writes it: text where it is UTF-8, base64 where not. */
function jsonField(name: string, b: Buffer): string {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(b)
    return `${JSON.stringify(name)}:${JSON.stringify(text)}`
  } catch {
    return `${JSON.stringify(`${name}_base64`)}:${JSON.stringify(b.toString('base64'))}`
  }
}

/** The export document's opening; its `keys` follow one per line. */
export function exportHeader(prefix: Buffer, revision: number): string {
  return `{"raftdesk":"export","version":1,${jsonField('prefix', prefix)},"revision":${revision},"keys":[\n`
}

export const EXPORT_FOOTER = '\n]}\n'

function createExportTopic(conns: Connections): TopicHandlers['bulk/export'] {
  return async ({ conn, prefix, format }, sink) => {
    const kv = (await conns.use(conn)).client.kv
    const from = Buffer.from(prefix)
    let cancelled = false
    const run = async () => {
      const end = prefixEnd(from)
      const counted = await kv.range({ key: rangeStart(from), range_end: end, count_only: true })
      const revision = Number(counted.header.revision)
      const total = Number(counted.count)
      let scanned = 0
      let ambiguous = 0
      let start = rangeStart(from)
      let first = true
      const chunk = (parts: Buffer[], done: boolean): ExportChunk => ({
        data: bytesOf(Buffer.concat(parts)),
        scanned,
        total,
        ambiguous,
        done,
        revision,
      })
      if (format === 'json') sink.emit(chunk([Buffer.from(exportHeader(from, revision))], false))
      for (;;) {
        await sink.drained()
        if (cancelled) return
        const page = await kv.range({ key: start, range_end: end, limit: EXPORT_PAGE, revision })
        const parts: Buffer[] = []
        for (const item of page.kvs) {
          if (format === 'json') {
            const line = `{${jsonField('key', item.key)},${jsonField('value', item.value)}}`
            parts.push(Buffer.from(first ? line : `,\n${line}`))
          } else {
            if (item.key.includes(0x0a) || item.value.includes(0x0a)) ambiguous++
            parts.push(item.key, Buffer.from('\n'), item.value, Buffer.from('\n'))
          }
          first = false
        }
        scanned += page.kvs.length
        const last = page.kvs.at(-1)
        const finished = !page.more || !last
        if (finished && format === 'json') parts.push(Buffer.from(EXPORT_FOOTER))
        if (cancelled) return
        sink.emit(chunk(parts, finished))
        if (finished) return
        start = keyAfter(last.key)
      }
    }
    run().catch((err: unknown) => sink.fail(fromClientError(err)))
    return () => {
      cancelled = true
    }
  }
}

async function rename(
  conns: Connections,
  { conn, from, to, expectedModRevision }: RenameArgs,
): Promise<RenameResult> {
  if (Buffer.from(from).equals(Buffer.from(to))) {
    throw new ValidationError('BAD_ARGUMENT', 'the new name is the same as the old one')
  }
  const kv = (await conns.useWritable(conn)).client.kv
  const src = Buffer.from(from)
  const dst = Buffer.from(to)
  const read = await kv.range({ key: src })
  const item = read.kvs[0]
  if (!item || Number(item.mod_revision) !== expectedModRevision)
    return { ok: false, reason: 'changed' }
  const lease = leaseOf(item, true)
  const res = await kv.txn({
    compare: [
      { key: src, target: 'Mod', result: 'Equal', mod_revision: String(expectedModRevision) },
      { key: dst, target: 'Create', result: 'Equal', create_revision: '0' },
    ],
    success: [
      { request_put: { key: dst, value: item.value, ...(lease ? { lease } : {}) } },
      { request_delete_range: { key: src } },
    ],
    failure: [{ request_range: { key: dst, count_only: true } }],
  })
  if (res.succeeded) return { ok: true, revision: Number(res.header.revision) }
  const exists = Number(res.responses[0]?.response_range?.count ?? 0) > 0
  return { ok: false, reason: exists ? 'exists' : 'changed' }
}

export function createBulkHandlers(
  conns: Connections,
): Pick<Handlers, 'bulk/import' | 'bulk/rename'> {
  return {
    'bulk/import': withClientErrors(async ({ conn, entries, overwrite, dryRun }) => {
      const kv = (dryRun ? await conns.use(conn) : await conns.useWritable(conn)).client.kv
      const unique = lastWins(entries)
      const result: BatchResult = { ...emptyCounts(), samples: [] }
      for (let i = 0; i < unique.length; i += BATCH_KEYS) {
        const items = unique
          .slice(i, i + BATCH_KEYS)
          .map((e) => ({ target: Buffer.from(e.key), value: Buffer.from(e.value) }))
        const batch = await writeBatch(
          kv,
          items,
          { overwrite, dryRun },
          SAMPLES_MAX - result.samples.length,
        )
        addCounts(result, batch)
        result.samples.push(...batch.samples)
      }
      // Duplicates in the file were read and superseded: they count as handled.
      result.scanned = entries.length
      return result
    }),
    'bulk/rename': withClientErrors((args) => rename(conns, args)),
  }
}

export function createBulkTopics(
  conns: Connections,
): Pick<TopicHandlers, 'bulk/copy' | 'bulk/export'> {
  return { 'bulk/copy': createCopyTopic(conns), 'bulk/export': createExportTopic(conns) }
}
