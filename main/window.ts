import { BrowserWindow } from 'electron'
import { hardenWebContents, secureWebPreferences } from './security'

export interface MainWindowOptions {
  preloadPath: string
  /** The dev server URL, or the file:// URL of the built index.html. */
  appUrl: string
  isAppUrl: (url: string) => boolean
}

export function createMainWindow(options: MainWindowOptions): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 820,
    minWidth: 900,
    minHeight: 600,
    title: 'raftdesk',
    show: false,
    backgroundColor: '#111418',
    webPreferences: secureWebPreferences(options.preloadPath),
  })
  hardenWebContents(win.webContents, options.isAppUrl)
  win.once('ready-to-show', () => win.show())
  void win.loadURL(options.appUrl)
  return win
}
