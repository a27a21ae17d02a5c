import { EventEmitter } from 'node:events'
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
  /** raftdesk:// links the operating system hands the app (Electron); absent in web mode. */
  links?: LinkInbox
}

/** The app's own links (raftdesk://join?...) as they arrive from the operating system. */
export const APP_LINK_RE = /^raftdesk:\/\//i

/**
 * Links the operating system hands the app, kept until a window listens: one clicked before the
 * window was up (the first launch's command line) is not lost.
 */
export class LinkInbox extends EventEmitter<{ link: [url: string] }> {
  private waiting: string[] = []

  /** Takes the app's links among `args` (a command line) or a single URL. */
  push(...args: string[]): void {
    for (const url of args.filter((a) => APP_LINK_RE.test(a))) {
      if (this.listenerCount('link') === 0) this.waiting.push(url)
      else this.emit('link', url)
    }
  }

  /** The links that arrived while nobody listened, once. */
  take(): string[] {
    const w = this.waiting
    this.waiting = []
    return w
  }
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
export function createAppTopics(
  options: AppServiceOptions,
): Pick<TopicHandlers, 'app/menu' | 'app/links'> {
  return {
    'app/links': (_args, sink) => {
      const links = options.links
      if (!links) return () => {}
      const forward = (url: string) => sink.emit(url)
      links.on('link', forward)
      for (const url of links.take()) sink.emit(url)
      return () => void links.off('link', forward)
    },
    'app/menu': (_args, sink) => {
      const menu = options.menu
      if (!menu) return () => {}
      const forward = (command: MenuCommand) => sink.emit(command)
      menu.on('command', forward)
      return () => void menu.off('command', forward)
    },
  }
}
