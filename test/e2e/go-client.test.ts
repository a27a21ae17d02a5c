// etcd's own Go client (clientv3 of etcd 3.4, what Kubernetes and most etcd tools use) against a
// real 3-member etcd and a 3-node raftdesk cluster: KV, txn, watch with previous values, leases,
// and the concurrency recipes built on them (mutex, election, STM), then auth with a non-root user
// limited to a prefix (puts, reads, txn, watch, a mutex, refusals). test/go/clientcheck prints one
// line per observation, without ids or revisions; the two transcripts must be identical.
//
// It builds offline from Debian's golang-go and golang-etcd-server-dev (GO111MODULE=off, a GOPATH
// that includes /usr/share/gocode). Without them the test is skipped locally and fails under
// CI=true.
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEtcdCluster, type EtcdCluster } from '../helpers/etcd'
import { startTestCluster, type TestCluster } from '../helpers/cluster'
import { requireEtcdBinaries, shouldRunEtcdTests } from '../node-core/api/harness'

const run = promisify(execFile)
const GOCODE = '/usr/share/gocode'
const CLIENTV3 = join(GOCODE, 'src/go.etcd.io/etcd/clientv3')
const goAvailable = existsSync('/usr/bin/go') && existsSync(CLIENTV3)

function shouldRun(): boolean {
  if (goAvailable && shouldRunEtcdTests()) return true
  if (process.env['CI'] === 'true') return true
  console.warn(`skipping the Go client test: needs /usr/bin/go and ${CLIENTV3}`)
  return false
}

describe.runIf(shouldRun())("etcd's Go client (clientv3 3.4)", () => {
  let dir = ''
  let binary = ''
  let raftdesk: TestCluster | null = null
  let etcd: EtcdCluster | null = null

  beforeAll(async () => {
    if (!goAvailable) {
      throw new Error(
        `the Go client test needs /usr/bin/go and ${CLIENTV3} (CI=${process.env['CI'] ?? ''}): ` +
          'install the Debian packages golang-go and golang-etcd-server-dev',
      )
    }
    requireEtcdBinaries()
    dir = mkdtempSync(join(tmpdir(), 'raftdesk-go-'))
    mkdirSync(join(dir, 'gopath', 'src'), { recursive: true })
    symlinkSync(join(import.meta.dirname, '../go/clientcheck'), join(dir, 'gopath/src/clientcheck'))
    binary = join(dir, 'clientcheck')
    await run('go', ['build', '-o', binary, 'clientcheck'], {
      cwd: join(dir, 'gopath'),
      env: {
        ...process.env,
        GO111MODULE: 'off',
        GOPATH: `${join(dir, 'gopath')}:${GOCODE}`,
        GOFLAGS: '',
      },
    })
    ;[raftdesk, etcd] = await Promise.all([
      startTestCluster(),
      startEtcdCluster({ dir: join(dir, 'etcd') }),
    ])
    await raftdesk.cluster.waitForLeader()
  }, 240_000)

  afterAll(async () => {
    await Promise.all([raftdesk?.dispose(), etcd?.stop()])
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('sees the same KV, txn, watch, lease, mutex, election and STM results as on etcd', async () => {
    const transcript = async (endpoints: Iterable<string>) => {
      const r = await run(binary, [[...endpoints].join(',')], { timeout: 90_000 })
      return r.stdout
    }
    const theirs = await transcript(etcd!.endpoints.values())
    const ours = await transcript(raftdesk!.endpoints.values())
    expect(theirs.trim().split('\n').at(-1)).toBe('DONE')
    expect(ours).toBe(theirs)
    expect(ours).toContain('stm: 8 clients x 5 increments -> 40')
    if (process.env['DUMP']) console.log(ours)
    // The auth part ran to its end, with permissions granted and denied.
    expect(ours).toContain('auth: alice put other: etcdserver: permission denied')
    expect(ours).toContain('auth: alice took and released app/lock')
  }, 180_000)
})
