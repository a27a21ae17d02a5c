/**
 * Summarises V8 .cpuprofile files (from `node --cpu-prof`): the functions with the most self time,
 * and self time by where the code lives (a package under node_modules, a project directory, or
 * Node itself), as a share of the busy samples. Frames in the nodes' bundle (node-bundle.ts) are
 * named by the source file they came from (line numbers stay the bundle's).
 *
 *   tsx test/bench/profile-top.ts FILE.cpuprofile [...] [--top 40]
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
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

/**
 * For a bundle esbuild wrote (the nodes run node-bundle.ts's): the source file each line came
 * from, from the `// node-core/...` comment esbuild puts before each module.
 */
const bundleSources = new Map<string, Array<{ line: number; file: string }>>()
function sourceOf(url: string, line: number): string | undefined {
  if (!url.endsWith('.mjs') || !url.includes('/.cache/')) return undefined
  let sections = bundleSources.get(url)
  if (sections === undefined) {
    sections = []
    const lines = readFileSync(fileURLToPath(url), 'utf8').split('\n')
    lines.forEach((text, i) => {
      const m = /^\/\/ (node-core\/\S+)$/.exec(text)
      if (m) sections!.push({ line: i, file: m[1]! })
    })
    bundleSources.set(url, sections)
  }
  let file: string | undefined
  for (const sec of sections) {
    if (sec.line > line) break
    file = sec.file
  }
  return file
}

/** Where a frame's code lives: a package, a project directory, or Node's own code. */
function placeOf(url: string, line: number): string {
  if (url === '') return '(native / VM)'
  const source = sourceOf(url, line)
  if (source !== undefined) return source.split('/').slice(0, 2).join('/')
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
    const short =
      sourceOf(f.url, f.lineNumber) ?? f.url.replace(/^.*\/(node_modules|node-core)\//, '$1/')
    const fn = `${f.functionName || '(anonymous)'}  ${short}:${f.lineNumber + 1}`
    byFn.set(fn, (byFn.get(fn) ?? 0) + us)
    const place = f.functionName === '(idle)' ? '(idle)' : placeOf(f.url, f.lineNumber)
    byPlace.set(place, (byPlace.get(place) ?? 0) + us)
  }
  const idle = [...byFn].filter(([k]) => k.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0)
  const busy = totalUs - idle
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`
  console.log(
    `\n== ${file}: ${(busy / 1000).toFixed(0)} ms busy of ${(totalUs / 1000).toFixed(0)} ms`,
  )
  console.log('-- by place')
  for (const [k, v] of [...byPlace]
    .filter(([k]) => k !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, 20)) {
    console.log(`${pct(v)}  ${k}`)
  }
  console.log('-- by function (self)')
  for (const [k, v] of [...byFn]
    .filter(([k]) => !k.startsWith('(idle)'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)) {
    console.log(`${pct(v)}  ${k}`)
  }
}
