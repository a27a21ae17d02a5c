/**
 * The `kv/search` topic: a scan of every key under a prefix, at one revision, in pages, matching
 * the keys or the values against a substring (case-insensitive) or a regular expression. Each
 * page sends its progress (scanned of total) and its matches as it goes, so the window shows
 * results while the scan runs; closing the topic stops the scan between pages. Matches stop
 * being collected past SEARCH_MATCHES_MAX (the result says it was truncated).
 */
import type { SearchArgs, SearchMatch } from '../../contract'
import { keyAfter, prefixEnd, rangeStart } from '../client/etcd-client'
import { fromClientError, type Connections } from './connections'
import { RegexMatcher } from './regex-worker'
import type { TopicHandlers } from './topics'

export const SEARCH_MATCHES_MAX = 1_000
/** Keys read per page: key searches read keys only; value searches read values too. */
const KEY_PAGE = 1_000
const VALUE_PAGE = 200
/** Characters of context either side of a match in a value's excerpt. */
const EXCERPT_CONTEXT = 40

/** Where `query` matches `text`: [start, end), or null. */
export function matcher(
  args: Pick<SearchArgs, 'query' | 'mode'>,
): (text: string) => [number, number] | null {
  if (args.mode === 'regex') {
    const re = new RegExp(args.query, 'u')
    return (text) => {
      const m = re.exec(text)
      return m ? [m.index, m.index + m[0].length] : null
    }
  }
  const needle = args.query.toLowerCase()
  return (text) => {
    const at = text.toLowerCase().indexOf(needle)
    return at < 0 ? null : [at, at + needle.length]
  }
}

export function excerpt(text: string, [start, end]: [number, number]): string {
  const from = Math.max(0, start - EXCERPT_CONTEXT)
  const to = Math.min(text.length, end + EXCERPT_CONTEXT)
  const body = text.slice(from, to).replace(/\s+/g, ' ')
  return `${from > 0 ? '…' : ''}${body}${to < text.length ? '…' : ''}`
}

export function createSearchTopic(conns: Connections): Pick<TopicHandlers, 'kv/search'> {
  return {
    'kv/search': async (args, sink) => {
      const kv = (await conns.use(args.conn)).client.kv
      // A regular expression runs in a worker with a time limit; a substring needs none.
      const regex = args.mode === 'regex' ? new RegexMatcher(args.query) : null
      const match = regex ? null : matcher(args)
      const values = args.target === 'values'
      let cancelled = false
      const scan = async () => {
        const first = rangeStart(args.prefix)
        const end = prefixEnd(args.prefix)
        const counted = await kv.range({ key: first, range_end: end, count_only: true })
        const revision = Number(counted.header.revision)
        const total = Number(counted.count)
        let start = first
        let scanned = 0
        let found = 0
        let truncated = false
        for (;;) {
          if (cancelled) return
          const page = await kv.range({
            key: start,
            range_end: end,
            limit: values ? VALUE_PAGE : KEY_PAGE,
            revision,
            keys_only: !values,
          })
          const matches: SearchMatch[] = []
          const texts = page.kvs.map((item) => (values ? item.value : item.key).toString('utf8'))
          const atOf = regex ? await regex.match(texts) : texts.map(match!)
          for (const [i, item] of page.kvs.entries()) {
            const text = texts[i]!
            const at = atOf[i]
            if (!at) continue
            if (found >= SEARCH_MATCHES_MAX) {
              truncated = true
              break
            }
            found++
            matches.push({
              key: new Uint8Array(item.key),
              modRevision: Number(item.mod_revision),
              ...(values ? { excerpt: excerpt(text, at) } : {}),
            })
          }
          scanned += page.kvs.length
          const last = page.kvs.at(-1)
          const done = truncated || !page.more || !last
          if (cancelled) return
          sink.emit({ scanned, total, matches, done, truncated, revision })
          if (done) return
          start = keyAfter(last.key)
        }
      }
      scan()
        .catch((err: unknown) => sink.fail(fromClientError(err)))
        .finally(() => regex?.close())
      return () => {
        cancelled = true
      }
    },
  }
}
