/**
 * Preload: exposes the API contract to the renderer as `window.raftdesk`.
 *
 * It runs sandboxed with context isolation, so the only thing that crosses into the page is the
 * frozen bridge object below. ipcRenderer itself is never exposed; unknown channels and topics
 * are refused here before they reach main (main validates again, it trusts nothing from the
 * renderer). Keys and values cross as Uint8Array (structured clone), as over the web bridge.
 */
import { contextBridge, ipcRenderer } from 'electron'
import {
  CHANNELS,
  TOPICS,
  type Channel,
  type RaftdeskBridge,
  type Topic,
  type TopicMessage,
} from '../contract'

const allowedChannels = new Set<string>(CHANNELS)
const allowedTopics = new Set<string>(TOPICS)
const listeners = new Map<number, (message: TopicMessage<unknown>) => void>()
let nextTopicId = 1

// Channel names as main/ipc.ts has them (preload is bundled alone, so they are repeated here).
ipcRenderer.on('topic/message', (_event, id: number, message: TopicMessage<unknown>) => {
  const listener = listeners.get(id)
  if (!listener) return
  if (message.type !== 'event') listeners.delete(id)
  try {
    listener(message)
  } finally {
    if (message.type === 'event') ipcRenderer.send('topic/ack', id)
  }
})

const refused = (what: string, name: string) => ({
  name: 'ValidationError',
  code: what === 'channel' ? 'UNKNOWN_CHANNEL' : 'UNKNOWN_TOPIC',
  message: `unknown ${what} ${JSON.stringify(name)}`,
})

export const bridge: RaftdeskBridge = {
  invoke(channel: Channel, ...args: unknown[]) {
    if (!allowedChannels.has(channel)) {
      return Promise.resolve({ ok: false as const, error: refused('channel', channel) })
    }
    return ipcRenderer.invoke(channel, ...args)
  },
  subscribe(topic: Topic, args: unknown[], listener: (m: TopicMessage<unknown>) => void) {
    if (!allowedTopics.has(topic)) {
      listener({ type: 'error', error: refused('topic', topic) })
      return () => {}
    }
    const id = nextTopicId++
    listeners.set(id, listener)
    ipcRenderer.send('topic/open', id, topic, args)
    return () => {
      if (listeners.delete(id)) ipcRenderer.send('topic/close', id)
    }
  },
} as RaftdeskBridge

contextBridge.exposeInMainWorld('raftdesk', Object.freeze(bridge))
