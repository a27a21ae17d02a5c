/**
 * The Raft dashboard under a steady write load, with 3 and 5 local nodes: the window (web mode,
 * Debian's Chromium) alternately on the About panel (dashboard closed) and on the Raft dashboard
 * (open, live), A B A B after one uncounted warm-up, the same load in every round. Per round:
 *   - writes/s achieved by the load (puts, 16 in flight, from this process);
 *   - the members' CPU per write (user + system from /proc/PID/stat of every node process);
 *   - messages/s the window received over its WebSocket, and the renderer's busy time per
 *     second (CDP Performance metrics: script, layout and style work) and JS heap;
 * and the ratios open/closed. The window and the services run in this process too, as in
 * `npm run serve`, so their cost shows in the throughput as well.
 *
 *   npm run bench -- dashboard [--nodes 3,5] [--seconds 8] [--rounds 2]
 *
 * A benchmark, not a test: it prints a table and writes test-results/bench/dashboard.json.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { CDPSession, Page } from 'playwright-core'
import { ForkLauncher } from '../../node-core/cluster/launcher'
import { LocalCluster } from '../../node-core/cluster/supervisor'
import { EtcdClient } from '../../node-core/client/etcd-client'
import { Connections } from '../../node-core/services/connections'
import { createServices } from '../../node-core/services/index'
import { startWebUi } from '../../node-core/services/web'
import { launchChromium } from '../helpers/chromium'
import { freePortBlock } from '../helpers/ports'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3,5' },
    seconds: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
  },
})
const NODE_COUNTS = values.nodes!.split(',').map(Number)
const SECONDS = Number(values.seconds)
const ROUNDS = Number(values.rounds)
const IN_FLIGHT = 16
const TICKS_PER_S = 100

/** user + system CPU seconds of a process so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S
}

async function load(endpoints: string[], seconds: number): Promise<number> {
  const clients = endpoints.map((e) => new EtcdClient(e, { timeoutMs: 10_000 }))
  const until = performance.now() + seconds * 1000
  let done = 0
  let failed = 0
  const value = 'v'.repeat(256)
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async (_, w) => {
      const c = clients[w % clients.length]!
      for (let i = 0; performance.now() < until; i++) {
        try {
          await c.put(`load/${w}/${i % 100}`, value)
          done++
        } catch (err) {
          failed++
          if (failed === 1)
            console.error(`a put failed (counted, the load goes on): ${String(err)}`)
        }
      }
    }),
  )
  for (const c of clients) c.close()
  return done
}

async function rendererMetrics(cdp: CDPSession): Promise<Record<string, number>> {
  const { metrics } = (await cdp.send('Performance.getMetrics')) as {
    metrics: Array<{ name: string; value: number }>
  }
  return Object.fromEntries(metrics.map((m) => [m.name, m.value]))
}

interface Round {
  nodes: number
  dashboard: 'closed' | 'open'
  writesPerS: number
  memberCpuMsPerWrite: number
  windowMessagesPerS: number
  rendererBusyMsPerS: number
  rendererHeapMb: number
}

async function round(
  cluster: LocalCluster,
  page: Page,
  cdp: CDPSession,
  frames: { n: number },
  open: boolean,
): Promise<Round> {
  await page.locator(open ? '[data-test=nav-raft]' : '[data-test=nav-about]').click()
  if (open) await page.locator('[data-test=raft-dashboard]').waitFor()
  await new Promise((r) => setTimeout(r, 500))
  const pids = cluster.list().map((n) => n.pid!)
  const cpu0 = pids.reduce((a, p) => a + cpuSeconds(p), 0)
  const m0 = await rendererMetrics(cdp)
  const f0 = frames.n
  const t0 = performance.now()
  const writes = await load(
    cluster.list().map((n) => n.endpoint),
    SECONDS,
  )
  const s = (performance.now() - t0) / 1000
  const cpu1 = pids.reduce((a, p) => a + cpuSeconds(p), 0)
  const m1 = await rendererMetrics(cdp)
  const busy = (k: string) => (m1[k] ?? 0) - (m0[k] ?? 0)
  return {
    nodes: pids.length,
    dashboard: open ? 'open' : 'closed',
    writesPerS: Math.round(writes / s),
    memberCpuMsPerWrite: +(((cpu1 - cpu0) * 1000) / writes).toFixed(3),
    windowMessagesPerS: +((frames.n - f0) / s).toFixed(1),
    rendererBusyMsPerS: +(
      ((busy('ScriptDuration') + busy('LayoutDuration') + busy('RecalcStyleDuration')) * 1000) /
      s
    ).toFixed(1),
    rendererHeapMb: +((m1['JSHeapUsedSize'] ?? 0) / 1024 / 1024).toFixed(1),
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

async function measure(nodes: number): Promise<Round[]> {
  const dir = mkdtempSync(join(tmpdir(), 'raftdesk-bench-dash-'))
  const cluster = await LocalCluster.start({
    nodes,
    dataDir: dir,
    clientPort: await freePortBlock(nodes),
    logLevel: 'warn',
    launcher: new ForkLauncher({
      onStderrLine: (name, line) => process.env['BENCH_NODE_LOGS'] && console.error(name, line),
    }),
  })
  await cluster.waitForLeader()
  const conns = new Connections()
  conns.add({
    id: 'local',
    name: 'local',
    endpoints: cluster.list().map((n) => n.endpoint),
    builtin: true,
  })
  const ui = await startWebUi({
    host: '127.0.0.1',
    port: 0,
    dataDir: dir,
    // Its own directory: the window is built into it, and the build empties it first.
    rendererDir: mkdtempSync(join(tmpdir(), 'raftdesk-bench-dash-ui-')),
    services: createServices(
      { name: 'raftdesk', version: 'bench', host: 'web', dataDir: dir },
      conns,
      Promise.resolve(cluster),
    ),
  })
  const browser = await launchChromium()
  try {
    const page = await (
      await browser.newContext({ viewport: { width: 1280, height: 800 } })
    ).newPage()
    const frames = { n: 0 }
    page.on('websocket', (ws) => ws.on('framereceived', () => frames.n++))
    const cdp = await page.context().newCDPSession(page)
    await cdp.send('Performance.enable')
    await page.goto(ui.url)
    await page.locator('[data-test=nav-about]').waitFor()
    // A round that is not counted: the nodes' and this process's JIT warm up on it.
    await load(
      cluster.list().map((n) => n.endpoint),
      SECONDS,
    )
    const rounds: Round[] = []
    for (let r = 0; r < ROUNDS; r++) {
      for (const open of [false, true]) {
        const r = await round(cluster, page, cdp, frames, open)
        console.log(JSON.stringify(r))
        rounds.push(r)
      }
    }
    return rounds
  } finally {
    await browser.close()
    await ui.close()
    conns.closeAll()
    await cluster.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

const all: Round[] = []
for (const n of NODE_COUNTS) all.push(...(await measure(n)))

const rows = NODE_COUNTS.flatMap((nodes) =>
  (['closed', 'open'] as const).map((dashboard) => {
    const rs = all.filter((r) => r.nodes === nodes && r.dashboard === dashboard)
    const pick = (k: keyof Round) => +median(rs.map((r) => r[k] as number)).toFixed(2)
    return {
      nodes,
      dashboard,
      writesPerS: pick('writesPerS'),
      memberCpuMsPerWrite: pick('memberCpuMsPerWrite'),
      windowMessagesPerS: pick('windowMessagesPerS'),
      rendererBusyMsPerS: pick('rendererBusyMsPerS'),
      rendererHeapMb: pick('rendererHeapMb'),
    }
  }),
)
console.log(
  '| nodes | dashboard | writes/s | members CPU ms/write | window msgs/s | renderer busy ms/s | renderer heap MB |',
)
console.log('|---|---|---|---|---|---|---|')
for (const r of rows) {
  console.log(
    `| ${r.nodes} | ${r.dashboard} | ${r.writesPerS} | ${r.memberCpuMsPerWrite} | ${r.windowMessagesPerS} | ${r.rendererBusyMsPerS} | ${r.rendererHeapMb} |`,
  )
}
for (const n of NODE_COUNTS) {
  const c = rows.find((r) => r.nodes === n && r.dashboard === 'closed')!
  const o = rows.find((r) => r.nodes === n && r.dashboard === 'open')!
  console.log(
    `${n} nodes: writes/s open/closed ${(o.writesPerS / c.writesPerS).toFixed(3)}, member CPU per write open/closed ${(o.memberCpuMsPerWrite / c.memberCpuMsPerWrite).toFixed(3)}`,
  )
}
const out = join(import.meta.dirname, '../../test-results/bench')
mkdirSync(out, { recursive: true })
writeFileSync(join(out, 'dashboard.json'), JSON.stringify({ rounds: all, rows }, null, 2))
process.exit(0)
