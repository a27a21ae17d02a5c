// The watch store's desktop notifications: asked for once, refused plainly, and raised once per
// batch only while the window is in the background.
import { createPinia, setActivePinia } from 'pinia'
import { createApp } from 'vue'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { RaftdeskBridge, TopicMessage, WatchBatch } from '../../contract'
import { createApiClient } from '../../renderer/src/api/client'
import { provideApi } from '../../renderer/src/api/inject'
import { utf8 } from '../../renderer/src/lib/bytes'
import { useWatchStore } from '../../renderer/src/stores/watch'

const shown: { title: string; body: string }[] = []
class FakeNotification {
  static permission: NotificationPermission = 'default'
  static answer: NotificationPermission = 'granted'
  static requestPermission = vi.fn(async () => {
    FakeNotification.permission = FakeNotification.answer
    return FakeNotification.answer
  })
  constructor(title: string, options: { body: string }) {
    shown.push({ title, body: options.body })
  }
}

function setup() {
  let listener: ((m: TopicMessage<WatchBatch>) => void) | null = null
  const bridge = {
    invoke: async () => ({ ok: true, value: null }),
    subscribe: (_t: string, _a: unknown, l: (m: TopicMessage<WatchBatch>) => void) => {
      listener = l
      return () => {}
    },
  } as unknown as RaftdeskBridge
  const app = createApp({})
  provideApi(app, createApiClient(bridge))
  const pinia = createPinia()
  app.use(pinia)
  setActivePinia(pinia)
  let watch!: ReturnType<typeof useWatchStore>
  app.runWithContext(() => (watch = useWatchStore()))
  const batch = (...keys: string[]) =>
    listener!({
      type: 'event',
      event: {
        events: keys.map((k, i) => ({
          type: 'put',
          key: utf8(k),
          value: utf8('v'),
          modRevision: i + 2,
        })),
        skipped: 0,
      },
    })
  return { watch, batch }
}

describe('watch notifications', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
    shown.length = 0
    FakeNotification.permission = 'default'
  })

  it('asks once, then raises one notification per batch while the window is in the background', async () => {
    vi.stubGlobal('Notification', FakeNotification)
    const { watch, batch } = setup()
    expect(await watch.setNotify(true)).toBe(true)
    expect(FakeNotification.requestPermission).toHaveBeenCalledTimes(1)
    watch.start('local')
    const focused = vi.spyOn(document, 'hasFocus').mockReturnValue(true)
    batch('a/1')
    expect(shown).toEqual([])
    focused.mockReturnValue(false)
    batch('a/2', 'a/3', 'a/4')
    expect(shown).toEqual([{ title: 'raftdesk: 3 changes', body: 'put a/2 …' }])
    await watch.setNotify(false)
    batch('a/5')
    expect(shown).toHaveLength(1)
    expect(watch.events).toHaveLength(5)
  })

  it('says so when the system refuses', async () => {
    FakeNotification.answer = 'denied'
    vi.stubGlobal('Notification', FakeNotification)
    const { watch } = setup()
    expect(await watch.setNotify(true)).toBe(false)
    expect(watch.notify).toBe(false)
    FakeNotification.answer = 'granted'
  })
})
