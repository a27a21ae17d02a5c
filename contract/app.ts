/**
 * The `app/*` namespace: facts about the build and the host serving the contract, and the
 * commands the host's own menus send (the desktop app's menu bar; web mode has none, so its
 * `app/menu` stream stays silent).
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

/** How the host's own cluster is coming up (the app's embedded one; web mode's is up already). */
export interface StartupStatus {
  state: 'starting' | 'ready' | 'failed'
  nodes: {
    name: string
    state: 'starting' | 'running' | 'stopped' | 'crashed' | 'paused' | 'stopping'
  }[]
  /** Why it failed, in a sentence a person can act on. */
  error?: string
}

export interface AppCalls {
  'app/info': { args: []; result: AppInfo }
  'app/startup': { args: []; result: StartupStatus }
}

/** What a menu item asks the window to do. */
export type MenuCommand =
  | 'new-key'
  | 'import'
  | 'export'
  | 'connections'
  | 'palette'
  | 'reload'
  | 'theme'
  | 'view:keys'
  | 'view:watch'
  | 'view:leases'
  | 'view:access'
  | 'view:cluster'
  | 'view:raft'
  | 'view:about'

export interface AppTopics {
  'app/menu': { args: []; event: MenuCommand }
  /**
   * `raftdesk://` links the operating system handed the app (an invite clicked elsewhere), the
   * ones that arrived before a window listened first.
   */
  'app/links': { args: []; event: string }
}
