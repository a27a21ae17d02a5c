/** The `app/*` namespace: facts about the build and the host serving the contract. */

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

export interface AppCalls {
  'app/info': { args: []; result: AppInfo }
}
