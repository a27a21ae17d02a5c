/**
 * Preload: exposes the API contract to the renderer as `window.raftdesk`.
 *
 * It runs sandboxed with context isolation, so the only thing that crosses into the page is the
 * frozen bridge object below. ipcRenderer itself is never exposed; unknown channels are refused
 * here before they reach main (main validates again, it trusts nothing from the renderer).
 */
import { contextBridge, ipcRenderer } from 'electron'
import { CHANNELS, type Channel, type RaftdeskBridge } from '../contract'

const allowed = new Set<string>(CHANNELS)

export const bridge: RaftdeskBridge = {
  invoke(channel: Channel, ...args: unknown[]) {
    if (!allowed.has(channel)) {
      return Promise.resolve({
        ok: false as const,
        error: {
          name: 'ValidationError',
          code: 'UNKNOWN_CHANNEL',
          message: `unknown channel ${JSON.stringify(channel)}`,
        },
      })
    }
    return ipcRenderer.invoke(channel, ...args)
  },
} as RaftdeskBridge

contextBridge.exposeInMainWorld('raftdesk', Object.freeze(bridge))
