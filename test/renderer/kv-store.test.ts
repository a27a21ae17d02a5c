// The key tree's store over a fake contract: one level at a time with folder rows, pages
// continued where they stopped, and watch events folded into loaded folders without a reload.
import { createPinia, setActivePinia } from 'pinia'
import { createApp } from 'vue'
import { beforeEach, describe, expect, it } from 'vitest'
import type { ListArgs, ListPage, ListRow, RaftdeskBridge } from '../../contract'
import { createApiClient } from '../../renderer/src/api/client'
import { provideApi } from '../../renderer/src/api/inject'
import { bytesId, displayBytes, idBytes, utf8 } from '../../renderer/src/lib/bytes'
import { useKvStore, type VisibleRow } from '../../renderer/src/stores/kv'

/** A keyspace in memory behind kv/list, with the server's folder rule. */
function fakeServer(keys: string[]) {
  const calls: ListArgs[] = []
  const list = (a: ListArgs): ListPage => {
    calls.push(a)
    const prefix = bytesId(a.prefix)
    const after = a.after ? bytesId(a.after) : null
    const rows: ListRow[] = []
    const seen = new Set<string>()
    for (const k of [...keys].sort()) {
      if (!k.startsWith(prefix)) continue
      const at = a.separator ? k.indexOf(a.separator, prefix.length) : -1
      const id = at >= 0 ? k.slice(0, at + a.separator.length) : k
      if (seen.has(id) || (after !== null && id <= after)) continue
      if (after !== null && after.endsWith(a.separator) && id.startsWith(after)) continue
      seen.add(id)
      rows.push(
        at >= 0
          ? { kind: 'folder', prefix: idBytes(id) }
          : {
              kind: 'key',
              key: idBytes(id),
              createRevision: 1,
              modRevision: 1,
              version: 1,
              lease: '',
            },
      )
    }
    return { rows: rows.slice(0, a.limit), more: rows.length > a.limit, revision: 7 }
  }
  const bridge: RaftdeskBridge = {
    invoke: (async (channel: string, ...args: unknown[]) => {
      if (channel === 'kv/list') return { ok: true, value: list(args[0] as ListArgs) }
      if (channel === 'kv/count') return { ok: true, value: 0 }
      if (channel === 'kv/get') {
        const key = (args[0] as { key: Uint8Array }).key
        const value = {
          key,
          value: new Uint8Array(),
          createRevision: 1,
          modRevision: 5,
          version: 1,
          lease: '',
          revision: 5,
        }
        return { ok: true, value }
      }
      return { ok: false, error: { name: 'Error', code: 'UNEXPECTED', message: channel } }
    }) as RaftdeskBridge['invoke'],
    subscribe: () => () => {},
  }
  return { bridge, calls }
}

const names = (rows: VisibleRow[]) =>
  rows.map((r) =>
    r.kind === 'key' || r.kind === 'folder'
      ? `${'  '.repeat(r.depth)}${displayBytes(idBytes(r.id))}`
      : `${'  '.repeat(r.depth)}[${r.kind}]`,
  )

function storeOver(keys: string[]) {
  const server = fakeServer(keys)
  const app = createApp({})
  provideApi(app, createApiClient(server.bridge))
  const pinia = createPinia()
  app.use(pinia)
  setActivePinia(pinia)
  let kv!: ReturnType<typeof useKvStore>
  app.runWithContext(() => (kv = useKvStore()))
  return { kv, server }
}

describe('kv store', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it("shows one level, and a folder's rows under it once opened", async () => {
    const { kv } = storeOver(['a/1', 'a/2', 'a/b/3', 'c'])
    await kv.start()
    expect(names(kv.visibleRows)).toEqual(['a/', 'c'])
    await kv.toggle(bytesId(utf8('a/')))
    expect(names(kv.visibleRows)).toEqual(['a/', '  a/1', '  a/2', '  a/b/', 'c'])
    await kv.toggle(bytesId(utf8('a/')))
    expect(names(kv.visibleRows)).toEqual(['a/', 'c'])
  })

  it('pages a long folder at one revision, continuing after the last row', async () => {
    const keys = Array.from({ length: 1200 }, (_, i) => `k/${String(i).padStart(4, '0')}`)
    const { kv, server } = storeOver(keys)
    await kv.start()
    await kv.toggle(bytesId(utf8('k/')))
    expect(kv.visibleRows.filter((r) => r.kind === 'key')).toHaveLength(500)
    expect(kv.visibleRows.at(-1)!.kind).toBe('more')
    await kv.loadFolder(bytesId(utf8('k/')), true)
    await kv.loadFolder(bytesId(utf8('k/')), true)
    expect(kv.visibleRows.filter((r) => r.kind === 'key')).toHaveLength(1200)
    expect(kv.visibleRows.at(-1)!.kind).toBe('key')
    const pages = server.calls.filter((c) => bytesId(c.prefix) === 'k/')
    expect(pages.map((c) => (c.after ? displayBytes(c.after) : ''))).toEqual([
      '',
      'k/0499',
      'k/0999',
    ])
    expect(pages.slice(1).every((c) => c.revision === 7)).toBe(true)
  })

  it('folds watch events into loaded folders: new keys and folders appear, deleted keys go', async () => {
    const { kv } = storeOver(['a/1', 'c'])
    await kv.start()
    await kv.toggle(bytesId(utf8('a/')))
    const put = (k: string) => ({
      type: 'put' as const,
      key: utf8(k),
      value: utf8('v'),
      modRevision: 9,
    })
    kv.onWatch({ events: [put('a/0'), put('b'), put('a/new/x')], skipped: 0 })
    expect(names(kv.visibleRows)).toEqual(['a/', '  a/0', '  a/1', '  a/new/', 'b', 'c'])
    kv.onWatch({
      events: [{ type: 'delete', key: utf8('a/1'), value: new Uint8Array(), modRevision: 10 }],
      skipped: 0,
    })
    expect(names(kv.visibleRows)).toEqual(['a/', '  a/0', '  a/new/', 'b', 'c'])
  })

  it('says the open key changed only for an event newer than the value shown', async () => {
    const { kv } = storeOver(['a'])
    await kv.start()
    await kv.open(bytesId(utf8('a')))
    const at = (rev: number) => ({
      events: [{ type: 'put' as const, key: utf8('a'), value: utf8('v'), modRevision: rev }],
      skipped: 0,
    })
    kv.onWatch(at(5)) // our own write, already shown
    expect(kv.changedUnderneath).toBe(false)
    kv.onWatch(at(6))
    expect(kv.changedUnderneath).toBe(true)
    kv.onWatch({
      events: [{ type: 'delete', key: utf8('a'), value: new Uint8Array(), modRevision: 7 }],
      skipped: 0,
    })
    expect(kv.detailGone).toBe(true)
  })
})
