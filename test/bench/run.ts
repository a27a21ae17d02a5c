/**
 * `npm run bench -- [name ...]`: runs the benchmarks one after another, each in its own
 * process (so one's heap and caches do not colour the next), and prints their figures.
 * Names: raft-core, wal, mvcc, transport, linearizability, node-reopen, cluster, failover, ui,
 * dashboard, vs-etcd. Default: all but the slow node-reopen, cluster, failover, ui, dashboard and vs-etcd (run
 * them by name).
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

const ALL = [
  'raft-core',
  'wal',
  'mvcc',
  'transport',
  'linearizability',
  'node-reopen',
  'cluster',
  'failover',
  'ui',
  'dashboard',
  'vs-etcd',
]
const SLOW = ['node-reopen', 'cluster', 'failover', 'ui', 'dashboard', 'vs-etcd']
const DEFAULT = ALL.filter((n) => !SLOW.includes(n))
const args = process.argv.slice(2)
const names = args.filter((a) => !a.startsWith('-'))
const passThrough = args.filter((a) => a.startsWith('-'))
const unknown = names.filter((n) => !ALL.includes(n))
if (unknown.length > 0) {
  console.error(`bench: unknown benchmark ${unknown.join(', ')} (have ${ALL.join(', ')})`)
  process.exit(2)
}
let failed = 0
for (const name of names.length > 0 ? names : DEFAULT) {
  console.log(`\n=== ${name}`)
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--expose-gc', join(import.meta.dirname, `${name}.ts`), ...passThrough],
    { stdio: 'inherit' },
  )
  if (r.status !== 0) {
    failed++
    console.error(`bench: ${name} exited with ${r.status ?? r.signal}`)
  }
}
process.exit(failed > 0 ? 1 : 0)
