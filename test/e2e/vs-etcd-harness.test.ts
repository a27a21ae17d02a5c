// The vs-etcd benchmark's harness on a tiny workload: it builds the Go load generator, starts a
// 3-node raftdesk and a 3-member etcd, drives both with and without auth, and writes a table, a
// JSON report and a chart whose numbers are real (operations counted, no errors, the members'
// CPU measured). The benchmark's figures themselves are not judged here: that is `npm run bench`.
//
// Needs etcd, etcdctl, Go and clientv3's source (Debian's etcd-server, etcd-client, golang-go,
// golang-etcd-server-dev): skipped without them locally, failing under CI=true.
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { requireEtcdBinaries, shouldRunEtcdTests } from '../node-core/api/harness'

const run = promisify(execFile)
const CLIENTV3 = '/usr/share/gocode/src/go.etcd.io/etcd/clientv3'
const goAvailable = existsSync('/usr/bin/go') && existsSync(CLIENTV3)

function shouldRun(): boolean {
  if (goAvailable && shouldRunEtcdTests()) return true
  if (process.env['CI'] === 'true') return true
  console.warn(`skipping the vs-etcd harness test: needs etcd, /usr/bin/go and ${CLIENTV3}`)
  return false
}

interface Side {
  opsPerS: number
  p50Ms: number
  p99Ms: number
  cpuMsPerOp: number
  errors: number
}
interface Row {
  workload: string
  raftdesk: Side
  etcd: Side
  throughputRatio: number
}

describe.runIf(shouldRun())('the vs-etcd benchmark harness', () => {
  const out = mkdtempSync(join(tmpdir(), 'raftdesk-vs-etcd-test-'))
  afterAll(() => rmSync(out, { recursive: true, force: true }))

  it('measures both systems, with and without auth, and writes JSON, a table and a chart', async () => {
    expect(goAvailable, `needs /usr/bin/go and ${CLIENTV3}`).toBe(true)
    requireEtcdBinaries()
    const script = join(import.meta.dirname, '../bench/vs-etcd.ts')
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        script,
        '--quick',
        '--rounds=1',
        '--seconds=0.5',
        '--only=put, 1 in',
        '--only=put, 16 in flight, auth',
        `--out=${out}`,
      ],
      { timeout: 170_000 },
    )
    const report = JSON.parse(readFileSync(join(out, 'vs-etcd.json'), 'utf8')) as { rows: Row[] }
    expect(report.rows.map((r) => r.workload)).toEqual([
      'put, 1 in flight',
      'put, 16 in flight, auth',
    ])
    for (const row of report.rows) {
      for (const side of [row.raftdesk, row.etcd]) {
        expect(side.errors, row.workload).toBe(0)
        expect(side.opsPerS, row.workload).toBeGreaterThan(20)
        expect(side.p50Ms, row.workload).toBeGreaterThan(0)
        expect(side.p99Ms, row.workload).toBeGreaterThanOrEqual(side.p50Ms)
        expect(side.cpuMsPerOp, row.workload).toBeGreaterThan(0)
      }
      expect(row.throughputRatio).toBeCloseTo(row.raftdesk.opsPerS / row.etcd.opsPerS, 6)
    }
    const table = readFileSync(join(out, 'vs-etcd.md'), 'utf8')
    expect(table).toContain('| put, 16 in flight, auth |')
    expect(stdout).toContain(table.trim())
    const svg = readFileSync(join(out, 'vs-etcd.svg'), 'utf8')
    expect(svg.startsWith('<svg')).toBe(true)
    expect(svg).toContain('put, 16 in flight, auth')
    expect(svg).toContain(report.rows[0]!.throughputRatio.toFixed(2))
  }, 180_000)
})
