/**
 * The one API contract between the renderer and the services behind it.
 *
 * Every call is keyed 'namespace/action'. `Contract` maps each key to the tuple of its arguments
 * and the type of its result. Main implements the contract (over Electron IPC), the web-mode
 * server implements the same contract over a WebSocket, and the renderer consumes it through
 * `window.raftdesk` without knowing which host serves it.
 *
 * This file is type-only on purpose: it is imported by the renderer (web project), by preload
 * and by node-core, so it must not pull runtime code from any of them. The one runtime value,
 * `CHANNELS`, is a plain list of strings that preload uses to refuse unknown channels early.
 */

/** What `app/info` answers: enough for a person to know which build and which data they see. */
export interface AppInfo {
  name: string
  version: string
  /** Node's process.platform of the host serving the contract (linux, darwin, win32). */
  platform: string
  /** 'electron' when served by the desktop app, 'web' when served by `raftdesk serve`. */
  host: 'electron' | 'web'
  /** Directory where raftdesk keeps the embedded cluster's data. */
  dataDir: string
  /** Versions of the runtime pieces, for bug reports. */
  versions: { node: string; electron?: string; chrome?: string }
}

export interface Contract {
  'app/info': { args: []; result: AppInfo }
}

export type Channel = keyof Contract
export type ArgsOf<C extends Channel> = Contract[C]['args']
export type ResultOf<C extends Channel> = Contract[C]['result']

export const CHANNELS = ['app/info'] as const satisfies readonly Channel[]

/**
 * An error as it crosses a process boundary. `name` is the error class (ValidationError,
 * NotFoundError, ...), `code` a stable machine-readable code, `message` the human sentence.
 */
export interface WireError {
  name: string
  code: string
  message: string
}

/** Every call answers with an envelope so that errors keep their name and code across IPC. */
export type Envelope<T> = { ok: true; value: T } | { ok: false; error: WireError }

/** The object preload exposes as `window.raftdesk`. */
export interface RaftdeskBridge {
  invoke<C extends Channel>(channel: C, ...args: ArgsOf<C>): Promise<Envelope<ResultOf<C>>>
}
