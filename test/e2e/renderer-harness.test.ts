// The browser harness works end to end: the production renderer build, served over HTTP, loads in
// Debian's Chromium under its own strict CSP, calls app/info through window.raftdesk and shows
// the answer. The real web mode (the services over a WebSocket) comes with the desktop-app issue;
// here the bridge is a stand-in injected before the page runs.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import vue from '@vitejs/plugin-vue'
import type { Browser } from 'playwright-core'
import { build } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium, shouldRunBrowserTests } from '../helpers/chromium'
import { serveStatic } from '../helpers/static-server'

const root = join(import.meta.dirname, '../..')

describe.runIf(shouldRunBrowserTests())('renderer in Chromium', () => {
  let outDir: string
  let server: Awaited<ReturnType<typeof serveStatic>>
  let browser: Browser

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'raftdesk-renderer-'))
    await build({
      root: join(root, 'renderer'),
      plugins: [vue()],
      logLevel: 'warn',
      configFile: false,
      base: './',
      build: { outDir, emptyOutDir: true },
    })
    server = await serveStatic(outDir)
    browser = await launchChromium()
  })

  afterAll(async () => {
    await browser?.close()
    await server?.close()
    if (outDir) rmSync(outDir, { recursive: true, force: true })
  })

  it('shows app/info from the bridge, with no console errors and no CSP violations', async () => {
    const page = await browser.newPage()
    const problems: string[] = []
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(msg.text())
    })
    page.on('pageerror', (err) => problems.push(err.message))
    await page.addInitScript(() => {
      const w = window as unknown as { raftdesk: unknown; calls: string[] }
      w.calls = []
      w.raftdesk = {
        invoke: async (channel: string) => {
          w.calls.push(channel)
          if (channel !== 'app/info') {
            return {
              ok: false,
              error: { name: 'NotFoundError', code: 'NO_CONNECTION', message: 'no cluster here' },
            }
          }
          return {
            ok: true,
            value: {
              name: 'raftdesk',
              version: '0.0.0-browser',
              platform: 'linux',
              host: 'web',
              dataDir: '/data/raftdesk',
              versions: { node: '20' },
            },
          }
        },
        subscribe: () => () => {},
      }
      localStorage.setItem('raftdesk.view', 'about')
    })
    await page.goto(server.url)
    await expect.poll(() => page.textContent('[data-test=version]')).toBe('0.0.0-browser')
    expect(await page.textContent('[data-test=data-dir]')).toBe('/data/raftdesk')
    expect(await page.evaluate(() => (window as unknown as { calls: string[] }).calls)).toContain(
      'app/info',
    )
    // The scoped styles of the build load under the CSP: the panel has its border.
    const border = await page.$eval('.panel', (el) => getComputedStyle(el).borderTopStyle)
    expect(border).toBe('solid')
    expect(problems).toEqual([])
    await page.screenshot({ path: join(outDir, 'about.png') })
  })
})
