/**
 * Summarises V8 .cpuprofile files (from `node --cpu-prof`): the functions with the most self time,
 * and self time by where the code lives (a package under node_modules, a project directory, or
 * Node itself), as a share of the samples.
 *
 *   tsx test/bench/profile-top.ts FILE.cpuprofile [...] [--top 40]
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

const { values, positionals } = parseArgs({
  options: { top: { type: 'string' } },
  allowPositionals: true,
})
const top = Number(values.top ?? 40)

/** Where a frame's code lives: a package, a project directory, or Node's own code. */
function placeOf(url: string): string {
  if (url === '') return '(native / VM)'
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0]
  const nm = url.lastIndexOf('/node_modules/')
  if (nm >= 0) {
    const parts = url.slice(nm + 14).split('/')
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!
  }
  const m = /\/(node-core\/[^/]+)\//.exec(url)
  return m ? m[1]! : url
}

for (const file of positionals) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const selfUs = new Map<number, number>()
  let totalUs = 0
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0
    selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + dt)
    totalUs += dt
  }
  const byFn = new Map<string, number>()
  const byPlace = new Map<string, number>()
  for (const [id, us] of selfUs) {
    const f = byId.get(id)!.callFrame
    const short = f.url.replace(/^.*\/(node_modules|node-core)\//, '$1/')
    const fn = `${f.functionName || '(anonymous)'}  ${short}:${f.lineNumber + 1}`
    byFn.set(fn, (byFn.get(fn) ?? 0) + us)
    const place = placeOf(f.url)
    byPlace.set(place, (byPlace.get(place) ?? 0) + us)
  }
  const idle = [...byFn].filter(([k]) => k.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0)
  const busy = totalUs - idle
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`
  console.log(
    `\n== ${file}: ${(busy / 1000).toFixed(0)} ms busy of ${(totalUs / 1000).toFixed(0)} ms`,
  )
  console.log('-- by place')
  for (const [k, v] of [...byPlace].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
    if (k !== '(native / VM)' || v !== idle) console.log(`${pct(v)}  ${k}`)
  }
  console.log('-- by function (self)')
  for (const [k, v] of [...byFn]
    .filter(([k]) => !k.startsWith('(idle)'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)) {
    console.log(`${pct(v)}  ${k}`)
  }
}
