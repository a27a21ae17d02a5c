// preload exposes exactly one frozen object, `raftdesk`, and never ipcRenderer itself.
import { describe, expect, it, vi } from 'vitest'

const exposed = new Map<string, unknown>()
const invoke = vi.fn(async (..._args: unknown[]) => ({ ok: true, value: 'from-main' }))
vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (key: string, value: unknown) => exposed.set(key, value) },
  ipcRenderer: { invoke, send: vi.fn(), on: vi.fn() },
}))

await import('../../preload/index')

describe('preload', () => {
  it('exposes only window.raftdesk, frozen, with invoke and nothing of ipcRenderer', () => {
    expect([...exposed.keys()]).toEqual(['raftdesk'])
    const bridge = exposed.get('raftdesk') as Record<string, unknown>
    expect(Object.isFrozen(bridge)).toBe(true)
    expect(Object.keys(bridge)).toEqual(['invoke'])
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
})
