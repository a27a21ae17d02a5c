// The key browser end to end: a real 3-node raftdesk cluster, `raftdesk serve`'s web UI with
// the same services, Debian's Chromium. Keys put with etcdctl appear in the tree (live, by the
// watch); an edit in the window is read back by etcdctl; an edit that raced a change made
// with etcdctl is caught and shown, not overwritten. Screenshots of both themes land in
// test-results/screenshots (the README's comes from there).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Connections } from '../../node-core/services/connections'
import { createServices } from '../../node-core/services/index'
import { startWebUi, type WebUi } from '../../node-core/services/web'
import { launchChromium, shouldRunBrowserTests } from '../helpers/chromium'
import { startTestCluster, type TestCluster } from '../helpers/cluster'
import { etcdctl } from '../node-core/api/harness'

const SHOTS = join(import.meta.dirname, '../../test-results/screenshots')

describe.runIf(shouldRunBrowserTests())('key browser', () => {
  let tc: TestCluster
  let ui: WebUi
  let browser: Browser
  let page: Page
  let rendererDir: string
  let endpoint: string
  const connections = new Connections()
  const problems: string[] = []

  const ctl = async (...args: string[]) => {
    const r = await etcdctl(endpoint, args)
    if (r.code !== 0) throw new Error(`etcdctl ${args.join(' ')}: ${r.stderr}`)
    return r.stdout
  }
  const treeText = () => page.locator('[data-test=key-tree]').innerText()
  /** Opens a key by its path through the command palette, and waits until it shows. */
  async function openKey(path: string): Promise<void> {
    await page.keyboard.press('Control+k')
    await page.locator('[data-test=palette-query]').fill(path)
    await page.keyboard.press('Enter')
    await expect.poll(() => page.locator('[data-test=detail-key]').innerText()).toBe(path)
  }
  const row = (name: string) =>
    page.locator('[data-test=key-tree] [role=treeitem]', { hasText: name }).first()

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true })
    tc = await startTestCluster()
    await tc.cluster.waitForLeader()
    endpoint = [...tc.endpoints.values()][0]!
    for (const [k, v] of [
      ['config/app/feature-flags', '{"darkMode":true,"beta":["search","history"],"limit":25}'],
      ['config/app/timeout', '30s'],
      ['config/db/primary', 'postgres://db-1.internal:5432/app'],
      ['services/api/instances/10.0.0.4', '{"port":8080,"healthy":true}'],
      ['services/api/instances/10.0.0.5', '{"port":8080,"healthy":false}'],
      ['services/web/version', 'v2.14.1'],
      ['locks/migrations', 'held by deploy-7f9c'],
      ['readme', 'keys put with etcdctl appear here'],
    ]) {
      await ctl('put', k!, v!)
    }
    rendererDir = mkdtempSync(join(tmpdir(), 'raftdesk-web-'))
    connections.add({ id: 'local', name: 'local cluster', endpoints: [...tc.endpoints.values()] })
    ui = await startWebUi({
      host: '127.0.0.1',
      port: 0,
      dataDir: tc.dataDir,
      rendererDir,
      services: createServices(
        { name: 'raftdesk', version: '0.0.0-test', host: 'web', dataDir: tc.dataDir },
        connections,
      ),
    })
    browser = await launchChromium()
    const context = await browser.newContext({
      viewport: { width: 1280, height: 760 },
      colorScheme: 'dark',
    })
    page = await context.newPage()
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()))
    page.on('pageerror', (e) => problems.push(e.message))
    await page.goto(ui.url)
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await ui?.close()
    connections.closeAll()
    await tc?.dispose()
    if (rendererDir) rmSync(rendererDir, { recursive: true, force: true })
  })

  it('shows the keys etcdctl put as a tree of folders, one level at a time', async () => {
    await expect.poll(treeText).toContain('services/')
    const top = (await treeText())
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
    expect(top).toEqual(expect.arrayContaining(['config/', 'locks/', 'readme', 'services/']))
    expect(await treeText()).not.toContain('feature-flags')
    await row('config/').click()
    await row('app/').click()
    await expect.poll(treeText).toContain('feature-flags')
    await row('feature-flags').click()
    await expect
      .poll(() => page.locator('[data-test=detail-key]').innerText())
      .toBe('config/app/feature-flags')
    // JSON is detected and shown indented.
    await expect
      .poll(() => page.locator('[data-test=value-text]').innerText())
      .toContain('"darkMode": true')
    expect(await page.locator('[data-test=format-json]').getAttribute('aria-selected')).toBe('true')
    await expect.poll(() => page.locator('[data-test=connection]').innerText()).toContain('leader')
    await page.screenshot({ path: join(SHOTS, 'key-browser-dark.png') })
  })

  it('shows a key put with etcdctl while the window is open, without a reload', async () => {
    await ctl('put', 'config/app/retries', '5')
    await expect.poll(treeText, { timeout: 10_000 }).toContain('retries')
  })

  it('saves an edit that etcdctl reads back', async () => {
    await row('timeout').click()
    await expect
      .poll(() => page.locator('[data-test=detail-key]').innerText())
      .toBe('config/app/timeout')
    await page.locator('[data-test=edit]').click()
    await page.locator('[data-test=editor]').fill('45s')
    await page.locator('[data-test=save]').click()
    await expect
      .poll(() => page.locator('[data-test=detail-message]').innerText())
      .toContain('Saved')
    expect((await ctl('get', 'config/app/timeout', '--print-value-only')).trim()).toBe('45s')
    expect(await page.locator('[data-test=detail-version]').innerText()).toBe('2')
  })

  it('edits JSON in CodeMirror: highlighted, checked as you type, Esc leaves it unsaved', async () => {
    await openKey('config/app/feature-flags')
    const before = await ctl('get', 'config/app/feature-flags', '--print-value-only')
    await page.locator('[data-test=edit]').click()
    const editor = page.locator('[data-test=editor]')
    await expect.poll(() => editor.innerText()).toContain('"darkMode": true')
    // Highlighted by the JSON grammar: property names and values in their own spans.
    expect(await page.locator('.cm-line span').count()).toBeGreaterThan(4)
    await editor.press('End')
    await page.keyboard.type(' oops')
    await expect
      .poll(() => page.locator('[data-test=key-detail] footer').innerText())
      .toContain('Not valid JSON')
    await expect.poll(() => page.locator('.cm-lint-marker-error').count()).toBeGreaterThan(0)
    await page.screenshot({ path: join(SHOTS, 'editor-dark.png') })
    await page.keyboard.press('Escape')
    await expect.poll(() => editor.count()).toBe(0)
    expect(await ctl('get', 'config/app/feature-flags', '--print-value-only')).toBe(before)
    await row('timeout').click()
  })

  it('catches an edit that raced a change made with etcdctl, and overwrites only when asked', async () => {
    await page.locator('[data-test=edit]').click()
    await page.locator('[data-test=editor]').fill('60s')
    await ctl('put', 'config/app/timeout', '90s') // someone else, meanwhile
    await page.locator('[data-test=save]').click()
    const dialog = page.locator('[data-test=conflict-dialog]')
    await expect.poll(() => dialog.isVisible()).toBe(true)
    expect(await page.locator('[data-test=conflict-theirs]').innerText()).toBe('90s')
    expect(await page.locator('[data-test=conflict-mine]').innerText()).toBe('60s')
    expect((await ctl('get', 'config/app/timeout', '--print-value-only')).trim()).toBe('90s')
    await page.screenshot({ path: join(SHOTS, 'conflict-dark.png') })
    await page.locator('[data-test=conflict-overwrite]').click()
    await expect.poll(() => dialog.isVisible()).toBe(false)
    await expect
      .poll(async () => (await ctl('get', 'config/app/timeout', '--print-value-only')).trim())
      .toBe('60s')
  })

  it("shows a key's versions with a diff, and restores an old one", async () => {
    // config/app/timeout went 30s -> 45s -> 90s (etcdctl) -> 60s in the tests above.
    await page.locator('[data-test=tab-history]').click()
    const versions = page.locator('[data-test=history-version]')
    await expect.poll(() => versions.count()).toBe(4)
    await versions.nth(2).click() // v2, 45s
    await expect
      .poll(() => page.locator('[data-test=history-diff]').innerText())
      .toMatch(/45s[\s\S]*60s/)
    expect(await page.locator('[data-test=history-diff] .del').innerText()).toContain('45s')
    expect(await page.locator('[data-test=history-diff] .add').innerText()).toContain('60s')
    // Any two versions: v2 (45s) against v3 (90s) instead of now.
    await page.locator('[data-test=history-against]').selectOption({ label: 'v3' })
    await expect
      .poll(() => page.locator('[data-test=history-diff] .add').innerText())
      .toContain('90s')
    expect(await page.locator('[data-test=history-diff] .del').innerText()).toContain('45s')
    await page.screenshot({ path: join(SHOTS, 'history-dark.png') })
    await page.locator('[data-test=history-restore]').click()
    await expect
      .poll(async () => (await ctl('get', 'config/app/timeout', '--print-value-only')).trim())
      .toBe('45s')
    await expect.poll(() => versions.count()).toBe(5)
    await page.locator('[data-test=tab-history]').click()
  })

  it('creates a key, deletes it, and the tree follows', async () => {
    page.once('dialog', (d) => void d.accept())
    await page.locator('[data-test=new-key]').click()
    await page.locator('[data-test=new-key-name]').fill('config/app/owner')
    await page.locator('[data-test=new-key-value]').fill('team-storage')
    await page.locator('[data-test=new-key-create]').click()
    await expect
      .poll(() => page.locator('[data-test=detail-key]').innerText())
      .toBe('config/app/owner')
    expect((await ctl('get', 'config/app/owner', '--print-value-only')).trim()).toBe('team-storage')
    await expect.poll(treeText).toContain('owner')
    await page.locator('[data-test=delete]').click()
    await expect.poll(async () => (await ctl('get', 'config/app/owner')).trim()).toBe('')
    await expect.poll(treeText).not.toContain('owner')
  })

  it('compares a prefix between two revisions, and browses the keyspace as it was', async () => {
    const revision = async () =>
      Number(
        (JSON.parse(await ctl('get', 'readme', '-w', 'json')) as { header: { revision: string } })
          .header.revision,
      )
    const r0 = await revision()
    await ctl('put', 'config/db/replica', 'postgres://db-2.internal:5432/app')
    await ctl('put', 'config/db/primary', 'postgres://db-9.internal:5432/app')

    await page.locator('[data-test=prefix-actions]').click()
    await page.locator('[data-test=menu-compare]').click()
    await page.locator('[data-test=diff-from]').fill(String(r0))
    await page.locator('[data-test=diff-run]').click()
    const status = page.locator('[data-test=diff-status]')
    await expect
      .poll(() => status.innerText())
      .toBe(`2 changes between revision ${r0} and ${r0 + 2}.`)
    const changes = page.locator('[data-test=diff-change]')
    expect(await changes.allInnerTexts()).toEqual([
      expect.stringMatching(/changed\s+config\/db\/primary/i),
      expect.stringMatching(/added\s+config\/db\/replica/i),
    ])
    await changes.first().click()
    const values = page.locator('[data-test=diff-values]')
    await expect.poll(() => values.locator('.del').innerText()).toContain('db-1.internal')
    expect(await values.locator('.add').innerText()).toContain('db-9.internal')
    await page.screenshot({ path: join(SHOTS, 'diff-dark.png') })
    await page.locator('[data-test=diff-close]').click()

    await page.locator('[data-test=prefix-actions]').click()
    await page.locator('[data-test=menu-as-of]').click()
    await page.locator('[data-test=as-of-revision]').fill(String(r0))
    await page.locator('[data-test=as-of-go]').click()
    await expect
      .poll(() => page.locator('[data-test=as-of-note]').innerText())
      .toContain(String(r0))
    await row('config/').click()
    await row('db/').click()
    await expect.poll(treeText).toContain('primary')
    expect(await treeText()).not.toContain('replica')
    await row('primary').click()
    await expect
      .poll(() => page.locator('[data-test=value-text]').innerText())
      .toBe('postgres://db-1.internal:5432/app')
    expect(await page.locator('[data-test=detail-as-of]').isVisible()).toBe(true)
    expect(await page.locator('[data-test=edit]').count()).toBe(0)
    await page.screenshot({ path: join(SHOTS, 'as-of-dark.png') })
    await page.locator('[data-test=as-of-now]').click()
    await expect.poll(() => page.locator('[data-test=as-of-bar]').count()).toBe(0)
    await row('config/').click()
    await row('db/').click()
    await expect.poll(treeText).toContain('replica')
    expect(problems).toEqual([])
  })

  const bulkDialog = () => page.locator('[data-test=bulk-dialog]')
  const bulkStatus = () => page.locator('[data-test=bulk-status]').innerText()
  /** Opens a tree row's menu with a right click and picks an item. */
  async function rowMenu(name: string, item: string): Promise<void> {
    await row(name).click({ button: 'right' })
    await page.locator(`[data-test=menu-${item}]`).click()
    await expect.poll(() => bulkDialog().isVisible()).toBe(true)
  }
  const values = async (prefix: string) =>
    (await ctl('get', '--prefix', prefix)).trim().split('\n').filter(Boolean)

  it('copies a folder with a preview that writes nothing, then moves the copy', async () => {
    await rowMenu('config/', 'copy')
    expect(await page.locator('[data-test=bulk-to-prefix]').inputValue()).toBe('config-copy/')
    await page.locator('[data-test=bulk-preview]').click()
    await expect.poll(bulkStatus).toMatch(/^Preview of \d+ keys: nothing written yet/)
    const samples = await page.locator('[data-test=bulk-samples]').innerText()
    expect(samples).toMatch(/new\s+config-copy\/app\/timeout/i)
    expect(await values('config-copy/')).toEqual([])
    await page.screenshot({ path: join(SHOTS, 'bulk-copy-dark.png') })
    await page.locator('[data-test=bulk-run]').click()
    await expect.poll(bulkStatus).toMatch(/^Done: \d+ keys handled/)
    const copied = Number(await page.locator('[data-test=bulk-count-created] .num').innerText())
    expect(copied).toBeGreaterThanOrEqual(4)
    expect((await ctl('get', 'config-copy/app/timeout', '--print-value-only')).trim()).toBe(
      (await ctl('get', 'config/app/timeout', '--print-value-only')).trim(),
    )
    await page.locator('[data-test=bulk-close]').click()
    await expect.poll(treeText).toContain('config-copy/')

    // Move (rename) the copy: each key put under the new prefix and deleted in one transaction.
    await rowMenu('config-copy/', 'move')
    await page.locator('[data-test=bulk-to-prefix]').fill('config-moved/')
    await page.locator('[data-test=bulk-run]').click()
    await expect.poll(bulkStatus).toMatch(/^Done/)
    expect(await page.locator('[data-test=bulk-count-deleted] .num').innerText()).toBe(
      String(copied),
    )
    expect(await values('config-copy/')).toEqual([])
    expect((await values('config-moved/')).length).toBe(copied * 2)
    await page.locator('[data-test=bulk-close]').click()
    await expect.poll(treeText).not.toContain('config-copy/')
  })

  it('exports a prefix, deletes it, and imports the file back byte for byte', async () => {
    await connections
      .get('local')
      .client.put('config-moved/binary')
      .value(Buffer.from([0, 0xff, 0x10, 0x0a]))
    const before = await ctl('get', '--prefix', 'config-moved/', '-w', 'json')
    const kvsOf = (json: string) =>
      (JSON.parse(json) as { kvs: { key: string; value: string }[] }).kvs.map((k) => [
        k.key,
        k.value,
      ])
    await expect.poll(treeText).toContain('config-moved/')
    await rowMenu('config-moved/', 'export')
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('[data-test=bulk-run]').click(),
    ])
    await expect
      .poll(bulkStatus)
      .toMatch(/^Exported \d+ keys to local_cluster-config-moved-r\d+\.json/)
    const file = await download.path()
    expect(download.suggestedFilename()).toMatch(/^local_cluster-config-moved-r\d+\.json$/)
    await page.locator('[data-test=bulk-close]').click()

    await rowMenu('config-moved/', 'delete')
    const run = page.locator('[data-test=bulk-run]')
    await expect.poll(() => run.innerText()).toMatch(/^Delete \d+ keys$/)
    await run.click()
    await expect.poll(bulkStatus).toMatch(/^Done/)
    expect(await values('config-moved/')).toEqual([])
    await page.locator('[data-test=bulk-close]').click()

    await page.locator('[data-test=prefix-actions]').click()
    await page.locator('[data-test=menu-import]').click()
    await page.locator('[data-test=bulk-file]').setInputFiles(file)
    await expect
      .poll(() => page.locator('[data-test=bulk-drop]').innerText())
      .toMatch(/\d+ entries read \(raftdesk export\)/)
    await page.locator('[data-test=bulk-preview]').click()
    await expect.poll(bulkStatus).toMatch(/^Preview/)
    expect(await values('config-moved/')).toEqual([])
    await page.locator('[data-test=bulk-run]').click()
    await expect.poll(bulkStatus).toMatch(/^Done/)
    await page.screenshot({ path: join(SHOTS, 'bulk-import-dark.png') })
    expect(kvsOf(await ctl('get', '--prefix', 'config-moved/', '-w', 'json'))).toEqual(
      kvsOf(before),
    )
    await page.locator('[data-test=bulk-close]').click()

    // etcdctl's own JSON imports too: the same keys again change nothing.
    await page.locator('[data-test=prefix-actions]').click()
    await page.locator('[data-test=menu-import]').click()
    await page.locator('[data-test=bulk-file]').setInputFiles({
      name: 'etcdctl.json',
      mimeType: 'application/json',
      buffer: Buffer.from(before),
    })
    await page.locator('[data-test=bulk-run]').click()
    await expect.poll(bulkStatus).toMatch(/^Done/)
    expect(await page.locator('[data-test=bulk-count-unchanged] .num').innerText()).toBe(
      String(kvsOf(before).length),
    )
    // A file that is not an import says why, and nothing runs.
    await page.locator('[data-test=bulk-file]').setInputFiles({
      name: 'broken.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('only-a-key\n'),
    })
    await expect
      .poll(() => page.locator('[data-test=bulk-dialog] .hint').innerText())
      .toMatch(/broken\.txt cannot be imported: line 1 is a key without a value/)
    expect(await page.locator('[data-test=bulk-run]').isDisabled()).toBe(true)
    await page.locator('[data-test=bulk-close]').click()
    expect(problems).toEqual([])
  })

  it('renames a key from its menu, the value and tree following', async () => {
    await ctl('put', 'locks/old-name', 'v1')
    await row('locks/').click()
    await expect.poll(treeText).toContain('old-name')
    await row('old-name').click({ button: 'right' })
    await page.locator('[data-test=menu-rename]').click()
    await page.locator('[data-test=rename-name]').fill('locks/new-name')
    await page.locator('[data-test=rename-run]').click()
    await expect
      .poll(() => page.locator('[data-test=detail-key]').innerText())
      .toBe('locks/new-name')
    expect((await ctl('get', 'locks/new-name', '--print-value-only')).trim()).toBe('v1')
    expect((await ctl('get', 'locks/old-name')).trim()).toBe('')
    await expect.poll(treeText).not.toContain('old-name')
  })

  it('takes TLS files for a connection and says plainly when the cluster does not speak TLS', async () => {
    await page.locator('[data-test=manage-connections]').click()
    await page.locator('[data-test=conn-name]').fill('tls attempt')
    await page.locator('[data-test=conn-endpoints]').fill(endpoint)
    await page.locator('[data-test=conn-tls]').check()
    const pem = (what: string) => ({
      name: `${what}.pem`,
      mimeType: 'application/x-pem-file',
      buffer: Buffer.from(`-----BEGIN CERTIFICATE-----\n${what}\n-----END CERTIFICATE-----\n`),
    })
    await page.locator('[data-test=conn-tls-ca]').setInputFiles(pem('ca'))
    expect(await page.locator('[data-test=conn-tls-ca]').inputValue()).toMatch(/ca\.pem$/)
    await page.screenshot({ path: join(SHOTS, 'connections-tls-dark.png') })
    await page.locator('[data-test=conn-test]').click()
    await expect
      .poll(() => page.locator('[data-test=conn-check]').innerText(), { timeout: 15_000 })
      .not.toBe('')
    expect(await page.locator('[data-test=conn-check]').getAttribute('class')).toContain('error')
    await page.keyboard.press('Escape')
    await expect.poll(() => page.locator('[data-test=connections-dialog]').isVisible()).toBe(false)
  })

  it('asks for the prefix to be typed before a delete on a production connection', async () => {
    await page.locator('[data-test=manage-connections]').click()
    await page.locator('[data-test=conn-name]').fill('production east')
    await page.locator('[data-test=conn-endpoints]').fill(endpoint)
    await page.locator('[data-test=conn-production]').check()
    await page.locator('[data-test=conn-save]').click()
    await expect
      .poll(() => page.locator('[data-test=connection-select]').inputValue())
      .not.toBe('local')
    await expect.poll(treeText).toContain('locks/')
    await rowMenu('locks/', 'delete')
    const run = page.locator('[data-test=bulk-run]')
    await expect.poll(() => run.innerText()).toMatch(/^Delete 2 keys$/)
    expect(await bulkStatus()).toBe('2 keys will be deleted.')
    expect(await run.isDisabled()).toBe(true)
    await page.locator('[data-test=bulk-confirm]').fill('locks')
    expect(await run.isDisabled()).toBe(true)
    await page.locator('[data-test=bulk-confirm]').fill('locks/')
    await page.screenshot({ path: join(SHOTS, 'bulk-delete-dark.png') })
    await page.emulateMedia({ colorScheme: 'light' })
    await page.screenshot({ path: join(SHOTS, 'bulk-delete-light.png') })
    await page.emulateMedia({ colorScheme: 'dark' })
    await run.click()
    await expect.poll(bulkStatus).toBe('Done: 2 keys handled.')
    expect(await values('locks/')).toEqual([])
    await page.locator('[data-test=bulk-close]').click()
    await page.locator('[data-test=connection-select]').selectOption('local')
    await expect.poll(treeText).toContain('config/')
    expect(problems).toEqual([])
  })

  it('shows the members in the cluster view, and the light theme', async () => {
    await page.locator('[data-test=nav-cluster]').click()
    await expect
      .poll(() => page.locator('[data-test=cluster-view]').innerText())
      .toContain('leader')
    expect(await page.locator('[data-test=cluster-view] article').count()).toBe(3)
    await page.screenshot({ path: join(SHOTS, 'cluster-dark.png') })
    await page.emulateMedia({ colorScheme: 'light' })
    await page.locator('[data-test=nav-keys]').click()
    await openKey('config/app/feature-flags')
    expect(await page.evaluate(() => document.documentElement.dataset['theme'])).toBe('light')
    await page.screenshot({ path: join(SHOTS, 'key-browser-light.png') })
    await page.locator('[data-test=nav-cluster]').click()
    await expect.poll(() => page.locator('[data-test=cluster-view] article').count()).toBe(3)
    await page.screenshot({ path: join(SHOTS, 'cluster-light.png') })
    expect(problems).toEqual([])
  })

  it('watches a prefix live: old and new values, pause holds events, resume shows them', async () => {
    await page.locator('[data-test=nav-watch]').click()
    await page.locator('[data-test=watch-key]').fill('config/')
    await page.locator('[data-test=watch-start]').click()
    await expect.poll(() => page.locator('[data-test=watch-stop]').isVisible()).toBe(true)
    await new Promise((r) => setTimeout(r, 300)) // the watch is registered
    await ctl('put', 'config/app/retries', '7')
    const events = page.locator('[data-test=watch-event]')
    await expect.poll(() => events.count(), { timeout: 10_000 }).toBe(1)
    const first = await events.first().innerText()
    expect(first).toContain('config/app/retries')
    expect(first).toMatch(/5\s*→\s*7/)
    await page.locator('[data-test=watch-pause]').click()
    await ctl('del', 'config/app/retries')
    await expect.poll(() => page.locator('[data-test=watch-pause]').innerText()).toContain('1 held')
    expect(await events.count()).toBe(1)
    await page.locator('[data-test=watch-pause]').click()
    await expect.poll(() => events.count()).toBe(2)
    expect(await events.first().innerText()).toMatch(/delete/i)
    await page.screenshot({ path: join(SHOTS, 'watch-light.png') })
    await page.locator('[data-test=watch-stop]').click()
  })

  it('reaches views and keys from the command palette (Ctrl+K)', async () => {
    await page.keyboard.press('Control+k')
    await page.locator('[data-test=palette-query]').fill('cluster')
    await page.keyboard.press('Enter')
    await expect.poll(() => page.locator('[data-test=cluster-view]').isVisible()).toBe(true)
    // The palette has closed (a Ctrl+K while it closes would be lost in its closing).
    await expect.poll(() => page.locator('[data-test=palette-query]').count()).toBe(0)
    await page.keyboard.press('Control+k')
    await page.locator('[data-test=palette-query]').fill('services/web/version')
    expect(await page.locator('[data-test=palette-item]').count()).toBe(1)
    await page.keyboard.press('Enter')
    await expect
      .poll(() => page.locator('[data-test=detail-key]').innerText())
      .toBe('services/web/version')
    expect(await page.locator('[data-test=value-text]').innerText()).toBe('v2.14.1')
  })

  it('shows a Kubernetes protobuf value decoded, with its apiVersion and kind', async () => {
    const ld = (field: number, body: number[]) => [(field << 3) | 2, body.length, ...body]
    const str = (t: string) => [...Buffer.from(t)]
    const typeMeta = [...ld(1, str('v1')), ...ld(2, str('ConfigMap'))]
    const object = ld(1, ld(1, str('settings')))
    const value = Buffer.from([0x6b, 0x38, 0x73, 0x00, ...ld(1, typeMeta), ...ld(2, object)])
    await connections.get('local').client.put('registry/configmaps/default/settings').value(value)
    await page.keyboard.press('Control+k')
    await page.locator('[data-test=palette-query]').fill('registry/configmaps/default/settings')
    await page.keyboard.press('Enter')
    await expect
      .poll(() => page.locator('[data-test=value-text]').innerText())
      .toContain('apiVersion v1, kind ConfigMap')
    expect(await page.locator('[data-test=format-protobuf]').getAttribute('aria-selected')).toBe(
      'true',
    )
    expect(await page.locator('[data-test=value-text]').innerText()).toContain('"settings"')
  })

  it('lists leases with their keys and time left, keeps one alive and revokes it', async () => {
    const granted = await ctl('lease', 'grant', '120')
    const id = /lease ([0-9a-f]+) granted/.exec(granted)![1]!
    await ctl('put', `--lease=${id}`, 'sessions/worker-1', 'alive')
    await page.locator('[data-test=nav-leases]').click()
    const row = page.locator('[data-test=lease-row]', { hasText: id })
    await expect.poll(() => row.innerText()).toContain('sessions/worker-1')
    const left = () => row.locator('[data-test=lease-left]').innerText()
    // It counts down: below the granted 120 s within a few seconds.
    await expect.poll(left, { timeout: 6_000 }).toMatch(/^1[01]\d s$/)
    await page.screenshot({ path: join(SHOTS, 'leases-light.png') })
    await row.locator('[data-test=lease-keepalive]').click()
    page.once('dialog', (d) => void d.accept())
    await row.locator('[data-test=lease-revoke]').click()
    await expect.poll(() => row.count()).toBe(0)
    expect((await ctl('get', 'sessions/worker-1')).trim()).toBe('')
  })

  it('searches 100,000 values in a streamed scan with a live count, and cancels one', async () => {
    // 100,000 keys under bulk/, 38 of them holding "needle" (i % 2700 === 13), put in txns of 128.
    const client = connections.get('local').client
    const txns: Array<() => Promise<unknown>> = []
    for (let at = 0; at < 100_000; at += 128) {
      txns.push(() =>
        client.kv.txn({
          compare: [],
          success: Array.from({ length: Math.min(128, 100_000 - at) }, (_, j) => {
            const i = at + j
            const value = i % 2700 === 13 ? `{"id":${i},"tag":"needle"}` : `{"id":${i}}`
            return {
              request_put: {
                key: Buffer.from(`bulk/${String(i).padStart(6, '0')}`),
                value: Buffer.from(value),
              },
            }
          }),
          failure: [],
        }),
      )
    }
    for (let i = 0; i < txns.length; i += 16)
      await Promise.all(txns.slice(i, i + 16).map((f) => f()))

    await page.locator('[data-test=nav-keys]').click()
    await page.locator('[data-test=search-query]').fill('needle')
    await page.locator('[data-test=search-values]').click()
    await page.locator('[data-test=search-query]').press('Enter')
    const status = page.locator('[data-test=search-status]')
    // Matches show while the scan runs; at the end every key was scanned.
    await expect.poll(() => status.innerText(), { timeout: 60_000 }).toMatch(/ · [1-9]\d* matches/)
    await expect
      .poll(() => page.locator('[data-test=search-close]').isVisible(), { timeout: 60_000 })
      .toBe(true)
    expect(await status.innerText()).toMatch(/^Scanned (100,0\d\d) of \1 · 38 matches$/)
    await page.screenshot({ path: join(SHOTS, 'search-light.png') })
    // A match opens its key.
    await page.locator('[data-test=search-match]').first().click()
    await expect.poll(() => page.locator('[data-test=detail-key]').innerText()).toBe('bulk/000013')

    // A search that would read every value, cancelled as it starts, stops short of the end.
    await page.locator('[data-test=search-regex]').click()
    await page.locator('[data-test=search-query]').fill('^never-(here|there)$')
    await page.locator('[data-test=search-query]').press('Enter')
    await page.locator('[data-test=search-cancel]').click()
    await expect.poll(() => status.innerText()).toContain('cancelled')
    const scanned = Number(/Scanned ([\d,]+)/.exec(await status.innerText())![1]!.replace(/,/g, ''))
    expect(scanned).toBeLessThan(100_000)
    await page.locator('[data-test=search-close]').click()
    await expect.poll(() => page.locator('[data-test=key-tree]').isVisible()).toBe(true)
    expect(problems).toEqual([])
  }, 180_000)

  it('shows every view in both themes (screenshots to look at)', async () => {
    for (const theme of ['dark', 'light'] as const) {
      await page.emulateMedia({ colorScheme: theme })
      for (const view of ['keys', 'watch', 'leases', 'access', 'cluster', 'about']) {
        await page.locator(`[data-test=nav-${view}]`).click()
        await page.waitForTimeout(300)
        expect(await page.evaluate(() => document.documentElement.dataset['theme'])).toBe(theme)
        await page.screenshot({ path: join(SHOTS, `view-${view}-${theme}.png`) })
      }
    }
    expect(problems).toEqual([])
  })

  it('manages users and roles, and a user who is not root sees only what it may read', async () => {
    await page.emulateMedia({ colorScheme: 'dark' })
    // etcd enables auth only once a root user with the root role exists.
    await ctl('role', 'add', 'root')
    await ctl('user', 'add', 'root:rootpw')
    await ctl('user', 'grant-role', 'root', 'root')
    await page.locator('[data-test=nav-access]').click()
    const users = page.locator('[data-test=users-card]')
    await expect.poll(() => users.innerText()).toContain('root')
    await page.locator('[data-test=new-role-name]').fill('services-reader')
    await page.locator('[data-test=add-role]').click()
    const role = page.locator('[data-test=role-row]', { hasText: 'services-reader' })
    await role.locator('[data-test=perm-key]').fill('services/')
    await role.locator('[data-test=perm-grant]').click()
    await expect.poll(() => role.innerText()).toMatch(/read\s+prefix\s+services\//i)
    await page.locator('[data-test=new-user-name]').fill('alice')
    await page.locator('[data-test=new-user-password]').fill('alicepw')
    await page.locator('[data-test=add-user]').click()
    const alice = page.locator('[data-test=user-row]', { hasText: 'alice' })
    await alice.locator('[data-test=grant-role]').selectOption('services-reader')
    await expect.poll(() => alice.innerText()).toContain('services-reader')
    expect(await ctl('role', 'get', 'services-reader')).toContain('[services/, services0)')
    expect(await ctl('user', 'get', 'alice')).toContain('services-reader')
    await page.screenshot({ path: join(SHOTS, 'access-dark.png') })

    page.once('dialog', (d) => void d.accept()) // this connection has no user: enable anyway
    await page.locator('[data-test=auth-toggle]').click()
    await expect
      .poll(() => page.locator('[data-test=access-message]').innerText())
      .toContain('Authentication is on')
    try {
      await page.locator('[data-test=manage-connections]').click()
      await page.locator('[data-test=conn-name]').fill('as alice')
      await page.locator('[data-test=conn-endpoints]').fill(endpoint)
      await page.locator('[data-test=conn-user]').fill('alice')
      await page.locator('[data-test=conn-password]').fill('alicepw')
      await page.locator('[data-test=conn-save]').click()
      await page.locator('[data-test=nav-keys]').click()
      const denied = page.locator('[data-test=tree-denied]')
      await expect.poll(() => denied.innerText()).toContain('permission denied')
      await expect
        .poll(() => denied.innerText())
        .toContain('alice may not read the whole keyspace. What alice may read:')
      await page.screenshot({ path: join(SHOTS, 'tree-denied-dark.png') })
      await page.locator('[data-test=readable]', { hasText: 'services/' }).click()
      await expect.poll(treeText).toContain('api/')
      expect(await treeText()).not.toContain('config/')
      await page.locator('[data-test=nav-access]').click()
      await expect
        .poll(() => page.locator('[data-test=access-denied]').innerText())
        .toMatch(
          /alice may not manage users and roles[\s\S]*services-reader[\s\S]*prefix\s+services\//i,
        )
      await page.screenshot({ path: join(SHOTS, 'access-denied-dark.png') })
    } finally {
      await ctl('--user=root:rootpw', 'auth', 'disable')
    }
    await page.locator('[data-test=connection-select]').selectOption('local')
    await page.locator('[data-test=nav-access]').click()
    await expect.poll(() => page.locator('[data-test=auth-status]').innerText()).toBe('off')
    expect(problems).toEqual([])
  })
})
