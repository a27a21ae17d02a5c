/**
 * Web mode's `window.raftdesk`: the contract's calls and topics over one WebSocket to the server
 * that served this page (`<token>/api`, beside the page), in msgpack frames so that keys and
 * values travel as bytes, as they do over Electron's IPC. The web-mode server compiles this file
 * and serves it before the app's own script; the app cannot tell it from Electron's preload.
 *
 * A lost connection fails the calls in flight with DISCONNECTED and ends open topics with the
 * same error; the bridge reconnects every second.
 */
import { decode, encode } from '@msgpack/msgpack'
import type {
  BridgeReply,
  BridgeRequest,
  Envelope,
  RaftdeskBridge,
  TopicMessage,
  WireError,
} from '../../contract'

const DISCONNECTED: WireError = {
  name: 'UnavailableError',
  code: 'DISCONNECTED',
  message: 'the connection to raftdesk was lost',
}

let socket: WebSocket | null = null
let nextId = 1
const calls = new Map<number, (envelope: Envelope<unknown>) => void>()
const topics = new Map<number, (message: TopicMessage<unknown>) => void>()
const queue: Uint8Array<ArrayBuffer>[] = []

function send(request: BridgeRequest): void {
  // encode() returns a view of a reused buffer: send a copy that owns its bytes.
  const frame = encode(request).slice()
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(frame)
  else queue.push(frame)
}

function onReply(reply: BridgeReply): void {
  if (reply.t === 'reply') {
    const done = calls.get(reply.id)
    calls.delete(reply.id)
    done?.(reply.envelope)
    return
  }
  const listener = topics.get(reply.id)
  if (!listener) return
  if (reply.message.type !== 'event') topics.delete(reply.id)
  try {
    listener(reply.message)
  } finally {
    if (reply.message.type === 'event') send({ t: 'ack', id: reply.id })
  }
}

function connect(): void {
  const url = new URL('api', location.href)
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:'
  url.search = ''
  const ws = new WebSocket(url)
  ws.binaryType = 'arraybuffer'
  socket = ws
  ws.onopen = () => {
    for (const frame of queue.splice(0)) ws.send(frame)
  }
  ws.onmessage = (event: MessageEvent<ArrayBuffer>) => {
    onReply(decode(new Uint8Array(event.data)) as BridgeReply)
  }
  ws.onclose = () => {
    for (const done of calls.values()) done({ ok: false, error: DISCONNECTED })
    calls.clear()
    for (const listener of topics.values()) listener({ type: 'error', error: DISCONNECTED })
    topics.clear()
    setTimeout(connect, 1000)
  }
}

const bridge: RaftdeskBridge = {
  invoke(channel, ...args) {
    return new Promise((resolve) => {
      const id = nextId++
      calls.set(id, resolve as (envelope: Envelope<unknown>) => void)
      send({ t: 'call', id, channel, args })
    })
  },
  subscribe(topic, args, listener) {
    const id = nextId++
    topics.set(id, listener as (message: TopicMessage<unknown>) => void)
    send({ t: 'sub', id, topic, args })
    return () => {
      if (topics.delete(id)) send({ t: 'unsub', id })
    }
  },
}

connect()
Object.defineProperty(window, 'raftdesk', { value: Object.freeze(bridge), writable: false })
