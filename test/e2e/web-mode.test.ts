// Web mode: the renderer served by `raftdesk serve`'s web UI, the API contract over a WebSocket
// through the bridge script, in Debian's Chromium. The same page as the desktop app, no
// special case for its host.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { decode, encode } from '@msgpack/msgpack'
import { WebSocket } from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CSP } from '../../node-core/kernel/csp'
import { startWebUi, type WebUi } from '../../node-core/services/web'
import { launchChromium, shouldRunBrowserTests } from '../helpers/chromium'

const root = join(import.meta.dirname, '../..')
const version = (
  JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }
).version

describe.runIf(shouldRunBrowserTests())('web mode', () => {
  let ui: WebUi
  let browser: Browser
  let rendererDir: string

  beforeAll(async () => {
    rendererDir = mkdtempSync(join(tmpdir(), 'raftdesk-web-'))
    ui = await startWebUi({
      host: '127.0.0.1',
      port: 0,
      dataDir: '/srv/raftdesk-data',
      rendererDir,
    })
    browser = await launchChromium()
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await ui?.close()
    rmSync(rendererDir, { recursive: true, force: true })
  })

  it('shows app/info served over the WebSocket, under the strict CSP, without errors', async () => {
    const page = await browser.newPage()
    const problems: string[] = []
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()))
    page.on('pageerror', (e) => problems.push(e.message))
    const response = await page.goto(ui.url)
    expect(response?.headers()['content-security-policy']).toBe(CSP)
    await page.locator('[data-test=nav-about]').click()
    await expect.poll(() => page.textContent('[data-test=version]')).toBe(version)
    expect(await page.textContent('[data-test=platform]')).toBe(`${process.platform} (web)`)
    expect(await page.textContent('[data-test=data-dir]')).toBe('/srv/raftdesk-data')
    expect(problems).toEqual([])
    await page.screenshot({ path: join(rendererDir, 'web-mode.png') })
  })

  it('needs the session token in every path, the page and the API alike', async () => {
    const origin = ui.url.slice(0, ui.url.indexOf(ui.token) - 1)
    expect(ui.url).toBe(`${origin}/${ui.token}/`)
    for (const path of ['/', '/index.html', '/raftdesk-bridge.js', '/wrong-token/']) {
      expect((await fetch(`${origin}${path}`)).status, path).toBe(404)
    }
    expect((await fetch(`${ui.url}raftdesk-bridge.js`)).status).toBe(200)
    const noToken = new WebSocket(`${origin.replace('http', 'ws')}/api`, {
      headers: { Origin: origin },
    })
    const refused = await new Promise<string>((resolve) => {
      noToken.on('unexpected-response', (_req, res) => resolve(String(res.statusCode)))
      noToken.on('open', () => resolve('open'))
      noToken.on('error', () => resolve('error'))
    })
    expect(refused).toBe('403')
  })

  it('refuses WebSocket connections from other origins and bad calls', async () => {
    const origin = ui.url.slice(0, ui.url.indexOf(ui.token) - 1)
    const api = `${ui.url.replace('http', 'ws')}api`
    const foreign = new WebSocket(api, { headers: { Origin: 'http://evil.example' } })
    const refused = await new Promise<string>((resolve) => {
      foreign.on('unexpected-response', (_req, res) => resolve(String(res.statusCode)))
      foreign.on('open', () => resolve('open'))
      foreign.on('error', () => resolve('error'))
    })
    expect(refused).toBe('403')

    const own = new WebSocket(api, { headers: { Origin: origin } })
    await new Promise((r) => own.on('open', r))
    const reply = (request: unknown) =>
      new Promise<unknown>((resolve) => {
        own.once('message', (d) => resolve(decode(d as Buffer)))
        own.send(encode(request))
      })
    expect(await reply({ t: 'call', id: 7, channel: 'app/nuke', args: [] })).toEqual({
      t: 'reply',
      id: 7,
      envelope: {
        ok: false,
        error: {
          name: 'ValidationError',
          code: 'UNKNOWN_CHANNEL',
          message: 'unknown channel "app/nuke"',
        },
      },
    })
    expect(await reply({ t: 'call', id: 8, channel: 'app/info', args: [1] })).toMatchObject({
      id: 8,
      envelope: { ok: false, error: { code: 'BAD_ARGUMENT' } },
    })
    expect(await reply({ t: 'sub', id: 9, topic: 'kv/watch', args: [{}] })).toMatchObject({
      t: 'topic',
      id: 9,
      message: { type: 'error', error: { code: 'BAD_ARGUMENT' } },
    })
    // A text frame is not a request: the server closes the socket.
    const closed = new Promise<number>((r) => own.on('close', (code) => r(code)))
    own.send(JSON.stringify({ t: 'call', id: 10, channel: 'app/info', args: [] }))
    expect(await closed).toBe(1003)
  })
})
