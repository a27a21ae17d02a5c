import { BrowserWindow } from 'electron'
import { hardenWebContents, secureWebPreferences } from './security'
import { WINDOW_DEFAULT, saveWindowState, type WindowState } from './window-state'

export interface MainWindowOptions {
  preloadPath: string
  /** The dev server URL, or the file:// URL of the built index.html. */
  appUrl: string
  isAppUrl: (url: string) => boolean
  /** Where the size and position were, and are saved on close. */
  state?: { file: string; initial: WindowState }
}

export function createMainWindow(options: MainWindowOptions): BrowserWindow {
  const initial = options.state?.initial ?? WINDOW_DEFAULT
  const win = new BrowserWindow({
    width: initial.width,
    height: initial.height,
    ...(initial.x !== undefined && initial.y !== undefined ? { x: initial.x, y: initial.y } : {}),
    minWidth: 900,
    minHeight: 600,
    title: 'raftdesk',
    show: false,
    backgroundColor: '#111418',
    webPreferences: secureWebPreferences(options.preloadPath),
  })
  hardenWebContents(win.webContents, options.isAppUrl)
  win.once('ready-to-show', () => {
    if (initial.maximized) win.maximize()
    win.show()
  })
  const state = options.state
  if (state) {
    win.on('close', () => {
      const b = win.getNormalBounds()
      saveWindowState(state.file, { ...b, maximized: win.isMaximized() })
    })
  }
  void win.loadURL(options.appUrl)
  return win
}
