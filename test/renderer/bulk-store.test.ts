// The bulk store over a fake contract: an import sent in batches that stops between them when
// cancelled and reports what it did; a copy whose stream is closed by Stop; an export whose
// chunks become one file; a refusal shown as the error, not thrown.
import { createPinia, setActivePinia } from 'pinia'
import { createApp } from 'vue'
import { describe, expect, it, vi } from 'vitest'
import type {
  BulkProgress,
  ImportArgs,
  ImportResult,
  RaftdeskBridge,
  TopicMessage,
} from '../../contract'
import { createApiClient } from '../../renderer/src/api/client'
import { provideApi } from '../../renderer/src/api/inject'
import { utf8 } from '../../renderer/src/lib/bytes'
import { useBulkStore } from '../../renderer/src/stores/bulk'

type Listener = (m: TopicMessage<unknown>) => void

function setup(onImport: (a: ImportArgs) => Promise<ImportResult>) {
  const topics: { topic: string; listener: Listener; closed: boolean }[] = []
  const bridge: RaftdeskBridge = {
    invoke: (async (channel: string, ...args: unknown[]) => {
      if (channel !== 'bulk/import') {
        return { ok: false, error: { name: 'Error', code: 'UNEXPECTED', message: channel } }
      }
      try {
        return { ok: true, value: await onImport(args[0] as ImportArgs) }
      } catch (err) {
        return {
          ok: false,
          error: { name: 'RaftdeskError', code: 'READ_ONLY', message: (err as Error).message },
        }
      }
    }) as RaftdeskBridge['invoke'],
    subscribe: ((topic: string, _args: unknown, listener: Listener) => {
      const t = { topic, listener, closed: false }
      topics.push(t)
      return () => (t.closed = true)
    }) as RaftdeskBridge['subscribe'],
  }
  const app = createApp({})
  provideApi(app, createApiClient(bridge))
  const pinia = createPinia()
  app.use(pinia)
  setActivePinia(pinia)
  let bulk!: ReturnType<typeof useBulkStore>
  app.runWithContext(() => (bulk = useBulkStore()))
  return { bulk, topics }
}

const counts = (n: number): ImportResult => ({
  scanned: n,
  created: n,
  updated: 0,
  unchanged: 0,
  skipped: 0,
  deleted: 0,
  conflicts: 0,
  samples: [],
})
const entries = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ key: utf8(`k${i}`), value: utf8('v') }))

describe('bulk store', () => {
  it('imports in batches, and a cancel stops before the next batch with the count so far', async () => {
    const sent: number[] = []
    let release!: () => void
    const { bulk } = setup(async (a) => {
      sent.push(a.entries.length)
      if (sent.length === 2) await new Promise<void>((r) => (release = r))
      return counts(a.entries.length)
    })
    const running = bulk.importEntries('local', entries(1_600), false, false)
    await vi.waitFor(() => expect(sent).toHaveLength(2))
    expect(bulk.state).toBe('running')
    bulk.cancel()
    release()
    await running
    expect(sent).toEqual([500, 500])
    expect(bulk.state).toBe('cancelled')
    expect(bulk.report).toMatchObject({ scanned: 1_000, created: 1_000, total: 1_600 })
  })

  it('shows a refusal as the error of the run', async () => {
    const { bulk } = setup(() => Promise.reject(new Error('connection prod is read-only')))
    await bulk.importEntries('prod', entries(3), false, false)
    expect(bulk.state).toBe('failed')
    expect(bulk.error).toBe('connection prod is read-only')
  })

  it('closes the copy stream on Stop and keeps the last progress as the report', async () => {
    const { bulk, topics } = setup(async () => counts(0))
    const done = bulk.copy({
      from: { conn: 'local', prefix: utf8('a/') },
      to: { conn: 'local', prefix: utf8('b/') },
      overwrite: false,
      move: false,
      dryRun: false,
    })
    const progress: BulkProgress = {
      ...counts(100),
      total: 300,
      samples: [{ key: utf8('b/1'), change: 'create' }],
      done: false,
      revision: 9,
    }
    topics[0]!.listener({ type: 'event', event: progress })
    expect(bulk.percent).toBeCloseTo(33.3, 0)
    bulk.cancel()
    await done
    expect(topics[0]!.closed).toBe(true)
    expect(bulk.state).toBe('cancelled')
    expect(bulk.report.created).toBe(100)
    expect(bulk.samples).toHaveLength(1)
  })

  it("joins an export's chunks into one file named after the connection, prefix and revision", async () => {
    const { bulk, topics } = setup(async () => counts(0))
    const saved: { name: string; text: string }[] = []
    const create = vi.spyOn(URL, 'createObjectURL').mockImplementation((blob) => {
      void (blob as Blob).text().then((text) => saved.push({ name: '', text }))
      return 'blob:x'
    })
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (
      this: HTMLAnchorElement,
    ) {
      saved.push({ name: this.download, text: '' })
    })
    const done = bulk.exportPrefix(
      { conn: 'local', prefix: utf8('a/') },
      { connName: 'local cluster', prefixText: 'a/' },
      'lines',
    )
    const chunk = (text: string, last: boolean) => ({
      type: 'event' as const,
      event: { data: utf8(text), scanned: 1, total: 2, ambiguous: 0, done: last, revision: 12 },
    })
    topics[0]!.listener(chunk('a/1\nx\n', false))
    topics[0]!.listener(chunk('a/2\ny\n', true))
    await done
    await vi.waitFor(() => expect(saved.some((s) => s.text !== '')).toBe(true))
    expect(saved.find((s) => s.name)?.name).toBe('local_cluster-a-r12.txt')
    expect(saved.find((s) => s.text)?.text).toBe('a/1\nx\na/2\ny\n')
    expect(bulk.savedAs).toBe('local_cluster-a-r12.txt')
    expect(bulk.state).toBe('done')
    create.mockRestore()
    click.mockRestore()
  })
})
