/**
 * The Electron side of the API: one ipcMain handler per contract channel, and the topic
 * messages (`topic/open`, `topic/ack`, `topic/close` from the renderer; `topic/message` back).
 * Each message's sender frame is checked before anything else (only the app's own top-level
 * page may call), then the shared router validates the arguments and runs the handler. Every
 * answer is an envelope, so a refusal reaches the renderer as { name, code, message } rather
 * than a stringly Error. Flow control of topics lives in node-core/services/topics.ts, the same
 * for this transport and the web-mode WebSocket.
 */
import type { IpcMain, IpcMainEvent, IpcMainInvokeEvent, WebContents } from 'electron'
import { CHANNELS, type Envelope, type TopicMessage } from '../contract'
import { ForbiddenError, toWireError } from '../node-core/errors'
import type { Services } from '../node-core/services/index'
import { dispatch } from '../node-core/services/router'
import { openTopic, type OpenTopic } from '../node-core/services/topics'

export type SenderCheck = (event: IpcMainInvokeEvent | IpcMainEvent) => boolean

/** A sender is trusted when it is the main frame of a page that is the app's own page. */
export function appSenderCheck(isAppUrl: (url: string) => boolean): SenderCheck {
  return (event) => {
    const frame = event.senderFrame
    if (!frame) return false
    if (frame !== event.sender.mainFrame) return false
    return isAppUrl(frame.url)
  }
}

export const TOPIC_OPEN = 'topic/open'
export const TOPIC_ACK = 'topic/ack'
export const TOPIC_CLOSE = 'topic/close'
export const TOPIC_MESSAGE = 'topic/message'

export function registerIpc(ipcMain: IpcMain, services: Services, isTrusted: SenderCheck): void {
  for (const channel of CHANNELS) {
    ipcMain.handle(channel, (event, ...args: unknown[]): Promise<Envelope<unknown>> => {
      if (!isTrusted(event)) {
        const url = event.senderFrame?.url ?? 'an unknown frame'
        return Promise.resolve({
          ok: false,
          error: toWireError(
            new ForbiddenError('UNTRUSTED_SENDER', `${channel}: refused a call from ${url}`),
          ),
        })
      }
      return dispatch(services.handlers, channel, args)
    })
  }

  // Open topics per renderer, closed with it.
  const bySender = new Map<WebContents, Map<number, OpenTopic>>()
  const topicsOf = (sender: WebContents) => {
    let open = bySender.get(sender)
    if (!open) {
      open = new Map()
      bySender.set(sender, open)
      sender.once('destroyed', () => {
        for (const t of open!.values()) t.close()
        bySender.delete(sender)
      })
    }
    return open
  }
  ipcMain.on(TOPIC_OPEN, (event, id: unknown, topic: unknown, args: unknown) => {
    if (typeof id !== 'number') return
    const send = (message: TopicMessage<unknown>) => {
      if (!event.sender.isDestroyed()) event.sender.send(TOPIC_MESSAGE, id, message)
    }
    if (!isTrusted(event)) {
      send({
        type: 'error',
        error: toWireError(
          new ForbiddenError('UNTRUSTED_SENDER', `refused topic ${String(topic)}`),
        ),
      })
      return
    }
    const open = topicsOf(event.sender)
    if (open.has(id)) return
    open.set(
      id,
      openTopic(services.topics, topic, Array.isArray(args) ? args : [], (message) => {
        if (message.type !== 'event') open.delete(id)
        send(message)
      }),
    )
  })
  ipcMain.on(TOPIC_ACK, (event, id: unknown) => {
    if (typeof id === 'number') bySender.get(event.sender)?.get(id)?.ack()
  })
  ipcMain.on(TOPIC_CLOSE, (event, id: unknown) => {
    if (typeof id !== 'number') return
    const open = bySender.get(event.sender)
    open?.get(id)?.close()
    open?.delete(id)
  })
}
