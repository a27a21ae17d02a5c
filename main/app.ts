/**
 * Electron main: thin glue. It hardens the session, opens the window on the renderer, and routes
 * the API contract over IPC to the node-core services. Everything with logic lives in node-core.
 */
import { BrowserWindow, app, ipcMain, session } from 'electron'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Connections } from '../node-core/services/connections'
import { createServices, type Services } from '../node-core/services/index'
import { appSenderCheck, registerIpc } from './ipc'
import { contentSecurityPolicy, hardenWebContents, hardenSession, samePage } from './security'
import { createMainWindow } from './window'

const here = fileURLToPath(new URL('.', import.meta.url))

export function rendererUrl(): string {
  const dev = process.env['ELECTRON_RENDERER_URL']
  if (dev) return dev
  return pathToFileURL(join(here, '../renderer/index.html')).href
}

export function buildServices(connections: Connections = new Connections()): Services {
  return createServices(
    {
      name: 'raftdesk',
      version: app.getVersion(),
      host: 'electron',
      dataDir: app.getPath('userData'),
    },
    connections,
  )
}

export async function startApp(): Promise<void> {
  const appUrl = rendererUrl()
  const isAppUrl = (url: string) => samePage(url, appUrl)

  app.on('web-contents-created', (_event, contents) => hardenWebContents(contents, isAppUrl))
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit()
  })

  await app.whenReady()
  hardenSession(session.defaultSession, contentSecurityPolicy(process.env['ELECTRON_RENDERER_URL']))
  registerIpc(ipcMain, buildServices(), appSenderCheck(isAppUrl))
  const open = () =>
    createMainWindow({ preloadPath: join(here, '../preload/index.cjs'), appUrl, isAppUrl })
  open()
  // macOS keeps the app alive without windows; clicking the dock icon opens one again.
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) open()
  })
}
