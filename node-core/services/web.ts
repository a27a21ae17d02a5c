/**
 * Web mode: the same renderer the desktop app shows, served over HTTP, with the API contract
 * carried over a WebSocket instead of Electron's IPC.
 *
 *   GET /                     the built renderer (out/renderer; built on first use if missing)
 *   GET /raftdesk-bridge.js   defines window.raftdesk over the WebSocket, before the app runs
 *   WS  /api                  { id, channel, args } -> { id, envelope }
 *
 * The renderer does not know which host it runs in: preload defines window.raftdesk in
 * Electron, the bridge script defines the same object here. The WebSocket only accepts
 * connections whose Origin is this server, messages are bounded in size, and every call goes
 * through the same router (argument validation included) as Electron's IPC.
 */
import { CSP } from '../kernel/csp'
import { createReadStream, existsSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, normalize, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { WebSocketServer, type WebSocket } from 'ws'
import { createAppHandlers } from './app'
import { dispatch, type Handlers } from './router'

export interface WebUiOptions {
  host: string
  port: number
  dataDir: string
  /** Directory of the built renderer; default out/renderer of this checkout. */
  rendererDir?: string
  handlers?: Handlers
  log?: (msg: string) => void
}

export interface WebUi {
  url: string
  port: number
  close(): Promise<void>
}

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))
const MESSAGE_BYTES_MAX = 1024 * 1024

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
}

/** Defines window.raftdesk over a WebSocket to /api, with the contract's invoke() shape. */
const BRIDGE_JS = `(() => {
  let socket = null
  let nextId = 1
  const waiting = new Map()
  const queue = []
  function connect() {
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/api'
    socket = new WebSocket(url)
    socket.onopen = () => { while (queue.length) socket.send(queue.shift()) }
    socket.onmessage = (event) => {
      const msg = JSON.parse(event.data)
      const w = waiting.get(msg.id)
      if (w) { waiting.delete(msg.id); w(msg.envelope) }
    }
    socket.onclose = () => {
      for (const w of waiting.values()) {
        w({ ok: false, error: { name: 'UnavailableError', code: 'DISCONNECTED', message: 'connection to raftdesk lost' } })
      }
      waiting.clear()
      setTimeout(connect, 1000)
    }
  }
  connect()
  const bridge = Object.freeze({
    invoke(channel, ...args) {
      return new Promise((resolve) => {
        const id = nextId++
        waiting.set(id, resolve)
        const text = JSON.stringify({ id, channel, args })
        if (socket.readyState === 1) socket.send(text)
        else queue.push(text)
      })
    },
  })
  Object.defineProperty(window, 'raftdesk', { value: bridge, writable: false })
})()
`

export async function ensureRendererBuilt(dir: string, log: (m: string) => void): Promise<void> {
  if (existsSync(join(dir, 'index.html'))) return
  log(`building the web UI into ${dir} (first run)`)
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
  const handlers: Handlers =
    options.handlers ??
    createAppHandlers({
      name: 'raftdesk',
      version: await packageVersion(),
      host: 'web',
      dataDir: options.dataDir,
    })

  const server: Server = createServer((req, res) => serveFile(req, res, dir, indexHtml))
  const wss = new WebSocketServer({ noServer: true, maxPayload: MESSAGE_BYTES_MAX })
  let origin = ''
  server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    const from = req.headers.origin
    if (path !== '/api' || (from !== origin && from !== origin.replace('127.0.0.1', 'localhost'))) {
      socket.write('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n')
      socket.destroy()
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, handlers))
  })
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => resolveListen())
  })
  const port = (server.address() as AddressInfo).port
  origin = `http://${options.host}:${port}`
  const url = `${origin}/`
  log(`web UI on ${url}`)
  return {
    url,
    port,
    close: () =>
      new Promise<void>((done) => {
        for (const ws of wss.clients) ws.terminate()
        wss.close()
        server.close(() => done())
        server.closeAllConnections()
      }),
  }
}

function onConnection(ws: WebSocket, handlers: Handlers): void {
  ws.on('message', (data) => {
    let msg: { id?: unknown; channel?: unknown; args?: unknown }
    try {
      msg = JSON.parse(String(data)) as typeof msg
    } catch {
      ws.close(1003, 'messages must be JSON')
      return
    }
    const id = typeof msg.id === 'number' ? msg.id : 0
    const args = Array.isArray(msg.args) ? msg.args : []
    void dispatch(handlers, msg.channel, args).then((envelope) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ id, envelope }))
    })
  })
}

function serveFile(
  req: IncomingMessage,
  res: ServerResponse,
  dir: string,
  indexHtml: string,
): void {
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
  if (path === '/' || path === '/index.html') {
    res.writeHead(200, { ...headers, 'Content-Type': TYPES['.html']!, 'Cache-Control': 'no-store' })
    res.end(indexHtml)
    return
  }
  if (path === '/raftdesk-bridge.js') {
    res.writeHead(200, { ...headers, 'Content-Type': TYPES['.js']! })
    res.end(BRIDGE_JS)
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

async function packageVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    version: string
  }
  return pkg.version
}
