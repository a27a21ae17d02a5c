// preload exposes exactly one frozen object, `raftdesk`, and never ipcRenderer itself.
import { describe, expect, it, vi } from 'vitest'

const exposed = new Map<string, unknown>()
const invoke = vi.fn(async (..._args: unknown[]) => ({ ok: true, value: 'from-main' }))
const send = vi.fn()
const on = new Map<string, (...args: unknown[]) => void>()
vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (key: string, value: unknown) => exposed.set(key, value) },
  ipcRenderer: {
    invoke,
    send,
    on: (channel: string, listener: (...args: unknown[]) => void) => on.set(channel, listener),
  },
}))

await import('../../preload/index')

describe('preload', () => {
  it('exposes only window.raftdesk, frozen, with invoke and subscribe and nothing of ipcRenderer', () => {
    expect([...exposed.keys()]).toEqual(['raftdesk'])
    const bridge = exposed.get('raftdesk') as Record<string, unknown>
    expect(Object.isFrozen(bridge)).toBe(true)
    expect(Object.keys(bridge)).toEqual(['invoke', 'subscribe'])
    expect(Object.values(bridge)).not.toContain(invoke)
  })

  it('forwards a contract channel to main', async () => {
    const bridge = exposed.get('raftdesk') as { invoke: (c: string) => Promise<unknown> }
    await expect(bridge.invoke('app/info')).resolves.toEqual({ ok: true, value: 'from-main' })
    expect(invoke).toHaveBeenCalledWith('app/info')
  })

  it('refuses a channel outside the contract without reaching main', async () => {
    invoke.mockClear()
    const bridge = exposed.get('raftdesk') as { invoke: (c: string) => Promise<unknown> }
    await expect(bridge.invoke('fs/readFile')).resolves.toMatchObject({
      ok: false,
      error: { code: 'UNKNOWN_CHANNEL' },
    })
    expect(invoke).not.toHaveBeenCalled()
  })

  it('opens a topic in main, acknowledges each event after its listener ran, and closes it', () => {
    const bridge = exposed.get('raftdesk') as {
      subscribe: (t: string, a: unknown[], l: (m: unknown) => void) => () => void
    }
    send.mockClear()
    const seen: unknown[] = []
    const close = bridge.subscribe('kv/watch', [{ conn: 'local' }], (m) => {
      // The ack must not be sent before the listener has handled the event.
      expect(send).not.toHaveBeenCalledWith('topic/ack', 1)
      seen.push(m)
    })
    expect(send).toHaveBeenCalledWith('topic/open', 1, 'kv/watch', [{ conn: 'local' }])
    const event = { type: 'event', event: { events: [], skipped: 0 } }
    on.get('topic/message')!({}, 1, event)
    expect(seen).toEqual([event])
    expect(send).toHaveBeenLastCalledWith('topic/ack', 1)
    close()
    expect(send).toHaveBeenLastCalledWith('topic/close', 1)
    on.get('topic/message')!({}, 1, event)
    expect(seen).toHaveLength(1)
  })

  it('refuses a topic outside the contract without reaching main', () => {
    const bridge = exposed.get('raftdesk') as {
      subscribe: (t: string, a: unknown[], l: (m: unknown) => void) => () => void
    }
    send.mockClear()
    const seen: unknown[] = []
    bridge.subscribe('fs/watch', [], (m) => seen.push(m))
    expect(seen).toEqual([
      { type: 'error', error: expect.objectContaining({ code: 'UNKNOWN_TOPIC' }) },
    ])
    expect(send).not.toHaveBeenCalled()
  })
})
