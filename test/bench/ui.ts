/**
 * The key browser with many keys, raftdesk beside a real etcd 3.4 in one run: the same built
 * window (web mode, Debian's Chromium) on a 3-member cluster of each, filled with the same keys
 * (`bench/fNN/kNNNNN`, folders of 10,000), and for each size and target:
 *   - first rows: from opening the page to the tree's first row (cold, then reopened with the
 *     page's files cached, as an installed app opens);
 *   - expand: from clicking a folder of 10,000 keys to its first rows;
 *   - scroll: frame intervals while wheeling through that folder (its pages load as they come
 *     into view), p50 / p95 / max, and frames longer than 50 ms;
 *   - value search: keys scanned per second by a search of every value;
 *   - heap: the renderer's JavaScript heap after all that, after a garbage collection.
 *
 *   npm run bench -- ui [--keys 100000,1000000] [--only raftdesk|etcd]
 *
 * A benchmark, not a test: it prints a table and writes test-results/bench/ui.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { Page } from 'playwright-core'
import { ForkLauncher } from '../../node-core/cluster/launcher'
import { LocalCluster } from '../../node-core/cluster/supervisor'
import { Connections } from '../../node-core/services/connections'
import { createServices } from '../../node-core/services/index'
import { startWebUi } from '../../node-core/services/web'
import { launchChromium } from '../helpers/chromium'
import { ETCD_BINARY, startEtcdCluster } from '../helpers/etcd'
import { freePortBlock } from '../helpers/ports'

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '100000,1000000' },
    only: { type: 'string' },
  },
})
const sizes = values.keys!.split(',').map(Number)
const FOLDER_KEYS = 10_000
const VALUE = 'x'.repeat(200)

interface Target {
  endpoints: string[]
  stop(): Promise<void>
}

async function startRaftdesk(dir: string): Promise<Target> {
  const cluster = await LocalCluster.start({
    nodes: 3,
    dataDir: dir,
    clientPort: await freePortBlock(3),
    logLevel: 'warn',
    launcher: new ForkLauncher({ onStderrLine: () => {} }),
  })
  await cluster.waitForLeader()
  return { endpoints: cluster.list().map((n) => n.endpoint), stop: () => cluster.stop() }
}

async function startEtcd(dir: string): Promise<Target> {
  const c = await startEtcdCluster({ dir, binary: ETCD_BINARY })
  await c.leader()
  return { endpoints: [...c.endpoints.values()], stop: () => c.stop() }
}

/** Puts `n` keys in transactions of 128, 16 in flight; returns the seconds it took. */
async function fill(conns: Connections, n: number): Promise<number> {
  const kv = conns.get('local').client.kv
  const t0 = performance.now()
  const batches: Array<() => Promise<unknown>> = []
  for (let at = 0; at < n; at += 128) {
    batches.push(() =>
      kv.txn({
        compare: [],
        success: Array.from({ length: Math.min(128, n - at) }, (_, j) => {
          const i = at + j
          const folder = String(Math.floor(i / FOLDER_KEYS)).padStart(3, '0')
          const key = `bench/f${folder}/k${String(i % FOLDER_KEYS).padStart(5, '0')}`
          // One value in 25,000 holds the needle the search looks for.
          const value = i % 25_000 === 7 ? `${VALUE}needle` : VALUE
          return { request_put: { key: Buffer.from(key), value: Buffer.from(value) } }
        }),
        failure: [],
      }),
    )
  }
  for (let i = 0; i < batches.length; i += 16) {
    await Promise.all(batches.slice(i, i + 16).map((f) => f()))
  }
  return (performance.now() - t0) / 1000
}

/** Frame intervals (ms) while `during` runs, measured by requestAnimationFrame in the page. */
async function frames(page: Page, during: () => Promise<void>): Promise<number[]> {
  // Passed as text: tsx names functions with a helper the page does not have.
  await page.evaluate(`(() => {
    window.__frames = []
    window.__stop = false
    let last = performance.now()
    const tick = (now) => {
      window.__frames.push(now - last)
      last = now
      if (!window.__stop) requestAnimationFrame(tick)
    }
    requestAnimationFrame(tick)
  })()`)
  await during()
  return page.evaluate(`(() => { window.__stop = true; return window.__frames.slice(1) })()`)
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0
}

interface Row {
  target: string
  keys: number
  fillS: number
  firstRowsMs: number
  reopenMs: number
  expandMs: number
  frameP50Ms: number
  frameP95Ms: number
  frameMaxMs: number
  longFrames: number
  frameCount: number
  searchKeysPerS: number
  heapMB: number
}

async function measure(target: string, t: Target, keys: number): Promise<Row> {
  const conns = new Connections()
  conns.add({ id: 'local', name: target, endpoints: t.endpoints, builtin: true, timeoutMs: 60_000 })
  const fillS = await fill(conns, keys)
  const rendererDir = mkdtempSync(join(tmpdir(), 'raftdesk-bench-ui-'))
  const ui = await startWebUi({
    host: '127.0.0.1',
    port: 0,
    dataDir: rendererDir,
    rendererDir,
    services: createServices(
      { name: 'raftdesk', version: 'bench', host: 'web', dataDir: '' },
      conns,
    ),
  })
  const browser = await launchChromium()
  try {
    const page = await (
      await browser.newContext({ viewport: { width: 1280, height: 800 } })
    ).newPage()
    const tree = page.locator('[data-test=key-tree] [role=treeitem]')
    const row = (name: string) => tree.filter({ hasText: name }).first()

    let t0 = performance.now()
    await page.goto(ui.url)
    await row('bench/').waitFor()
    const firstRowsMs = performance.now() - t0
    // Again, as a window that is already installed opens: the page's files cached.
    t0 = performance.now()
    await page.reload()
    await row('bench/').waitFor()
    const reopenMs = performance.now() - t0

    await row('bench/').click()
    await row('f000/').waitFor()
    t0 = performance.now()
    await row('f000/').click()
    await row('k00000').waitFor()
    const expandMs = performance.now() - t0

    // Wheel down through the folder: 10,000 rows of 28 px, pages of 500 loading on the way.
    await row('k00000').hover()
    const intervals = await frames(page, async () => {
      for (let i = 0; i < 240; i++) {
        await page.mouse.wheel(0, 1200)
        await page.waitForTimeout(16)
      }
    })

    await page.locator('[data-test=search-query]').fill('needle')
    await page.locator('[data-test=search-values]').click()
    t0 = performance.now()
    await page.locator('[data-test=search-query]').press('Enter')
    await page.locator('[data-test=search-close]').waitFor({ timeout: 600_000 })
    const searchS = (performance.now() - t0) / 1000
    await page.locator('[data-test=search-close]').click()

    const cdp = await page.context().newCDPSession(page)
    await cdp.send('HeapProfiler.collectGarbage')
    const heap = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number }
    return {
      target,
      keys,
      fillS,
      firstRowsMs,
      reopenMs,
      expandMs,
      frameP50Ms: pct(intervals, 50),
      frameP95Ms: pct(intervals, 95),
      frameMaxMs: Math.max(...intervals),
      longFrames: intervals.filter((f) => f > 50).length,
      frameCount: intervals.length,
      searchKeysPerS: keys / searchS,
      heapMB: heap.usedSize / 1024 / 1024,
    }
  } finally {
    await browser.close()
    await ui.close()
    conns.closeAll()
    rmSync(rendererDir, { recursive: true, force: true })
  }
}

const root = mkdtempSync(join(tmpdir(), 'raftdesk-bench-ui-data-'))
const rows: Row[] = []
try {
  const targets: Array<[string, (dir: string) => Promise<Target>]> = []
  if (values.only !== 'etcd') targets.push(['raftdesk', startRaftdesk])
  if (values.only !== 'raftdesk') {
    if (existsSync(ETCD_BINARY)) targets.push(['etcd 3.4', startEtcd])
    else console.log(`(no etcd at ${ETCD_BINARY}: raftdesk alone)`)
  }
  for (const keys of sizes) {
    for (const [name, start] of targets) {
      const dir = join(root, `${name.replace(/\W/g, '')}-${keys}`)
      mkdirSync(dir, { recursive: true })
      const t = await start(dir)
      try {
        const r = await measure(name, t, keys)
        rows.push(r)
        console.log(JSON.stringify(r))
      } finally {
        await t.stop()
        rmSync(dir, { recursive: true, force: true })
      }
    }
  }
} finally {
  rmSync(root, { recursive: true, force: true })
}

const f = (x: number, d = 0) =>
  x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
console.log(
  '\n| target | keys | first rows, cold / reopened (ms) | expand 10,000 (ms) | frames p50 / p95 / max (ms) | frames > 50 ms | value search (keys/s) | renderer heap (MB) |',
)
console.log('|---|---|---|---|---|---|---|---|')
for (const r of rows) {
  console.log(
    `| ${r.target} | ${f(r.keys)} | ${f(r.firstRowsMs)} / ${f(r.reopenMs)} | ${f(r.expandMs)} | ${f(r.frameP50Ms, 1)} / ${f(r.frameP95Ms, 1)} / ${f(r.frameMaxMs)} | ${r.longFrames} of ${r.frameCount} | ${f(r.searchKeysPerS)} | ${f(r.heapMB, 1)} |`,
  )
}
mkdirSync(join('test-results', 'bench'), { recursive: true })
writeFileSync(join('test-results', 'bench', 'ui.json'), `${JSON.stringify(rows, null, 2)}\n`)
