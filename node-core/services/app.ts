import type { EventEmitter } from 'node:events'
import type { AppInfo, MenuCommand, StartupStatus } from '../../contract'
import type { TopicHandlers } from './topics'

export interface AppServiceOptions {
  name: string
  version: string
  host: AppInfo['host']
  dataDir: string
  /** Where the host's menus emit their commands ('command' events); absent in web mode. */
  menu?: EventEmitter
  /** How the host's cluster is coming up; absent: it is up (web mode starts it first). */
  startup?: () => StartupStatus
}

/** The `app/*` handlers. Host facts come in as options so the same code serves Electron and web. */
export function createAppHandlers(options: AppServiceOptions) {
  return {
    'app/startup': (): StartupStatus => options.startup?.() ?? { state: 'ready', nodes: [] },
    'app/info': (): AppInfo => ({
      name: options.name,
      version: options.version,
      platform: process.platform,
      host: options.host,
      dataDir: options.dataDir,
      versions: {
        node: process.versions.node,
        ...(process.versions.electron ? { electron: process.versions.electron } : {}),
        ...(process.versions.chrome ? { chrome: process.versions.chrome } : {}),
      },
    }),
  }
}

/** The `app/menu` topic: every command the host's menu emits, to each window listening. */
export function createAppTopics(options: AppServiceOptions): Pick<TopicHandlers, 'app/menu'> {
  return {
    'app/menu': (_args, sink) => {
      const menu = options.menu
      if (!menu) return () => {}
      const forward = (command: MenuCommand) => sink.emit(command)
      menu.on('command', forward)
      return () => void menu.off('command', forward)
    },
  }
}
