/**
 * The `kv/diff` topic: what changed under a prefix between revisions A and B. Two keys-only
 * scans, one at each revision, walked side by side in key order (both are sorted): a key only
 * at B was added, only at A removed, at both with another mod revision changed. Keys only, so a
 * comparison of a million keys reads no values; the window fetches the two values of a change
 * when it is opened. Streamed in pages with progress, stopped between pages when the topic is
 * closed, and bounded at DIFF_CHANGES_MAX changes.
 */
import { Buffer } from 'node:buffer'
import type { IKeyValue, KVClient } from 'etcd3'
import type { KeyChange } from '../../contract'
import { ValidationError } from '../errors'
import { bytesOf, keyAfter, prefixEnd, rangeStart } from '../client/etcd-client'
import { fromClientError, type Connections } from './connections'
import type { TopicHandlers } from './topics'

export const DIFF_CHANGES_MAX = 5_000
const PAGE_KEYS = 1_000

/** A keys-only scan of a range at one revision, read a page at a time. */
class Scan {
  private page: IKeyValue[] = []
  private at = 0
  private more = true
  private from: Buffer
  read = 0

  constructor(
    private readonly kv: KVClient,
    start: Buffer,
    private readonly end: Buffer,
    private readonly revision: number,
  ) {
    this.from = start
  }

  /** The next key, without taking it; undefined at the end. */
  async peek(): Promise<IKeyValue | undefined> {
    if (this.at < this.page.length) return this.page[this.at]
    if (!this.more) return undefined
    const res = await this.kv.range({
      key: this.from,
      range_end: this.end,
      limit: PAGE_KEYS,
      revision: this.revision,
      keys_only: true,
    })
    this.page = res.kvs
    this.at = 0
    this.more = res.more && res.kvs.length > 0
    const last = res.kvs.at(-1)
    if (last) this.from = keyAfter(last.key)
    this.read += res.kvs.length
    return this.page[0]
  }

  take(): void {
    this.at++
  }
}

export function createDiffTopic(conns: Connections): Pick<TopicHandlers, 'kv/diff'> {
  return {
    'kv/diff': async ({ conn, prefix, fromRevision, toRevision }, sink) => {
      if (toRevision !== 0 && toRevision <= fromRevision) {
        throw new ValidationError('BAD_ARGUMENT', 'the second revision must come after the first')
      }
      const kv = (await conns.use(conn)).client.kv
      const start = rangeStart(Buffer.from(prefix))
      const end = prefixEnd(Buffer.from(prefix))
      let cancelled = false
      const run = async () => {
        const now = Number(
          (await kv.range({ key: start, range_end: end, count_only: true })).header.revision,
        )
        const to = toRevision === 0 ? now : toRevision
        if (to <= fromRevision) {
          throw new ValidationError(
            'BAD_ARGUMENT',
            `nothing has happened since revision ${fromRevision} (now ${now})`,
          )
        }
        const a = new Scan(kv, start, end, fromRevision)
        const b = new Scan(kv, start, end, to)
        let found = 0
        let truncated = false
        let changes: KeyChange[] = []
        let steps = 0
        const emit = (done: boolean) => {
          sink.emit({
            scanned: a.read + b.read,
            changes,
            done,
            truncated,
            fromRevision,
            toRevision: to,
          })
          changes = []
        }
        const note = (c: KeyChange) => {
          if (found >= DIFF_CHANGES_MAX) truncated = true
          else {
            found++
            changes.push(c)
          }
        }
        for (;;) {
          if (cancelled) return
          const [x, y] = [await a.peek(), await b.peek()]
          if (!x && !y) break
          const order = !x ? 1 : !y ? -1 : Buffer.compare(x.key, y.key)
          if (order < 0) {
            note({ key: bytesOf(x!.key), kind: 'removed', before: Number(x!.mod_revision) })
            a.take()
          } else if (order > 0) {
            note({ key: bytesOf(y!.key), kind: 'added', after: Number(y!.mod_revision) })
            b.take()
          } else {
            if (x!.mod_revision !== y!.mod_revision) {
              note({
                key: bytesOf(x!.key),
                kind: 'changed',
                before: Number(x!.mod_revision),
                after: Number(y!.mod_revision),
              })
            }
            a.take()
            b.take()
          }
          if (truncated) break
          if (++steps % PAGE_KEYS === 0) emit(false)
        }
        if (!cancelled) emit(true)
      }
      run().catch((err: unknown) => sink.fail(fromClientError(err)))
      return () => {
        cancelled = true
      }
    },
  }
}
