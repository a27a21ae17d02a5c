/**
 * Web mode: the same renderer the desktop app shows, served over HTTP, with the API contract
 * carried over a WebSocket instead of Electron's IPC.
 *
 *   GET /<token>/                     the built renderer (out/renderer; built on first use)
 *   GET /<token>/raftdesk-bridge.js   window.raftdesk over the WebSocket (renderer/bridge)
 *   WS  /<token>/api                  msgpack frames: calls, topics and their acknowledgements
 *
 * <token> is random per start and printed in the URL; a request without it gets 404, so other
 * local users and pages cannot reach the API. The WebSocket also checks that its Origin is this
 * server, frames are bounded in size, and every call and topic goes through the same router and
 * argument schemas as Electron's IPC. The renderer cannot tell this host from Electron: the
 * bridge script defines the same `window.raftdesk` that preload defines there.
 */
import { CSP } from '../kernel/csp'
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, normalize, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import { decode, encode } from '@msgpack/msgpack'
import { WebSocketServer, type WebSocket } from 'ws'
import type { BridgeReply, BridgeRequest } from '../../contract'
import { Connections } from './connections'
import { createServices, type Services } from './index'
import { dispatch } from './router'
import { openTopic, type OpenTopic } from './topics'

export interface WebUiOptions {
  host: string
  port: number
  dataDir: string
  /** Directory of the built renderer; default out/renderer of this checkout. */
  rendererDir?: string
  /** What the contract calls; default: app facts and no connections. */
  services?: Services
  /** The session token in every path; default: random. */
  token?: string
  log?: (msg: string) => void
}

export interface WebUi {
  /** The page, token included: what a person opens. */
  url: string
  port: number
  token: string
  close(): Promise<void>
}

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))
// A put carries up to etcd's 1.5 MiB value plus its key; an import batch is kept under this
// by the window.
const MESSAGE_BYTES_MAX = 4 * 1024 * 1024

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
}

/** The bridge script, compiled once from renderer/bridge/web-bridge.ts. */
let bridgeJs: Promise<string> | null = null

function compileBridge(): Promise<string> {
  bridgeJs ??= import('esbuild').then(async ({ build }) => {
    const out = await build({
      entryPoints: [join(REPO_ROOT, 'renderer', 'bridge', 'web-bridge.ts')],
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: 'es2022',
      minify: true,
      write: false,
      logLevel: 'silent',
    })
    return out.outputFiles[0]!.text
  })
  return bridgeJs
}

/** The newest modification time of the files under `dir` (0 when there are none). */
function newestMtimeMs(dir: string): number {
  let newest = 0
  if (!existsSync(dir)) return 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue
    newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs)
  }
  return newest
}

/**
 * Builds the renderer into `dir` when it is missing or older than its sources (renderer/ and
 * contract/ of this checkout), so `npm run serve` after a pull shows the current window.
 */
export async function ensureRendererBuilt(dir: string, log: (m: string) => void): Promise<void> {
  const index = join(dir, 'index.html')
  const sources = ['renderer', 'contract'].map((d) => join(REPO_ROOT, d))
  if (existsSync(index)) {
    const builtMs = statSync(index).mtimeMs
    if (sources.every((d) => newestMtimeMs(d) <= builtMs)) return
    log(`rebuilding the web UI into ${dir} (its sources changed)`)
  } else {
    log(`building the web UI into ${dir} (first run)`)
  }
  const { build } = await import('vite')
  const { default: vue } = await import('@vitejs/plugin-vue')
  await build({
    root: join(REPO_ROOT, 'renderer'),
    base: './',
    configFile: false,
    logLevel: 'warn',
    plugins: [vue()],
    build: { outDir: dir, emptyOutDir: true },
  })
}

export async function startWebUi(options: WebUiOptions): Promise<WebUi> {
  const log = options.log ?? (() => {})
  const dir = resolve(options.rendererDir ?? join(REPO_ROOT, 'out', 'renderer'))
  await ensureRendererBuilt(dir, log)
  const indexHtml = (await readFile(join(dir, 'index.html'), 'utf8')).replace(
    '<script type="module"',
    '<script src="./raftdesk-bridge.js"></script>\n    <script type="module"',
  )
  const services =
    options.services ??
    createServices(
      { name: 'raftdesk', version: await packageVersion(), host: 'web', dataDir: options.dataDir },
      new Connections(),
    )
  const bridge = await compileBridge()
  const token = options.token ?? randomBytes(16).toString('hex')
  const base = `/${token}/`

  const server: Server = createServer((req, res) =>
    serveFile(req, res, { dir, base, indexHtml, bridge }),
  )
  const wss = new WebSocketServer({ noServer: true, maxPayload: MESSAGE_BYTES_MAX })
  let origin = ''
  server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    const from = req.headers.origin
    if (
      path !== `${base}api` ||
      (from !== origin && from !== origin.replace('127.0.0.1', 'localhost'))
    ) {
      socket.write('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n')
      socket.destroy()
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, services))
  })
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => resolveListen())
  })
  const port = (server.address() as AddressInfo).port
  origin = `http://${options.host}:${port}`
  const url = `${origin}${base}`
  log(`web UI on ${url}`)
  return {
    url,
    port,
    token,
    close: () =>
      new Promise<void>((done) => {
        for (const ws of wss.clients) ws.terminate()
        wss.close()
        server.close(() => done())
        server.closeAllConnections()
      }),
  }
}

function onConnection(ws: WebSocket, services: Services): void {
  const open = new Map<number, OpenTopic>()
  const reply = (message: BridgeReply) => {
    if (ws.readyState === ws.OPEN) ws.send(encode(message))
  }
  ws.on('message', (data, isBinary) => {
    let msg: BridgeRequest
    try {
      if (!isBinary) throw new Error('text frame')
      msg = decode(data as Buffer) as BridgeRequest
      if (typeof msg !== 'object' || msg === null || typeof msg.id !== 'number') throw new Error()
    } catch {
      ws.close(1003, 'frames must be msgpack requests')
      return
    }
    const id = msg.id
    const args = 'args' in msg && Array.isArray(msg.args) ? msg.args : []
    switch (msg.t) {
      case 'call':
        void dispatch(services.handlers, msg.channel, args).then((envelope) =>
          reply({ t: 'reply', id, envelope }),
        )
        return
      case 'sub':
        if (open.has(id)) return
        open.set(
          id,
          openTopic(services.topics, msg.topic, args, (message) => {
            if (message.type !== 'event') open.delete(id)
            reply({ t: 'topic', id, message })
          }),
        )
        return
      case 'ack':
        open.get(id)?.ack()
        return
      case 'unsub':
        open.get(id)?.close()
        open.delete(id)
        return
      default:
        ws.close(1003, 'unknown request')
    }
  })
  ws.on('close', () => {
    for (const t of open.values()) t.close()
    open.clear()
  })
}

interface Site {
  dir: string
  /** `/<token>/`: every path starts with it. */
  base: string
  indexHtml: string
  bridge: string
}

function serveFile(req: IncomingMessage, res: ServerResponse, site: Site): void {
  const { dir, base, indexHtml, bridge } = site
  const headers = {
    'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, headers).end()
    return
  }
  let path: string
  try {
    path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname))
  } catch {
    res.writeHead(400, headers).end('bad path')
    return
  }
  if (!path.startsWith(base)) {
    res.writeHead(404, headers).end('not found')
    return
  }
  path = `/${path.slice(base.length)}`
  if (path === '/' || path === '/index.html') {
    res.writeHead(200, { ...headers, 'Content-Type': TYPES['.html']!, 'Cache-Control': 'no-store' })
    res.end(indexHtml)
    return
  }
  if (path === '/raftdesk-bridge.js') {
    res.writeHead(200, { ...headers, 'Content-Type': TYPES['.js']! })
    res.end(bridge)
    return
  }
  const file = join(dir, path)
  if (!file.startsWith(dir + sep) || !existsSync(file) || !statSync(file).isFile()) {
    res.writeHead(404, headers).end('not found')
    return
  }
  res.writeHead(200, {
    ...headers,
    'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
  })
  createReadStream(file).pipe(res)
}

export async function packageVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    version: string
  }
  return pkg.version
}
