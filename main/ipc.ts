/**
 * The Electron side of the API: one ipcMain handler per contract channel. Each message's sender
 * frame is checked before anything else (only the app's own top-level page may call), then the
 * shared router validates the arguments and runs the handler. Every answer is an envelope, so a
 * refusal reaches the renderer as { name, code, message } rather than a stringly Error.
 */
import type { IpcMain, IpcMainInvokeEvent } from 'electron'
import { CHANNELS, type Envelope } from '../contract'
import { ForbiddenError, toWireError } from '../node-core/errors'
import { dispatch, type Handlers } from '../node-core/services/router'

export type SenderCheck = (event: IpcMainInvokeEvent) => boolean

/** A sender is trusted when it is the main frame of a page that is the app's own page. */
export function appSenderCheck(isAppUrl: (url: string) => boolean): SenderCheck {
  return (event) => {
    const frame = event.senderFrame
    if (!frame) return false
    if (frame !== event.sender.mainFrame) return false
    return isAppUrl(frame.url)
  }
}

export function registerIpc(ipcMain: IpcMain, handlers: Handlers, isTrusted: SenderCheck): void {
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
      return dispatch(handlers, channel, args)
    })
  }
}
