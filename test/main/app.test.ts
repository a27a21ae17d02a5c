// Main's wiring, run against a mocked `electron`: the window's security settings, the CSP, the
// refusal of navigation and new windows, and the IPC router's sender and argument checks.
import { join } from 'node:path'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createElectronMock, FakeBrowserWindow, FakeWebContents } from './electron-mock'

const mock = createElectronMock()
vi.mock('electron', () => ({ ...mock.electron, default: mock.electron }))

const { startApp } = await import('../../main/app')

async function started() {
  mock.reset()
  await startApp()
  const win = FakeBrowserWindow.instances[0]!
  return { win, appUrl: win.loadedUrl! }
}

const startedFresh = started

/** An IPC event as Electron builds it for a message from `contents`' frame at `url`. */
function eventFrom(contents: FakeWebContents, url: string, frame?: object) {
  const senderFrame = frame ?? contents.mainFrame
  ;(senderFrame as { url: string }).url = url
  return { sender: contents, senderFrame }
}

describe('main window', () => {
  beforeEach(() => vi.unstubAllEnvs())

  it('opens one window with isolation, sandbox and no Node integration', async () => {
    const { win } = await started()
    expect(FakeBrowserWindow.instances).toHaveLength(1)
    const prefs = win.options['webPreferences'] as Record<string, unknown>
    expect(prefs).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      webviewTag: false,
      allowRunningInsecureContent: false,
    })
    expect(String(prefs['preload'])).toMatch(/preload[/\\]index\.cjs$/)
  })

  it('loads the built renderer from a file URL', async () => {
    const { appUrl } = await started()
    expect(appUrl).toMatch(/^file:\/\/.*renderer\/index\.html$/)
  })

  it('sets a strict Content-Security-Policy on every response', async () => {
    await started()
    const listener = mock.headers()!
    let answered: { responseHeaders: Record<string, string[]> } | undefined
    listener({ responseHeaders: { 'X-Other': ['1'] } }, (r: typeof answered) => (answered = r))
    const csp = answered!.responseHeaders['Content-Security-Policy']![0]!
    expect(answered!.responseHeaders['X-Other']).toEqual(['1'])
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("object-src 'none'")
    expect(csp).not.toContain('unsafe-inline')
    expect(csp).not.toContain('unsafe-eval')
  })

  it('relaxes the CSP only for the dev server', async () => {
    vi.stubEnv('ELECTRON_RENDERER_URL', 'http://localhost:5173')
    await started()
    let answered: { responseHeaders: Record<string, string[]> } | undefined
    mock.headers()!({ responseHeaders: {} }, (r: typeof answered) => (answered = r))
    const csp = answered!.responseHeaders['Content-Security-Policy']![0]!
    expect(csp).toContain("style-src 'self' 'unsafe-inline'")
    expect(csp).toContain("connect-src 'self' ws://localhost:5173")
    expect(csp).toMatch(/script-src 'self';/)
  })

  it('refuses every permission request but notifications for the app page', async () => {
    const { appUrl } = await started()
    const asked = (contents: unknown, permission: string) => {
      const callback = vi.fn()
      mock.permissions()!(contents, permission, callback)
      return callback.mock.calls[0]![0] as boolean
    }
    const page = (url: string) => ({ getURL: () => url })
    expect(asked(page(appUrl), 'media')).toBe(false)
    expect(asked(page(appUrl), 'geolocation')).toBe(false)
    expect(asked(page(appUrl), 'notifications')).toBe(true)
    expect(asked(page('https://evil.example/'), 'notifications')).toBe(false)
    expect(asked(null, 'notifications')).toBe(false)
  })

  it('refuses navigation and redirects away from the app, allows the app itself', async () => {
    const { win, appUrl } = await started()
    expect(win.webContents.fire('will-navigate', 'https://evil.example/')).toBe(true)
    expect(win.webContents.fire('will-navigate', 'file:///etc/passwd')).toBe(true)
    expect(win.webContents.fire('will-redirect', 'https://evil.example/')).toBe(true)
    expect(win.webContents.fire('will-navigate', `${appUrl}#/keys`)).toBe(false)
  })

  it('refuses new windows and webviews', async () => {
    const { win } = await started()
    expect(win.webContents.windowOpenHandler!({ url: 'https://example.com' })).toEqual({
      action: 'deny',
    })
    expect(win.webContents.fire('will-attach-webview')).toBe(true)
  })

  it('hardens every web contents created later, not just the first window', async () => {
    await started()
    const other = new FakeWebContents()
    for (const listener of mock.appListeners.get('web-contents-created') ?? []) {
      listener({}, other)
    }
    expect(other.fire('will-navigate', 'https://evil.example/')).toBe(true)
    expect(other.windowOpenHandler!({ url: 'https://example.com' })).toEqual({ action: 'deny' })
  })
})

describe('IPC router', () => {
  it('answers app/info end to end for the app page', async () => {
    const { win, appUrl } = await started()
    const handler = mock.ipcHandlers.get('app/info')!
    const answer = await handler(eventFrom(win.webContents, appUrl))
    expect(answer).toEqual({
      ok: true,
      value: expect.objectContaining({
        name: 'raftdesk',
        version: '9.9.9-test',
        host: 'electron',
        dataDir: join(mock.home, 'userData'),
        platform: process.platform,
      }),
    })
  })

  it('rejects a message from a page that is not the app', async () => {
    const { win } = await started()
    const handler = mock.ipcHandlers.get('app/info')!
    const answer = await handler(eventFrom(win.webContents, 'https://evil.example/'))
    expect(answer).toEqual({
      ok: false,
      error: {
        name: 'ForbiddenError',
        code: 'UNTRUSTED_SENDER',
        message: expect.stringContaining('https://evil.example/'),
      },
    })
  })

  it('rejects a message from a subframe even at the app URL', async () => {
    const { win, appUrl } = await started()
    const handler = mock.ipcHandlers.get('app/info')!
    const answer = (await handler(eventFrom(win.webContents, appUrl, { url: '' }))) as {
      ok: boolean
      error?: { code: string }
    }
    expect(answer.ok).toBe(false)
    expect(answer.error?.code).toBe('UNTRUSTED_SENDER')
  })

  it('rejects a message without a sender frame', async () => {
    const { win } = await started()
    const handler = mock.ipcHandlers.get('app/info')!
    const answer = (await handler({ sender: win.webContents, senderFrame: null })) as {
      ok: boolean
    }
    expect(answer.ok).toBe(false)
  })

  it('rejects bad arguments with a validation error and never runs the handler', async () => {
    const { win, appUrl } = await started()
    const handler = mock.ipcHandlers.get('app/info')!
    const answer = await handler(eventFrom(win.webContents, appUrl), { surprise: true })
    expect(answer).toEqual({
      ok: false,
      error: {
        name: 'ValidationError',
        code: 'BAD_ARGUMENT',
        message: expect.stringContaining('app/info: invalid arguments'),
      },
    })
  })

  it('registers a handler for every channel of the contract and nothing else', async () => {
    await started()
    const { CHANNELS } = await import('../../contract')
    expect([...mock.ipcHandlers.keys()].sort()).toEqual([...CHANNELS].sort())
    expect([...mock.ipcListeners.keys()].sort()).toEqual(['topic/ack', 'topic/close', 'topic/open'])
  })
})

describe('window state', () => {
  it('opens where it was last closed, maximized if it was, and remembers it on close', async () => {
    const { mkdtempSync, readFileSync, writeFileSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const dir = mkdtempSync(join(tmpdir(), 'raftdesk-win-'))
    const file = join(dir, 'window-state.json')
    writeFileSync(file, JSON.stringify({ x: 50, y: 60, width: 1000, height: 700, maximized: true }))
    mock.reset()
    await startApp({ stateDir: dir })
    const win = FakeBrowserWindow.instances[0]!
    expect(win.options).toMatchObject({ x: 50, y: 60, width: 1000, height: 700 })
    win.emit('ready-to-show')
    expect(win.isMaximized()).toBe(true)
    win.bounds = { x: 5, y: 6, width: 1100, height: 750 }
    win.maximized = false
    win.emit('close')
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
      x: 5,
      y: 6,
      width: 1100,
      height: 750,
      maximized: false,
    })
    // An absurd state is ignored.
    writeFileSync(file, JSON.stringify({ width: 5, height: 1e9 }))
    mock.reset()
    await startApp({ stateDir: dir })
    expect(FakeBrowserWindow.instances[0]!.options).toMatchObject({ width: 1280, height: 820 })
  })
})

describe('IPC topics', () => {
  const flush = () => new Promise((r) => setTimeout(r, 0))

  it('answers a topic opened by a page that is not the app with an error, not a stream', async () => {
    const { win } = await started()
    const open = mock.ipcListeners.get('topic/open')!
    open(eventFrom(win.webContents, 'https://evil.example/'), 1, 'kv/watch', [{}])
    await flush()
    expect(win.webContents.sent).toEqual([
      [
        'topic/message',
        1,
        { type: 'error', error: expect.objectContaining({ code: 'UNTRUSTED_SENDER' }) },
      ],
    ])
  })

  it('refuses an unknown topic and bad arguments through the shared schemas', async () => {
    const { win, appUrl } = await started()
    const open = mock.ipcListeners.get('topic/open')!
    open(eventFrom(win.webContents, appUrl), 1, 'fs/watch', [])
    open(eventFrom(win.webContents, appUrl), 2, 'kv/watch', [{ conn: 'local', key: 'not bytes' }])
    await flush()
    expect(win.webContents.sent).toEqual([
      [
        'topic/message',
        1,
        { type: 'error', error: expect.objectContaining({ code: 'UNKNOWN_TOPIC' }) },
      ],
      [
        'topic/message',
        2,
        { type: 'error', error: expect.objectContaining({ code: 'BAD_ARGUMENT' }) },
      ],
    ])
  })

  it('ends a watch on a connection that does not exist with NO_CONNECTION', async () => {
    const { win, appUrl } = await started()
    const open = mock.ipcListeners.get('topic/open')!
    const args = [{ conn: 'nowhere', key: new Uint8Array([97]), prefix: true }]
    open(eventFrom(win.webContents, appUrl), 3, 'kv/watch', args)
    await flush()
    expect(win.webContents.sent).toEqual([
      [
        'topic/message',
        3,
        { type: 'error', error: expect.objectContaining({ code: 'NO_CONNECTION' }) },
      ],
    ])
  })
})

describe('startup status', () => {
  const status = async (win: FakeBrowserWindow, appUrl: string) =>
    (await mock.ipcHandlers.get('app/startup')!(eventFrom(win.webContents, appUrl))) as {
      value: { state: string; error?: string; nodes: unknown[] }
    }

  it('says why the embedded cluster failed when its nodes die at start', async () => {
    const { freePortBlock } = await import('../helpers/ports')
    const { mkdtempSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    mock.reset()
    await startApp({
      clientPort: await freePortBlock(3),
      clusterDir: mkdtempSync(join(tmpdir(), 'raftdesk-app-fail-')),
    })
    const win = FakeBrowserWindow.instances[0]!
    const appUrl = win.loadedUrl!
    await vi.waitFor(async () => expect((await status(win, appUrl)).value.state).toBe('failed'))
    expect((await status(win, appUrl)).value.error).toMatch(/exited .* before it started/)
  })

  it('names the port another program holds instead of starting nodes that cannot listen', async () => {
    const { createServer } = await import('node:net')
    const { freePortBlock } = await import('../helpers/ports')
    const port = await freePortBlock(3)
    const squatter = createServer()
    await new Promise<void>((r) => squatter.listen(port + 100, '127.0.0.1', r))
    try {
      mock.reset()
      await startApp({ clientPort: port })
      const win = FakeBrowserWindow.instances[0]!
      await vi.waitFor(async () =>
        expect((await status(win, win.loadedUrl!)).value.state).toBe('failed'),
      )
      expect((await status(win, win.loadedUrl!)).value.error).toMatch(
        new RegExp(`^port ${port + 100} on 127\\.0\\.0\\.1 is in use by another program`),
      )
      expect(mock.forks).toHaveLength(0)
    } finally {
      squatter.close()
    }
  })
})

describe('menu bar', () => {
  type Item = {
    label?: string
    accelerator?: string
    role?: string
    click?: () => void
    submenu?: Item[]
  }
  const flush = () => new Promise((r) => setTimeout(r, 0))

  it('sets a menu whose items carry accelerators and reach the window as app/menu events', async () => {
    const { win, appUrl } = await started()
    const template = mock.menu()!.template as Item[]
    const items = template.flatMap((m) => m.submenu ?? [])
    const byLabel = (label: string) => items.find((i) => i.label === label)!
    expect(byLabel('New Key…').accelerator).toBe('CmdOrCtrl+N')
    expect(byLabel('Command Palette…').accelerator).toBe('CmdOrCtrl+K')
    expect(byLabel('Access').accelerator).toBe('CmdOrCtrl+4')
    expect(template.some((m) => m.role === 'editMenu')).toBe(true)

    const open = mock.ipcListeners.get('topic/open')!
    const ack = mock.ipcListeners.get('topic/ack')!
    open(eventFrom(win.webContents, appUrl), 9, 'app/menu', [])
    await flush()
    byLabel('New Key…').click!()
    expect(win.webContents.sent).toEqual([
      ['topic/message', 9, { type: 'event', event: 'new-key' }],
    ])
    ack(eventFrom(win.webContents, appUrl), 9)
    byLabel('Cluster').click!()
    expect(win.webContents.sent.at(-1)).toEqual([
      'topic/message',
      9,
      { type: 'event', event: 'view:cluster' },
    ])
  })

  it('opens raftdesk:// links: registered with the system, each reaching the window as app/links', async () => {
    const link = 'raftdesk://join?peer=10.0.0.5:2380&token=t&cluster=c1a'
    // A link on this launch's command line waits for the window.
    const argv = process.argv
    process.argv = [...argv, link]
    let started: Awaited<ReturnType<typeof startedFresh>>
    try {
      started = await startedFresh()
    } finally {
      process.argv = argv
    }
    const { win, appUrl } = started
    expect(mock.electron.app.setAsDefaultProtocolClient).toHaveBeenCalledWith('raftdesk')
    const open = mock.ipcListeners.get('topic/open')!
    const ack = mock.ipcListeners.get('topic/ack')!
    open(eventFrom(win.webContents, appUrl), 4, 'app/links', [])
    await flush()
    expect(win.webContents.sent).toEqual([['topic/message', 4, { type: 'event', event: link }]])
    ack(eventFrom(win.webContents, appUrl), 4)
    // A second launch with a link hands it over (and other arguments are not links).
    const second = `${link}&x=2`
    for (const l of mock.appListeners.get('second-instance')!) {
      l({}, ['/usr/bin/raftdesk', '--no-sandbox', second])
    }
    expect(win.webContents.sent.at(-1)).toEqual([
      'topic/message',
      4,
      { type: 'event', event: second },
    ])
    ack(eventFrom(win.webContents, appUrl), 4)
    expect(win.focused).toBe(1)
    // macOS's open-url.
    const prevented = { done: false }
    for (const l of mock.appListeners.get('open-url')!) {
      l({ preventDefault: () => (prevented.done = true) }, `${link}&x=3`)
    }
    expect(prevented.done).toBe(true)
    expect(win.webContents.sent.at(-1)).toEqual([
      'topic/message',
      4,
      { type: 'event', event: `${link}&x=3` },
    ])
  })

  it('gives macOS its app menu and closes the window from File instead of quitting', async () => {
    const { EventEmitter } = await import('node:events')
    const { menuTemplate } = await import('../../main/menu')
    const mac = menuTemplate(new EventEmitter(), 'darwin') as Item[]
    expect(mac[0]!.role).toBe('appMenu')
    expect(mac[1]!.submenu!.at(-1)!.role).toBe('close')
    const linux = menuTemplate(new EventEmitter(), 'linux') as Item[]
    expect(linux[0]!.label).toBe('File')
    expect(linux[0]!.submenu!.at(-1)!.role).toBe('quit')
  })
})

describe('renderer page CSP', () => {
  it('index.html carries the same policy main sends (frame-ancestors is header-only)', async () => {
    const { readFileSync } = await import('node:fs')
    const { CSP_PRODUCTION } = await import('../../main/security')
    const { CSP } = await import('../../node-core/kernel/csp')
    expect(CSP_PRODUCTION).toBe(CSP)
    const html = readFileSync(new URL('../../renderer/index.html', import.meta.url), 'utf8')
    const meta = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1]
    const withoutHeaderOnly = CSP_PRODUCTION.split('; ')
      .filter((d) => !d.startsWith('frame-ancestors'))
      .sort()
    expect(meta?.split('; ').sort()).toEqual(withoutHeaderOnly)
  })
})
