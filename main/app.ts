/**
 * Electron main: thin glue. It hardens the session, opens the window on the renderer, starts
 * the embedded cluster (three local nodes, each a utility process, data in the user's data
 * directory), and routes the API contract over IPC to the node-core services, whose `local`
 * connection is that cluster. Quitting stops the nodes cleanly (leadership handed over first)
 * and keeps their data for the next start. Everything with logic lives in node-core.
 */
import { BrowserWindow, Menu, app, ipcMain, safeStorage, session } from 'electron'
import { EventEmitter } from 'node:events'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { JoinManager, joinedPortBase } from '../node-core/cluster/joins'
import { RestoredClusters, restoredPortBase } from '../node-core/cluster/restored'
import { clusterPorts, firstTakenPort } from '../node-core/cluster/ports'
import { LOCAL_CLUSTER_DEFAULTS, LocalCluster } from '../node-core/cluster/supervisor'
import type { StartupStatus } from '../contract'
import { Connections, FILE_BOX, type SecretBox } from '../node-core/services/connections'
import { LinkInbox } from '../node-core/services/app'
import { createServices, type Services } from '../node-core/services/index'
import { appSenderCheck, registerIpc } from './ipc'
import { UtilityProcessLauncher } from './launcher'
import { menuTemplate } from './menu'
import { contentSecurityPolicy, hardenWebContents, hardenSession, samePage } from './security'
import { createMainWindow } from './window'
import { loadWindowState } from './window-state'

const here = fileURLToPath(new URL('.', import.meta.url))

export function rendererUrl(): string {
  const dev = process.env['ELECTRON_RENDERER_URL']
  if (dev) return dev
  return pathToFileURL(join(here, '../renderer/index.html')).href
}

export function buildServices(
  connections: Connections = new Connections(),
  menu?: EventEmitter,
  startup?: () => StartupStatus,
  local?: Promise<LocalCluster>,
  joins?: Promise<JoinManager>,
  links?: LinkInbox,
  restored?: RestoredClusters,
): Services {
  return createServices(
    {
      name: 'raftdesk',
      version: app.getVersion(),
      host: 'electron',
      dataDir: app.getPath('userData'),
      ...(menu ? { menu } : {}),
      ...(startup ? { startup } : {}),
      ...(links ? { links } : {}),
    },
    connections,
    local,
    joins,
    restored,
  )
}

/** Saved passwords sealed by the OS keychain when Electron can reach it. */
export function keychainBox(): SecretBox {
  if (!safeStorage.isEncryptionAvailable()) return FILE_BOX
  return {
    kind: 'os',
    seal: (s) => safeStorage.encryptString(s).toString('base64'),
    open: (s) => safeStorage.decryptString(Buffer.from(s, 'base64')),
  }
}

export interface AppOptions {
  /** The node entry script; default the built out/main/node-main.js beside this file. */
  nodeEntry?: string
  /** The embedded cluster's data; default <userData>/cluster. */
  clusterDir?: string
  /** The first node's client port (etcd's 2379 by default). */
  clientPort?: number
  /** Where the window's size and position are kept; default userData. */
  stateDir?: string
}

/** The embedded cluster: started once, stopped on quit; `status` says how its start goes. */
export interface Embedded {
  cluster: Promise<LocalCluster>
  /** This machine's members of other clusters, started once the local cluster runs. */
  joins: Promise<JoinManager>
  /** Clusters started from snapshot files in the window. */
  restored: RestoredClusters
  status(): StartupStatus
  stop(): Promise<void>
}

/** Node processes run as Electron utility processes from the built entry. */
function nodeLauncher(options: AppOptions): UtilityProcessLauncher {
  return new UtilityProcessLauncher({ entry: options.nodeEntry ?? join(here, 'node-main.js') })
}

/** Starts the nodes, after checking their ports are free (a clear sentence when one is not). */
async function startNodes(
  options: AppOptions,
  onNodeState: (name: string, state: StartupStatus['nodes'][number]['state']) => void,
): Promise<LocalCluster> {
  const clientPort = options.clientPort ?? LOCAL_CLUSTER_DEFAULTS.clientPort
  const host = LOCAL_CLUSTER_DEFAULTS.host
  const taken = await firstTakenPort(host, clusterPorts(clientPort, LOCAL_CLUSTER_DEFAULTS.nodes))
  if (taken !== null) {
    throw new Error(
      `port ${taken} on ${host} is in use by another program (often an etcd already running); ` +
        `the local cluster needs ports ${clientPort}-${clientPort + 100 * (LOCAL_CLUSTER_DEFAULTS.nodes - 1) + 1}. ` +
        'Stop that program and start raftdesk again; connect to it with Connections… meanwhile.',
    )
  }
  return LocalCluster.start({
    dataDir: options.clusterDir ?? join(app.getPath('userData'), 'cluster'),
    launcher: nodeLauncher(options),
    clientPort,
    onNodeState,
  })
}

export function startEmbeddedCluster(options: AppOptions, connections: Connections): Embedded {
  const status: StartupStatus = { state: 'starting', nodes: [] }
  const cluster = startNodes(options, (name, state) => {
    const others = status.nodes.filter((n) => n.name !== name)
    status.nodes = [...others, { name, state }].sort((a, b) => a.name.localeCompare(b.name))
  })
  cluster.then(
    () => (status.state = 'ready'),
    (err: unknown) => {
      status.state = 'failed'
      status.error = err instanceof Error ? err.message : String(err)
    },
  )
  connections.expect(
    'local',
    cluster.then(async (c) => {
      await c.waitForLeader(30_000)
      return {
        id: 'local',
        name: 'local cluster',
        endpoints: c.list().map((n) => n.endpoint),
        builtin: true,
      }
    }),
  )
  cluster.catch((err: unknown) => console.error('the embedded cluster did not start:', err))
  const joins = cluster.then(() =>
    JoinManager.open({
      dir: join(options.clusterDir ?? join(app.getPath('userData'), 'cluster'), 'joined'),
      portBase: joinedPortBase(options.clientPort ?? LOCAL_CLUSTER_DEFAULTS.clientPort),
      launcher: nodeLauncher(options),
    }).catch((err: unknown) => {
      console.error('members of other clusters did not start:', err)
      throw err
    }),
  )
  // Without a local cluster there are no joins either; that failure is told once, above.
  joins.catch(() => undefined)
  // Clusters started from snapshot files in the window: they run until the app quits.
  const restored = new RestoredClusters({
    dir: join(options.clusterDir ?? join(app.getPath('userData'), 'cluster'), 'restored'),
    portBase: restoredPortBase(options.clientPort ?? LOCAL_CLUSTER_DEFAULTS.clientPort),
    launcher: nodeLauncher(options),
  })
  let stopping: Promise<void> | null = null
  return {
    cluster,
    joins,
    restored,
    status: () => ({ ...status, nodes: [...status.nodes] }),
    stop() {
      stopping ??= (async () => {
        connections.closeAll()
        await (await joins.catch(() => null))?.close()
        await restored.close().catch(() => undefined)
        const c = await cluster.catch(() => null)
        await c?.stop()
      })()
      return stopping
    },
  }
}

export async function startApp(options: AppOptions = {}): Promise<Embedded> {
  const appUrl = rendererUrl()
  const isAppUrl = (url: string) => samePage(url, appUrl)

  app.on('web-contents-created', (_event, contents) => hardenWebContents(contents, isAppUrl))
  // raftdesk:// links (invites to join a cluster) open here: from this launch's command line,
  // a second launch's (Windows, Linux), or macOS's open-url, which may come before ready.
  const links = new LinkInbox()
  app.setAsDefaultProtocolClient('raftdesk')
  links.push(...process.argv)
  app.on('open-url', (event, url) => {
    event.preventDefault()
    links.push(url)
  })
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit()
  })

  await app.whenReady()
  hardenSession(
    session.defaultSession,
    contentSecurityPolicy(process.env['ELECTRON_RENDERER_URL']),
    isAppUrl,
  )
  const connections = new Connections({
    file: join(app.getPath('userData'), 'connections.json'),
    box: keychainBox(),
  })
  await connections.loadProfiles().catch((err: unknown) => console.error(err))
  // The menu bar's clicks reach the window as `app/menu` events.
  const menu = new EventEmitter()
  Menu.setApplicationMenu(Menu.buildFromTemplate(menuTemplate(menu)))
  const embedded = startEmbeddedCluster(options, connections)
  registerIpc(
    ipcMain,
    buildServices(
      connections,
      menu,
      () => embedded.status(),
      embedded.cluster,
      embedded.joins,
      links,
      embedded.restored,
    ),
    appSenderCheck(isAppUrl),
  )

  // Quit waits for the nodes to stop (leadership handed over, data kept).
  let stopped = false
  app.on('before-quit', (event) => {
    if (stopped) return
    event.preventDefault()
    void embedded.stop().finally(() => {
      stopped = true
      app.quit()
    })
  })

  const stateFile = join(options.stateDir ?? app.getPath('userData'), 'window-state.json')
  const open = () =>
    createMainWindow({
      preloadPath: join(here, '../preload/index.cjs'),
      appUrl,
      isAppUrl,
      state: { file: stateFile, initial: loadWindowState(stateFile) },
    })
  let win = open()
  // A second launch focuses this window instead of starting another cluster.
  app.on('second-instance', (_event, argv) => {
    links.push(...argv)
    if (win.isDestroyed()) win = open()
    if (win.isMinimized()) win.restore()
    win.focus()
  })
  // macOS keeps the app alive without windows; clicking the dock icon opens one again.
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) win = open()
  })
  return embedded
}
