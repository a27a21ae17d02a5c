// The Raft view end to end: a real 3-node local cluster, the web UI with the same services as
// `raftdesk serve` (the supervisor attached), Debian's Chromium. From the window: a put made with
// etcdctl reaches "applied" on every node in the log view; leadership moves to a named node and a
// named node campaigns and wins; an isolated node's commit index stalls while the others go on,
// then converges after "Heal"; killing the leader brings a new one with a higher term. Screenshots
// of every tab in both themes land in test-results/screenshots.
import { spawnSync } from 'node:child_process'
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JoinManager } from '../../node-core/cluster/joins'
import { RestoredClusters } from '../../node-core/cluster/restored'
import { ForkLauncher } from '../../node-core/cluster/launcher'
import { Connections } from '../../node-core/services/connections'
import { createServices } from '../../node-core/services/index'
import { startWebUi, type WebUi } from '../../node-core/services/web'
import { launchChromium, shouldRunBrowserTests } from '../helpers/chromium'
import { startTestCluster, type TestCluster } from '../helpers/cluster'
import { startEtcdCluster } from '../helpers/etcd'
import { freePortBlock } from '../helpers/ports'
import { etcdctl } from '../node-core/api/harness'

const SHOTS = join(import.meta.dirname, '../../test-results/screenshots')
const POLL = { timeout: 20_000 }
const etcdInstalled = spawnSync('etcd', ['--version']).status === 0

describe.runIf(shouldRunBrowserTests())('raft view', () => {
  let tc: TestCluster
  let ui: WebUi
  let browser: Browser
  let page: Page
  let rendererDir: string
  let joins: JoinManager
  let restored: RestoredClusters
  const connections = new Connections()
  const problems: string[] = []

  /** etcdctl against the running nodes, or only `via` (an isolated node cannot serve writes). */
  const ctl = async (...args: string[]) => ctlVia('', ...args)
  const ctlVia = async (via: string, ...args: string[]) => {
    const endpoints = tc.cluster
      .list()
      .filter((n) => n.state === 'running' && (via === '' || n.name === via))
      .map((n) => n.endpoint)
    const r = await etcdctl(endpoints.join(','), args)
    if (r.code !== 0) throw new Error(`etcdctl ${args.join(' ')}: ${r.stderr}`)
    return r.stdout
  }
  const card = (name: string) => page.locator(`[data-test=node-${name}]`)
  const leaderName = () => page.locator('[data-test=leader-name]').innerText()
  const currentLeader = async () => /^(\S+)/.exec(await leaderName())?.[1] ?? ''
  const termOf = async (name: string) =>
    Number((await card(name).locator('[data-test=node-term]').innerText()).replace(/\D/g, ''))
  const commitOf = async (name: string) =>
    Number(await card(name).locator('[data-test=node-commit]').innerText())
  const followerNames = async () => {
    const leader = await currentLeader()
    return ['n1', 'n2', 'n3'].filter((n) => n !== leader)
  }

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true })
    // Room for a fourth node: the membership test adds one on the next block of ports.
    tc = await startTestCluster({ clientPort: await freePortBlock(4) })
    await tc.cluster.waitForLeader()
    rendererDir = mkdtempSync(join(tmpdir(), 'raftdesk-web-'))
    connections.add({ id: 'local', name: 'local cluster', endpoints: [...tc.endpoints.values()] })
    joins = await JoinManager.open({
      dir: join(tc.dataDir, 'joined'),
      portBase: await freePortBlock(2),
      launcher: new ForkLauncher({ onStderrLine: () => undefined }),
    })
    restored = new RestoredClusters({
      dir: join(tc.dataDir, 'restored'),
      portBase: await freePortBlock(3),
      launcher: new ForkLauncher({ onStderrLine: () => undefined }),
    })
    ui = await startWebUi({
      host: '127.0.0.1',
      port: 0,
      dataDir: tc.dataDir,
      rendererDir,
      services: createServices(
        { name: 'raftdesk', version: '0.0.0-test', host: 'web', dataDir: tc.dataDir },
        connections,
        Promise.resolve(tc.cluster),
        Promise.resolve(joins),
        restored,
      ),
    })
    browser = await launchChromium()
    const context = await browser.newContext({
      viewport: { width: 1280, height: 820 },
      colorScheme: 'dark',
    })
    page = await context.newPage()
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()))
    page.on('pageerror', (e) => problems.push(e.message))
    await page.goto(ui.url)
    await page.locator('[data-test=nav-raft]').click()
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await ui?.close()
    await joins?.close()
    await restored?.close()
    connections.closeAll()
    await tc?.dispose()
    if (rendererDir) rmSync(rendererDir, { recursive: true, force: true })
  })

  it('shows every node with its role, term and indexes, and the leader’s followers', async () => {
    await expect.poll(leaderName, POLL).toMatch(/^n\d leads in term \d+$/)
    await expect
      .poll(() => page.locator('[data-test=can-fail]').innerText(), POLL)
      .toBe('can lose 1 more')
    const leader = await currentLeader()
    expect(await card(leader).locator('[data-test=node-role]').innerText()).toBe('leader')
    const followers = card(leader).locator('[data-test=followers] tbody tr')
    await expect.poll(() => followers.count()).toBe(2)
    for (const f of await followerNames()) {
      expect(await card(f).locator('[data-test=node-role]').innerText()).toBe('follower')
    }
    await page.screenshot({ path: join(SHOTS, 'raft-dashboard-dark.png') })
  })

  it('shows a put made with etcdctl reach applied on every node in the log view', async () => {
    await ctl('put', 'raft/seen', 'yes')
    await page.locator('[data-test=raft-tab-log]').click()
    const cells = page.locator('[data-test^=log-cell-]', { hasText: 'put "raft/seen" = "yes"' })
    await expect.poll(() => cells.count(), POLL).toBe(3)
    await expect
      .poll(
        async () =>
          (await cells.evaluateAll((els) => els.map((e) => e.getAttribute('data-state')))).join(),
        POLL,
      )
      .toBe('applied,applied,applied')
    // Aligned: the three cells are in one row.
    const row = page.locator('tr', { has: cells.first() })
    expect(await row.locator('[data-test^=log-cell-]', { hasText: 'raft/seen' }).count()).toBe(3)
    for (let i = 0; i < 6; i++) await ctl('put', `config/service-${i}`, `{"replicas":${i + 1}}`)
    await ctl('del', 'config/service-0')
    await expect
      .poll(
        () =>
          page.locator('[data-test^=log-cell-]', { hasText: 'delete "config/service-0"' }).count(),
        POLL,
      )
      .toBe(3)
    await page.screenshot({ path: join(SHOTS, 'raft-log-dark.png') })
  })

  it('hands leadership to a named node, then makes another campaign and win', async () => {
    await page.locator('[data-test=raft-tab-dashboard]').click()
    const [first, second] = await followerNames()
    const termBefore = await termOf(first!)
    await card(first!).locator('[data-test=act-transfer]').click()
    await expect.poll(currentLeader, POLL).toBe(first)
    await card(second!).locator('[data-test=act-campaign]').click()
    await expect.poll(currentLeader, POLL).toBe(second)
    expect(await termOf(second!)).toBeGreaterThan(termBefore)
  })

  it('isolates a follower: its commit stalls while the others go on; Heal converges', async () => {
    const [lone] = await followerNames()
    await card(lone!).locator('[data-test=act-isolate]').click()
    const leader = await currentLeader()
    await expect
      .poll(() => card(leader).locator(`[data-test=follower-${lone}]`).getAttribute('class'), POLL)
      .toContain('inactive')
    expect(await card(lone!).locator('[data-test=node-cut]').innerText()).toContain('Isolated')
    const stalled = await commitOf(lone!)
    for (let i = 0; i < 5; i++) await ctlVia(leader, 'put', `raft/partitioned/${i}`, `${i}`)
    await expect.poll(() => commitOf(leader), POLL).toBeGreaterThanOrEqual(stalled + 5)
    expect(await commitOf(lone!)).toBe(stalled)
    await expect
      .poll(
        async () =>
          Number(
            await card(leader)
              .locator(`[data-test=follower-${lone}] [data-test=follower-behind]`)
              .innerText(),
          ),
        POLL,
      )
      .toBeGreaterThanOrEqual(5)
    await page.screenshot({ path: join(SHOTS, 'raft-partition-dark.png') })
    await page.locator('[data-test=heal]').click()
    await expect.poll(() => card(lone!).locator('[data-test=node-cut]').count(), POLL).toBe(0)
    await expect.poll(() => commitOf(lone!), POLL).toBe(await commitOf(leader))
  })

  it('cuts one link one way and slows another from the links matrix; Heal clears both', async () => {
    const links = page.locator('[data-test=links]')
    await links.locator('[data-test=link-n1-n2]').click()
    await links.locator('input[value=cutOne]').check()
    await links.locator('[data-test=link-apply]').click()
    await expect.poll(() => links.locator('[data-test=link-n1-n2]').innerText(), POLL).toBe('cut')
    expect(await links.locator('[data-test=link-n2-n1]').innerText()).toBe('ok')
    await links.locator('[data-test=link-n2-n3]').click()
    await links.locator('[data-test=link-slow]').check()
    await links.locator('[data-test=link-delay]').fill('50')
    await links.locator('[data-test=link-loss]').fill('10')
    await links.locator('[data-test=link-apply]').click()
    await expect
      .poll(() => links.locator('[data-test=link-n2-n3]').innerText(), POLL)
      .toBe('50 ms · 10%')
    await page.screenshot({ path: join(SHOTS, 'raft-links-dark.png'), fullPage: true })
    await page.locator('[data-test=heal]').click()
    await expect.poll(() => links.locator('.cell.cut, .cell.slow').count(), POLL).toBe(0)
  })

  it('partitions by dragging a follower into its own group; Heal joins it again', async () => {
    const [lonely] = await followerNames()
    await page.locator(`[data-test=chip-${lonely}]`).dragTo(page.locator('[data-test=group-2]'))
    expect(await page.locator('[data-test=group-2] .chip').allInnerTexts()).toEqual([lonely])
    await page.locator('[data-test=partition-apply]').click()
    await expect
      .poll(() => card(lonely!).locator('[data-test=node-cut]').innerText(), POLL)
      .toContain('Isolated')
    await page.locator('[data-test=partition]').screenshot({
      path: join(SHOTS, 'raft-partition-dark.png'),
    })
    await page.locator('[data-test=heal]').click()
    await expect.poll(() => card(lonely!).locator('[data-test=node-cut]').count(), POLL).toBe(0)
    await page.locator('[data-test=partition-reset]').click()
  })

  it('kills the leader from the window: a new leader with a higher term; Start brings it back', async () => {
    const old = await currentLeader()
    const term = await termOf(old)
    await card(old).locator('[data-test=act-kill]').click()
    await expect.poll(currentLeader, POLL).not.toBe(old)
    const next = await currentLeader()
    expect(await termOf(next)).toBeGreaterThan(term)
    await expect
      .poll(() => card(old).locator('[data-test=node-process]').innerText(), POLL)
      .toContain('Killed or crashed')
    // The surviving follower reports its new leader on its next status (every 100 ms).
    await expect
      .poll(() => page.locator('[data-test=can-fail]').innerText(), POLL)
      .toBe('one more failure stops writes')
    await page.screenshot({ path: join(SHOTS, 'raft-killed-dark.png') })
    await card(old).locator('[data-test=act-start]').click()
    await expect
      .poll(() => page.locator('[data-test=can-fail]').innerText(), POLL)
      .toBe('can lose 1 more')
  })

  it('lists what happened: elections with their votes, faults, the kill', async () => {
    await page.locator('[data-test=raft-tab-events]').click()
    const list = page.locator('[data-test=raft-events]')
    await expect.poll(() => list.innerText(), POLL).toContain('became leader')
    const text = await list.innerText()
    expect(text).toContain('granted vote to')
    expect(text).toContain('killed (SIGKILL)')
    expect(text).toContain('partitioned')
    await page.locator('[data-test=events-kind]').selectOption('faults')
    expect(await list.innerText()).not.toContain('granted vote to')
    await page.screenshot({ path: join(SHOTS, 'raft-events-dark.png') })
  })

  it('draws the timeline: role lanes with the kill, event marks, charts; scrubs back', async () => {
    // A few seconds of steady writes, so the charts have something to draw.
    const writer = tc.client(await tc.cluster.waitForLeader())
    const until = Date.now() + 3_000
    for (let i = 0; Date.now() < until; i++) await writer.put(`load/${i % 50}`, 'x'.repeat(64))
    await page.locator('[data-test=raft-tab-timeline]').click()
    const timeline = page.locator('[data-test=raft-timeline]')
    for (const n of ['n1', 'n2', 'n3']) {
      await expect
        .poll(() => page.locator(`[data-test=lane-${n}] .seg`).count(), POLL)
        .toBeGreaterThan(0)
    }
    // Someone led, and the node killed earlier shows down for a while.
    await expect
      .poll(() => timeline.locator('.seg[data-role=leader]').count(), POLL)
      .toBeGreaterThan(0)
    expect(await timeline.locator('.seg[data-role=down]').count()).toBeGreaterThan(0)
    expect(await page.locator('[data-test=timeline-mark]').count()).toBeGreaterThan(3)
    expect(await timeline.locator('canvas').count()).toBe(3)
    await page.screenshot({ path: join(SHOTS, 'raft-timeline-dark.png'), fullPage: true })
    // Scrubbing back pins the window; Back to live follows the newest again.
    const scrub = page.locator('[data-test=timeline-scrub]')
    const min = Number(await scrub.getAttribute('min'))
    await scrub.evaluate((el, v) => {
      const input = el as HTMLInputElement
      input.value = String(v)
      input.dispatchEvent(new Event('input', { bubbles: true }))
    }, min)
    await expect.poll(() => page.locator('[data-test=timeline-live]').isEnabled()).toBe(true)
    await page.locator('[data-test=timeline-live]').click()
    await expect.poll(() => page.locator('[data-test=timeline-live]').isEnabled()).toBe(false)
  })

  it('inspects a node’s WAL: the records of puts made with etcdctl, verified', async () => {
    await page.locator('[data-test=raft-tab-wal]').click()
    await expect
      .poll(() => page.locator('[data-test=wal-format]').innerText(), POLL)
      .toBe('raftdesk WAL')
    const records = page.locator('[data-test=wal-records]')
    await expect.poll(() => records.innerText(), POLL).toContain('put "raft/seen" = "yes"')
    expect(await records.innerText()).toContain('addVoter')
    await page.locator('[data-test=wal-verify]').click()
    await expect
      .poll(() => page.locator('[data-test=wal-verify-result]').innerText(), POLL)
      .toMatch(/All \d+ records in \d+ segments check out/)
    await page.screenshot({ path: join(SHOTS, 'raft-wal-dark.png') })
  })

  it('flags a WAL the test damaged, naming the segment and offset', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'raftdesk-damaged-'))
    cpSync(join(tc.cluster.info('n2').dataDir, 'wal'), join(copy, 'wal'), { recursive: true })
    const seg = readdirSync(join(copy, 'wal')).find((n) => n.endsWith('.wal'))!
    const bytes = readFileSync(join(copy, 'wal', seg))
    const at = Math.floor(bytes.length / 3)
    bytes[at] = bytes[at]! ^ 0x5a
    writeFileSync(join(copy, 'wal', seg), bytes)
    try {
      await page.locator('[data-test=wal-source]').selectOption({ label: 'another directory…' })
      await page.locator('[data-test=wal-dir]').fill(copy)
      await page.locator('[data-test=wal-open]').click()
      await expect.poll(() => page.locator('[data-test=wal-damage]').count(), POLL).toBe(1)
      await page.locator('[data-test=wal-verify]').click()
      const problem = page.locator('[data-test=wal-problem]')
      await expect.poll(() => problem.count(), POLL).toBe(1)
      expect(await problem.innerText()).toMatch(new RegExp(`Corruption ${seg} @ \\d+`))
      await page.screenshot({ path: join(SHOTS, 'raft-wal-damaged-dark.png') })
    } finally {
      rmSync(copy, { recursive: true, force: true })
    }
  })

  it.runIf(etcdInstalled || process.env['CI'] === 'true')(
    'reads a stopped real etcd member’s member/wal the same way',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'raftdesk-etcd-wal-'))
      const etcd = await startEtcdCluster({ dir, nodes: 1 })
      try {
        await etcd.leader()
        const r = await etcdctl(etcd.endpoints.get('e1')!, ['put', 'from/etcd', 'hello'])
        expect(r.code).toBe(0)
        await etcd.stop()
        await page.locator('[data-test=wal-dir]').fill(join(dir, 'e1'))
        await page.locator('[data-test=wal-open]').click()
        await expect
          .poll(() => page.locator('[data-test=wal-format]').innerText(), POLL)
          .toBe('etcd WAL')
        await expect
          .poll(() => page.locator('[data-test=wal-records]').innerText(), POLL)
          .toContain('put "from/etcd" = "hello"')
        await page.screenshot({ path: join(SHOTS, 'raft-wal-etcd-dark.png') })
      } finally {
        await etcd.stop().catch(() => undefined)
        rmSync(dir, { recursive: true, force: true })
      }
    },
    60_000,
  )

  it('maintains the cluster from the Cluster view: space, compaction, hash check', async () => {
    await page.locator('[data-test=nav-cluster]').click()
    const panel = page.locator('[data-test=maintenance]')
    for (const n of ['n1', 'n2', 'n3']) {
      await expect.poll(() => panel.locator(`[data-test=space-${n}]`).count(), POLL).toBe(1)
    }
    expect(await panel.locator('[data-test=no-alarms]').innerText()).toBe('No alarms raised.')
    const rev = Number(await panel.locator('[data-test=compact-revision]').inputValue())
    expect(rev).toBeGreaterThan(10)
    await panel.locator('[data-test=compact-revision]').fill(String(rev - 5))
    expect(await panel.locator('[data-test=compact-removes]').innerText()).toMatch(
      new RegExp(`Removes the history of revisions 1–${rev - 6} \\(${rev - 6} revisions\\)`),
    )
    await panel.locator('[data-test=compact]').click()
    await expect
      .poll(() => panel.locator('[data-test=maintenance-done]').innerText(), POLL)
      .toBe(`Compacted to revision ${rev - 5}`)
    await panel.locator('[data-test=hash-check]').click()
    await expect
      .poll(() => panel.locator('[data-test=hash-result]').innerText(), POLL)
      .toMatch(/Every member holds the same history at revision \d+/)
    await page.screenshot({ path: join(SHOTS, 'cluster-maintenance-dark.png'), fullPage: true })
  })

  it('takes a snapshot, verifies it, and saves the cluster to a file', async () => {
    await page.locator('[data-test=nav-raft]').click()
    await page.locator('[data-test=raft-tab-snapshots]').click()
    const panel = page.locator('[data-test=snapshots]')
    await panel.locator('[data-test=snap-take]').click()
    await expect.poll(() => panel.locator('[data-test=snap-row]').count(), POLL).toBeGreaterThan(0)
    await panel.locator('[data-test=snap-verify]').first().click()
    await expect.poll(() => panel.locator('[data-test=snap-ok]').count(), POLL).toBe(1)
    // The keys it holds at its revision, the put made with etcdctl among them.
    await panel.locator('[data-test=snap-browse]').first().click()
    const keys = panel.locator('[data-test=snap-keys]')
    await expect
      .poll(() => keys.locator('[data-test=snap-keys-summary]').innerText(), POLL)
      .toMatch(/at revision \d+ \(raft index \d+\) · \d+ keys/)
    await keys.locator('[data-test=snap-keys-prefix]').fill('raft/seen')
    await expect
      .poll(() => keys.locator('[data-test=snap-key]').allInnerTexts(), POLL)
      .toEqual([expect.stringMatching(/^raft\/seen\s+yes/)])
    await keys.locator('[data-test=snap-keys-prefix]').fill('')
    await expect.poll(() => keys.locator('[data-test=snap-key]').count(), POLL).toBeGreaterThan(5)
    await page.screenshot({ path: join(SHOTS, 'raft-snapshot-keys-dark.png') })
    await keys.locator('[data-test=snap-keys-close]').click()
    const out = mkdtempSync(join(tmpdir(), 'raftdesk-ui-save-'))
    try {
      const file = join(out, 'cluster.db')
      await panel.locator('[data-test=snap-path]').fill(file)
      await panel.locator('[data-test=snap-save]').click()
      await expect.poll(() => panel.locator('[data-test=snap-saved]').count(), POLL).toBe(1)
      expect(await panel.locator('[data-test=snap-saved]').innerText()).toContain(
        `--restore ${file}`,
      )
      expect(readdirSync(out)).toEqual(['cluster.db'])
      await page.screenshot({ path: join(SHOTS, 'raft-snapshots-dark.png') })
      // Saving over it is refused in one sentence.
      await panel.locator('[data-test=snap-save]').click()
      await expect
        .poll(() => panel.locator('[data-test=snap-save-error]').innerText(), POLL)
        .toContain('exists; choose another name')
      // A new local cluster from the file, in the window: it holds the put made with etcdctl.
      await panel.locator('[data-test=snap-restore]').click()
      await expect
        .poll(() => panel.locator('[data-test=snap-restored]').innerText(), { timeout: 60_000 })
        .toMatch(/^Started cluster-1: \d+ keys at revision \d+, serving at 127\.0\.0\.1:\d+\./)
      const info = restored.list()[0]!
      const r = await etcdctl(info.endpoints.join(','), ['get', 'raft/seen', '--print-value-only'])
      expect(r.stdout).toBe('yes\n')
      // Its machinery, like the local cluster's, with every lever.
      await page.locator('[data-test=raft-source]').selectOption('restored:cluster-1')
      await page.locator('[data-test=raft-tab-dashboard]').click()
      await expect.poll(leaderName, POLL).toMatch(/^n\d leads in term \d+$/)
      expect(await page.locator('[data-test=heal]').count()).toBe(1)
      await page.locator('[data-test=raft-source]').selectOption('local')
      await page.locator('[data-test=raft-tab-snapshots]').click()
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  })

  it('adds a node as a learner, shows it catching up, promotes it, and removes it again', async () => {
    await page.locator('[data-test=nav-raft]').click()
    await page.locator('[data-test=raft-tab-dashboard]').click()
    await page.locator('[data-test=add-node]').click()
    await card('n4').waitFor(POLL)
    await expect
      .poll(() => card('n4').locator('[data-test=node-role]').innerText(), POLL)
      .toBe('learner')
    const promote = card('n4').locator('[data-test=act-promote]')
    // Caught up, the promote button is the one to press.
    await expect.poll(() => promote.getAttribute('class'), POLL).toContain('primary')
    expect(await card('n4').locator('[data-test=node-catchup]').innerText()).toMatch(/\d+%/)
    await page.screenshot({ path: join(SHOTS, 'raft-learner-dark.png') })
    await promote.click()
    await expect
      .poll(() => card('n4').locator('[data-test=node-role]').innerText(), POLL)
      .toMatch(/^(follower|leader)$/)
    await expect
      .poll(() => page.locator('[data-test=healthy]').innerText(), POLL)
      .toMatch(/4 of 4 voters/)
    expect(await ctlVia('n4', 'get', 'raft/seen', '--print-value-only')).toBe('yes\n')

    page.once('dialog', (d) => void d.accept())
    await card('n4').locator('[data-test=act-remove]').click()
    await expect.poll(() => card('n4').count(), POLL).toBe(0)
    await expect
      .poll(() => page.locator('[data-test=can-fail]').innerText(), POLL)
      .toBe('can lose 1 more')
  })

  it('changes the election and heartbeat timeouts; the nodes restart one by one', async () => {
    const now = page.locator('[data-test=timing-now]')
    expect(await now.innerText()).toBe('Election 150–300 ms · heartbeat 50 ms')
    await page.locator('[data-test=timing-edit]').click()
    await page.locator('[data-test=timing-min]').fill('300')
    await page.locator('[data-test=timing-max]').fill('200')
    expect(await page.locator('[data-test=timing-apply]').isDisabled()).toBe(true)
    expect(await page.locator('[data-test=timing-hint]').innerText()).toContain('0 < min < max')
    await page.locator('[data-test=timing-min]').fill('200')
    await page.locator('[data-test=timing-max]').fill('400')
    await page.locator('[data-test=timing-heartbeat]').fill('40')
    await page.screenshot({ path: join(SHOTS, 'raft-timing-dark.png') })
    const pids = tc.cluster.list().map((n) => n.pid)
    await page.locator('[data-test=timing-apply]').click()
    await expect
      .poll(() => now.innerText(), { timeout: 60_000 })
      .toBe('Election 200–400 ms · heartbeat 40 ms')
    // Every node restarted: a new process each.
    tc.cluster.list().forEach((n, i) => expect(n.pid).not.toBe(pids[i]))
    await expect.poll(leaderName, POLL).toMatch(/leads/)
    expect(tc.cluster.timeouts()).toEqual({
      electionMsMin: 200,
      electionMsMax: 400,
      heartbeatMs: 40,
    })
  })

  it('joins another raftdesk cluster through the dialog: learner, caught up, promoted, left', async () => {
    // The other cluster: one node of its own, with some data to catch up on.
    const other = await startTestCluster({ nodes: 1, snapshotCount: 20, snapshotCatchUpEntries: 2 })
    try {
      await other.cluster.waitForLeader()
      for (let i = 0; i < 40; i++) await other.client('n1').put(`other/${i}`, `v${i}`)
      const otherId = (await other.cluster.status('n1')).clusterId.toString(16)
      const link = `raftdesk://join?peer=${other.cluster.info('n1').peer}&token=${other.cluster.clusterToken}&cluster=${otherId}`

      await page.locator('[data-test=raft-tab-dashboard]').click()
      expect(await page.locator('[data-test=joined-empty]').innerText()).toContain('Not a member')
      // This cluster's own invite.
      await page.locator('[data-test=invite-open]').click()
      await expect
        .poll(() => page.locator('[data-test=invite-link]').inputValue(), POLL)
        .toContain(`token=${tc.cluster.clusterToken}`)
      await page.screenshot({ path: join(SHOTS, 'raft-invite-dark.png') })
      await page.keyboard.press('Escape')

      await page.locator('[data-test=join-open]').click()
      // A wrong token is refused in words, and the form keeps what was typed.
      await page.locator('[data-test=join-peer]').fill(other.cluster.info('n1').peer)
      await page.locator('[data-test=join-token]').fill('wrong')
      await page.locator('[data-test=join-run]').click()
      await expect
        .poll(() => page.locator('[data-test=join-problem]').innerText(), POLL)
        .toContain('refused the token')
      expect(await page.locator('[data-test=join-peer]').inputValue()).toBe(
        other.cluster.info('n1').peer,
      )
      await page.locator('[data-test=join-link]').fill(link)
      await page.locator('[data-test=join-name]').fill('visitor')
      await page.screenshot({ path: join(SHOTS, 'raft-join-dialog-dark.png') })
      await page.locator('[data-test=join-run]').click()
      await page.locator('[data-test=join-dialog]').waitFor({ state: 'detached', ...POLL })

      const row = page.locator('[data-test=joined-visitor]')
      await expect
        .poll(() => row.locator('[data-test=joined-phase]').innerText(), POLL)
        .toBe('learner · caught up, ready to promote')
      expect(await row.innerText()).toContain(`cluster ${otherId}`)
      await page.locator('[data-test=joined]').screenshot({
        path: join(SHOTS, 'raft-joined-learner-dark.png'),
      })
      await row.locator('[data-test=joined-promote]').click()
      await expect
        .poll(() => row.locator('[data-test=joined-phase]').innerText(), POLL)
        .toBe('voter')
      const members = await other.client('n1').memberList()
      expect(members.find((m) => m.name === 'visitor')?.isLearner).toBe(false)

      // The cluster it joined, seen from here through its admin ports.
      const source = page.locator('[data-test=raft-source]')
      await expect
        .poll(
          () => source.locator('option').evaluateAll((o) => o.map((x) => x.getAttribute('value'))),
          POLL,
        )
        .toContain('joined:visitor')
      await source.selectOption('joined:visitor')
      await page.locator('[data-test=remote-note]').waitFor(POLL)
      await expect.poll(leaderName, POLL).toMatch(/^n1 leads in term \d+$/)
      await card('visitor').waitFor(POLL)
      expect(await card('visitor').locator('[data-test=node-role]').innerText()).toBe('follower')
      expect(await card('n1').locator('[data-test=act-kill]').count()).toBe(0)
      expect(await page.locator('[data-test=raft-tab-wal]').count()).toBe(0)
      await page.screenshot({ path: join(SHOTS, 'raft-remote-dark.png') })
      await source.selectOption('local')
      await page.locator('[data-test=timing]').waitFor(POLL)

      page.once('dialog', (d) => void d.accept())
      await row.locator('[data-test=joined-leave]').click()
      await expect.poll(() => row.count(), POLL).toBe(0)
      expect((await other.client('n1').memberList()).map((m) => m.name)).toEqual(['n1'])
    } finally {
      await other.dispose()
    }
  }, 90_000)

  it.runIf(etcdInstalled || process.env['CI'] === 'true')(
    'shows a real etcd 3.4 cluster: its members, the leader and its Prometheus metrics charted',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'raftdesk-etcd-dash-'))
      const etcd = await startEtcdCluster({ dir, nodes: 3 })
      try {
        const leader = await etcd.leader()
        connections.add({ id: 'etcd', name: 'real etcd', endpoints: [...etcd.endpoints.values()] })
        const endpoint = etcd.endpoints.get(leader)!
        for (let i = 0; i < 20; i++) {
          expect((await etcdctl(endpoint, ['put', `dash/${i}`, `v${i}`])).code).toBe(0)
        }
        await page.reload()
        await page.locator('[data-test=connection-select]').selectOption('etcd')
        await page.locator('[data-test=nav-cluster]').click()
        for (const name of ['e1', 'e2', 'e3']) {
          await page.locator(`[data-test=member-${name}]`).waitFor(POLL)
        }
        await expect
          .poll(
            () => page.locator(`[data-test=member-${leader}] [data-test=member-role]`).innerText(),
            POLL,
          )
          .toBe('leader')
        const table = page.locator('[data-test=metrics-table]')
        await table.waitFor(POLL)
        for (const name of ['e1', 'e2', 'e3']) {
          expect(
            await page
              .locator(`[data-test=metrics-${name}] [data-test=metrics-has-leader]`)
              .innerText(),
          ).toBe('yes')
        }
        // Writes while the view reads: the commit counter moves and the charts have points.
        const before = Number(
          await page
            .locator(`[data-test=metrics-${leader}] [data-test=metrics-committed]`)
            .innerText(),
        )
        for (let i = 0; i < 20; i++) await etcdctl(endpoint, ['put', `dash/more/${i}`, 'x'])
        await expect
          .poll(
            async () =>
              Number(
                await page
                  .locator(`[data-test=metrics-${leader}] [data-test=metrics-committed]`)
                  .innerText(),
              ),
            POLL,
          )
          .toBeGreaterThanOrEqual(before + 20)
        await expect
          .poll(
            async () =>
              Number(await page.locator('[data-test=metrics-charts]').getAttribute('data-points')),
            POLL,
          )
          .toBeGreaterThanOrEqual(4)
        expect(await page.locator('[data-test=metrics] .u-legend').count()).toBe(4)
        await page.screenshot({ path: join(SHOTS, 'cluster-etcd-dark.png'), fullPage: true })
        // The local raftdesk cluster serves no /metrics: the view says so, in one sentence.
        await page.locator('[data-test=connection-select]').selectOption('local')
        await expect
          .poll(() => page.locator('[data-test=metrics-none]').innerText(), POLL)
          .toContain('serve no Prometheus metrics')
      } finally {
        await etcd.stop()
        rmSync(dir, { recursive: true, force: true })
      }
    },
    90_000,
  )

  it('looks right in the light theme too, and never logged an error', async () => {
    await page.emulateMedia({ colorScheme: 'light' })
    await page.locator('[data-test=nav-cluster]').click()
    await page.locator('[data-test=maintenance]').waitFor()
    // Opened again, the compaction form offers the newest revision at once.
    await expect
      .poll(() => page.locator('[data-test=compact-revision]').inputValue(), POLL)
      .toMatch(/^\d+$/)
    await page.screenshot({ path: join(SHOTS, 'cluster-maintenance-light.png') })
    await page.locator('[data-test=nav-raft]').click()
    await page.locator('[data-test=raft-tab-dashboard]').click()
    await expect.poll(leaderName, POLL).toMatch(/leads/)
    await page.screenshot({ path: join(SHOTS, 'raft-dashboard-light.png') })
    await page.locator('[data-test=raft-tab-log]').click()
    await expect.poll(() => page.locator('[data-test^=log-cell-]').count(), POLL).toBeGreaterThan(3)
    await page.screenshot({ path: join(SHOTS, 'raft-log-light.png') })
    await page.locator('[data-test=raft-tab-snapshots]').click()
    await page.locator('[data-test=snap-browse]').first().click()
    await page.locator('[data-test=snap-key]').first().waitFor(POLL)
    await page.screenshot({ path: join(SHOTS, 'raft-snapshot-keys-light.png') })
    await page.locator('[data-test=raft-tab-dashboard]').click()
    await page.locator('[data-test=join-open]').click()
    await page.locator('[data-test=join-dialog]').waitFor(POLL)
    await page.screenshot({ path: join(SHOTS, 'raft-join-dialog-light.png') })
    await page.keyboard.press('Escape')
    expect(problems).toEqual([])
  })
})
