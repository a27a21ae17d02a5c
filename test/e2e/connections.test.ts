// The same window on a real etcd 3.4: a connection added in the window (tried first, then
// saved to a 0600 profile file), keys put with etcdctl on etcd shown in the tree, an edit read
// back by etcdctl from etcd; a read-only connection refuses a delete from the window and from
// a call sent straight over the WebSocket.
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decode, encode } from '@msgpack/msgpack'
import type { Browser, Page } from 'playwright-core'
import { WebSocket } from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Connections, FILE_BOX } from '../../node-core/services/connections'
import { createServices } from '../../node-core/services/index'
import { startWebUi, type WebUi } from '../../node-core/services/web'
import { launchChromium, shouldRunBrowserTests } from '../helpers/chromium'
import { startEtcdCluster, type EtcdCluster } from '../helpers/etcd'
import { etcdctl, shouldRunEtcdTests } from '../node-core/api/harness'

const SHOTS = join(import.meta.dirname, '../../test-results/screenshots')

describe.runIf(shouldRunBrowserTests() && shouldRunEtcdTests())(
  'connections to a real etcd',
  () => {
    let etcd: EtcdCluster
    let ui: WebUi
    let browser: Browser
    let page: Page
    let dir: string
    let endpoint: string
    let connections: Connections
    const problems: string[] = []
    const ctl = async (...args: string[]) => {
      const r = await etcdctl(endpoint, args)
      if (r.code !== 0) throw new Error(`etcdctl ${args.join(' ')}: ${r.stderr}`)
      return r.stdout
    }
    const row = (name: string) =>
      page.locator('[data-test=key-tree] [role=treeitem]', { hasText: name }).first()

    async function addConnection(name: string, readOnly: boolean) {
      await page.locator('[data-test=manage-connections]').click()
      await page.locator('[data-test=conn-name]').fill(name)
      await page.locator('[data-test=conn-endpoints]').fill(endpoint)
      if (readOnly) await page.locator('[data-test=conn-readonly]').check()
      await page.locator('[data-test=conn-save]').click()
      await expect
        .poll(() => page.locator('[data-test=connections-dialog]').isVisible())
        .toBe(false)
    }

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'raftdesk-conn-'))
      etcd = await startEtcdCluster({ dir: join(dir, 'etcd'), nodes: 1 })
      endpoint = [...etcd.endpoints.values()][0]!
      await etcd.leader()
      await ctl('put', 'etcd/app/name', 'real etcd')
      await ctl('put', 'etcd/app/port', '2379')
      connections = new Connections({ file: join(dir, 'connections.json'), box: FILE_BOX })
      ui = await startWebUi({
        host: '127.0.0.1',
        port: 0,
        dataDir: dir,
        rendererDir: join(dir, 'renderer'),
        services: createServices(
          { name: 'raftdesk', version: '0.0.0-test', host: 'web', dataDir: dir },
          connections,
        ),
      })
      browser = await launchChromium()
      page = await browser.newPage({ viewport: { width: 1280, height: 760 } })
      page.on('pageerror', (e) => problems.push(e.message))
      await page.goto(ui.url)
    }, 120_000)

    afterAll(async () => {
      await browser?.close()
      await ui?.close()
      connections?.closeAll()
      await etcd?.stop()
      if (dir) rmSync(dir, { recursive: true, force: true })
    })

    it('tries a connection to etcd, saves it, and browses and edits its keys', async () => {
      await page.locator('[data-test=manage-connections]').click()
      await page.locator('[data-test=conn-name]').fill('etcd 3.4')
      await page.locator('[data-test=conn-endpoints]').fill(`http://${endpoint}`)
      await page.locator('[data-test=conn-test]').click()
      await expect
        .poll(() => page.locator('[data-test=conn-check]').innerText())
        .toContain('version 3.4.23, members: 1')
      await page.screenshot({ path: join(SHOTS, 'connections-dark.png') })
      await page.locator('[data-test=conn-save]').click()
      await expect
        .poll(() => page.locator('[data-test=connections-dialog]').isVisible())
        .toBe(false)
      const saved = statSync(join(dir, 'connections.json'))
      expect(saved.mode & 0o777).toBe(0o600)
      expect(await readFile(join(dir, 'connections.json'), 'utf8')).toContain('etcd 3.4')

      await row('etcd/').click()
      await row('app/').click()
      await row('name').click()
      await expect.poll(() => page.locator('[data-test=value-text]').innerText()).toBe('real etcd')
      await page.locator('[data-test=edit]').click()
      await page.locator('[data-test=editor]').fill('edited in raftdesk')
      await page.locator('[data-test=save]').click()
      await expect
        .poll(async () => (await ctl('get', 'etcd/app/name', '--print-value-only')).trim())
        .toBe('edited in raftdesk')
    })

    it('refuses a delete on a read-only connection, from the window and over the WebSocket', async () => {
      await addConnection('etcd read-only', true)
      expect(await page.locator('[data-test=connection-select]').inputValue()).not.toBe('')
      await row('etcd/').click()
      await row('app/').click()
      await row('port').click()
      page.once('dialog', (d) => void d.accept())
      await page.locator('[data-test=delete]').click()
      await expect
        .poll(() => page.locator('[data-test=detail-message]').innerText())
        .toContain('read-only')
      expect((await ctl('get', 'etcd/app/port', '--print-value-only')).trim()).toBe('2379')

      const ro = connections.list().find((c) => c.name === 'etcd read-only')!
      const origin = ui.url.slice(0, ui.url.indexOf(ui.token) - 1)
      const ws = new WebSocket(`${ui.url.replace('http', 'ws')}api`, {
        headers: { Origin: origin },
      })
      await new Promise((r) => ws.on('open', r))
      const reply = await new Promise<unknown>((resolve) => {
        ws.once('message', (d) => resolve(decode(d as Buffer)))
        ws.send(
          encode({
            t: 'call',
            id: 1,
            channel: 'kv/delete',
            args: [{ conn: ro.id, key: new TextEncoder().encode('etcd/'), prefix: true }],
          }),
        )
      })
      ws.close()
      expect(reply).toMatchObject({ envelope: { ok: false, error: { code: 'READ_ONLY' } } })
      expect(
        (await ctl('get', 'etcd/', '--prefix', '--keys-only')).trim().split(/\s+/),
      ).toHaveLength(2)
      expect(problems).toEqual([])
    })
  },
)
