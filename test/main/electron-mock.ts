/**
 * A stand-in for the `electron` module, rich enough to run main's wiring in plain Node: it
 * records the windows created, the handlers registered and the listeners attached, so tests can
 * assert what main asked Electron to do and drive the events Electron would send.
 */
import { EventEmitter } from 'node:events'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { vi } from 'vitest'

type Listener = (...args: unknown[]) => unknown

export class FakeWebContents extends EventEmitter {
  static nextId = 1
  id = FakeWebContents.nextId++
  mainFrame = { url: '' }
  /** What main sent to this renderer: [channel, ...args]. */
  sent: unknown[][] = []
  destroyed = false
  send(channel: string, ...args: unknown[]) {
    this.sent.push([channel, ...args])
  }
  isDestroyed() {
    return this.destroyed
  }
  windowOpenHandler: ((details: { url: string }) => { action: string }) | null = null
  setWindowOpenHandler(handler: (details: { url: string }) => { action: string }) {
    this.windowOpenHandler = handler
  }
  /** Emits like Electron does: an event object whose preventDefault() is observable. */
  fire(name: string, ...args: unknown[]) {
    const event = {
      defaultPrevented: false,
      preventDefault() {
        this.defaultPrevented = true
      },
    }
    this.emit(name, event, ...args)
    return event.defaultPrevented
  }
}

export class FakeBrowserWindow extends EventEmitter {
  static instances: FakeBrowserWindow[] = []
  static getAllWindows = () => FakeBrowserWindow.instances
  webContents = new FakeWebContents()
  loadedUrl: string | null = null
  constructor(public options: Record<string, unknown>) {
    super()
    FakeBrowserWindow.instances.push(this)
  }
  loadURL(url: string) {
    this.loadedUrl = url
    this.webContents.mainFrame.url = url
    return Promise.resolve()
  }
  show() {}
  focused = 0
  isDestroyed() {
    return false
  }
  isMinimized() {
    return false
  }
  restore() {}
  focus() {
    this.focused++
  }
  maximized = false
  bounds = { x: 10, y: 20, width: 1280, height: 820 }
  maximize() {
    this.maximized = true
  }
  isMaximized() {
    return this.maximized
  }
  getNormalBounds() {
    return this.bounds
  }
}

/**
 * A utility process as main sees one. By default it fails to start at once (the window tests do
 * not need a cluster); `realNodes()` makes it a real child process (fork), so main's embedded
 * cluster runs for real.
 */
export class FakeUtilityProcess extends EventEmitter {
  pid: number | undefined = undefined
  stderr: NodeJS.ReadableStream | null = null
  postMessage(_message: unknown) {}
  kill() {
    return false
  }
}

export function createElectronMock() {
  const fakeHome = mkdtempSync(join(tmpdir(), 'raftdesk-electron-home-'))
  const forks: Array<{ entry: string; options: Record<string, unknown> }> = []
  let forkImpl = (entry: string, _args: string[], _options: Record<string, unknown>) => {
    const p = new FakeUtilityProcess()
    setTimeout(() => p.emit('exit', 1), 0)
    void entry
    return p
  }
  const ipcHandlers = new Map<string, Listener>()
  const ipcListeners = new Map<string, Listener>()
  const appListeners = new Map<string, Listener[]>()
  let headersListener: Listener | null = null
  let permissionHandler: Listener | null = null
  let applicationMenu: { template: unknown[] } | null = null

  const electron = {
    app: {
      getVersion: () => '9.9.9-test',
      // A temporary directory, so main's files (the embedded cluster's data) never land on the
      // real filesystem outside it.
      getPath: (name: string) => join(fakeHome, name),
      whenReady: () => Promise.resolve(),
      requestSingleInstanceLock: () => true,
      setAsDefaultProtocolClient: vi.fn(() => true),
      quit: vi.fn(),
      exit: vi.fn(),
      on(name: string, listener: Listener) {
        appListeners.set(name, [...(appListeners.get(name) ?? []), listener])
        return this
      },
    },
    ipcMain: {
      handle(channel: string, listener: Listener) {
        if (ipcHandlers.has(channel)) throw new Error(`second handler for ${channel}`)
        ipcHandlers.set(channel, listener)
      },
      on(channel: string, listener: Listener) {
        if (ipcListeners.has(channel)) throw new Error(`second listener for ${channel}`)
        ipcListeners.set(channel, listener)
      },
    },
    session: {
      defaultSession: {
        webRequest: {
          onHeadersReceived(listener: Listener) {
            headersListener = listener
          },
        },
        setPermissionRequestHandler(handler: Listener) {
          permissionHandler = handler
        },
      },
    },
    BrowserWindow: FakeBrowserWindow,
    Menu: {
      buildFromTemplate: (template: unknown[]) => ({ template }),
      setApplicationMenu: (menu: { template: unknown[] } | null) => {
        applicationMenu = menu
      },
    },
    safeStorage: {
      isEncryptionAvailable: () => true,
      encryptString: (s: string) => Buffer.from(`sealed:${s}`),
      decryptString: (b: Buffer) => b.toString().replace(/^sealed:/, ''),
    },
    utilityProcess: {
      fork(entry: string, args: string[], options: Record<string, unknown>) {
        forks.push({ entry, options })
        return forkImpl(entry, args, options)
      },
    },
  }

  return {
    electron,
    /** What app.getPath() answers under: a temporary directory of this mock's own. */
    home: fakeHome,
    ipcHandlers,
    ipcListeners,
    appListeners,
    forks,
    /** From now on, utility processes are real node processes (child_process.fork). */
    realNodes(makeChild: (entry: string, options: Record<string, unknown>) => FakeUtilityProcess) {
      forkImpl = (entry, _args, options) => makeChild(entry, options)
    },
    headers: () => headersListener,
    permissions: () => permissionHandler,
    /** The template main set as the application menu. */
    menu: () => applicationMenu,
    reset() {
      FakeBrowserWindow.instances = []
      ipcHandlers.clear()
      ipcListeners.clear()
      forks.length = 0
      appListeners.clear()
      headersListener = null
      permissionHandler = null
      applicationMenu = null
    },
  }
}
