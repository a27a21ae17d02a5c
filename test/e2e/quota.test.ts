// --quota-backend-bytes and the NOSPACE alarm, with etcdctl 3.4, on a real etcd 3.4 and on a
// 3-member raftdesk cluster, both started with a small quota: writes fill the store until they
// are refused with etcd's error; the alarm is raised and held by every member (and survives a
// restart on raftdesk); reads, deletes, compaction and defragmentation go on while puts, txns
// that put and lease grants are refused; after compact + defrag + disarm, writes work again.
// The etcdctl transcript after the store is full must be the same on both (member ids and
// counts that depend on each store's layout are normalised).
import { afterAll, describe, expect, it } from 'vitest'
import { startTestCluster, type TestCluster } from '../helpers/cluster'
import {
  etcdctl,
  etcdctlError,
  shouldRunEtcdTests,
  startReferenceEtcd,
  type ReferenceEtcd,
} from '../node-core/api/harness'

const QUOTA_BYTES = 1_500_000
const VALUE = 'x'.repeat(100_000)

/** Puts 100 kB values until one is refused; returns how many went in and the refusal. */
async function fill(endpoint: string): Promise<{ puts: number; error: string }> {
  for (let i = 0; i < 200; i++) {
    const r = await etcdctl(endpoint, ['put', `big/${String(i).padStart(3, '0')}`, VALUE])
    if (r.code !== 0) return { puts: i, error: etcdctlError(r) }
  }
  return { puts: 200, error: '' }
}

async function revision(endpoint: string): Promise<string> {
  const r = await etcdctl(endpoint, ['get', 'none', '-w', 'json'])
  return String((JSON.parse(r.stdout) as { header: { revision: number } }).header.revision)
}

/** What etcdctl printed, with member ids, endpoints and counts made comparable. */
function normalise(text: string): string {
  const lines = text
    .replace(/memberID:\d+/g, 'memberID:ID')
    .replace(/member\[[^\]]+\]/g, 'member[ENDPOINT]')
    .replace(/compacted revision \d+/, 'compacted revision REV')
    .trim()
    .split('\n')
  // One line per member: a 3-member cluster says three times what one etcd says once.
  return [...new Set(lines)].join('\n')
}

/** The steps after the store is full, on `endpoint`; defrag runs on every member (`all`). */
async function afterFull(endpoint: string, all: string): Promise<string[]> {
  const out: string[] = []
  const step = async (args: string[], input?: string) => {
    const r = await etcdctl(endpoint, args, input ? { input } : {})
    const shown = args[0] === 'compaction' ? ['compaction', 'REV'] : args
    out.push(`${shown.join(' ')} -> ${r.code} ${normalise(r.stdout)} ${etcdctlError(r)}`)
    return r
  }
  await step(['alarm', 'list'])
  await step(['put', 'small', 'x'])
  await step(['lease', 'grant', '10'])
  await step(['txn'], 'value("big/000") = "nope"\n\nget small\n\nput other y\n\n')
  await step(['txn'], 'value("big/000") = "nope"\n\nget small\n\nget big/000 --keys-only\n\n')
  await step(['get', 'big/000', '--keys-only'])
  const deleted = await etcdctl(endpoint, ['del', 'big/', '--prefix'])
  out.push(`del big/ --prefix -> ${deleted.code}`)
  await step(['compaction', await revision(endpoint), '--physical'])
  const defrag = await etcdctl(all, ['defrag'])
  out.push(`defrag (every member) -> ${defrag.code} ${normalise(defrag.stdout)}`)
  await step(['put', 'small', 'x']) // still capped: the alarm stays until it is disarmed
  await step(['alarm', 'disarm'])
  await step(['alarm', 'list'])
  await step(['put', 'small', 'x'])
  await step(['get', 'small', '--print-value-only'])
  return out
}

describe.runIf(shouldRunEtcdTests())('quota and the NOSPACE alarm: raftdesk vs etcd 3.4', () => {
  let etcd: ReferenceEtcd | undefined
  let tc: TestCluster | undefined
  afterAll(async () => {
    await etcd?.stop()
    await tc?.dispose()
  })

  it('fills, refuses, keeps reads and deletes, and comes back after compact + defrag + disarm', async () => {
    etcd = await startReferenceEtcd([`--quota-backend-bytes=${QUOTA_BYTES}`])
    const theirFill = await fill(etcd.endpoint)
    expect(theirFill.error).toBe('Error: etcdserver: mvcc: database space exceeded')
    const expected = await afterFull(etcd.endpoint, etcd.endpoint)
    await etcd.stop()
    etcd = undefined

    tc = await startTestCluster({ etcd: { quotaBackendBytes: QUOTA_BYTES } })
    await tc.cluster.waitForLeader()
    const endpoints = [...tc.endpoints.values()]
    const n2 = tc.endpoints.get('n2')!
    const ourFill = await fill(n2)
    expect(ourFill.error).toBe('Error: etcdserver: mvcc: database space exceeded')
    expect(ourFill.puts).toBeGreaterThan(3)

    // Every member holds the alarm, and shows it in its status; it survives a restart.
    const status = await etcdctl(endpoints.join(','), ['endpoint', 'status', '-w', 'json'])
    const errors = (JSON.parse(status.stdout) as Array<{ Status: { errors?: string[] } }>).map(
      (s) => (s.Status.errors ?? []).map(normalise),
    )
    expect(errors).toEqual([
      ['memberID:ID alarm:NOSPACE'],
      ['memberID:ID alarm:NOSPACE'],
      ['memberID:ID alarm:NOSPACE'],
    ])
    await tc.cluster.restart('n3')
    await tc.cluster.waitForLeader()
    const afterRestart = await etcdctl(tc.endpoints.get('n3')!, ['put', 'small', 'x'])
    expect(etcdctlError(afterRestart)).toBe('Error: etcdserver: mvcc: database space exceeded')

    const actual = await afterFull(n2, endpoints.join(','))
    if (process.env['DUMP']) console.log([...expected, '---', ...actual].join('\n'))
    expect(actual).toEqual(
      expected.map((line) =>
        line.replace(/--endpoints \S+ /, `--endpoints ${endpoints.join(',')} `),
      ),
    )
  }, 180_000)
})

describe.runIf(shouldRunEtcdTests())('--max-request-bytes and --max-txn-ops', () => {
  let tc: TestCluster | undefined
  afterAll(async () => {
    await tc?.dispose()
  })

  it('refuses larger requests and longer txns with etcd errors on every member', async () => {
    tc = await startTestCluster({ etcd: { maxRequestBytes: 4096, maxTxnOps: 2 } })
    await tc.cluster.waitForLeader()
    for (const endpoint of tc.endpoints.values()) {
      const big = await etcdctl(endpoint, ['put', 'big', 'x'.repeat(5000)])
      expect(etcdctlError(big)).toBe('Error: etcdserver: request is too large')
      const fits = await etcdctl(endpoint, ['put', 'fits', 'x'.repeat(3000)])
      expect(fits.stdout.trim()).toBe('OK')
      const long = await etcdctl(endpoint, ['txn'], { input: '\nput a 1\nput b 2\nput c 3\n\n\n' })
      expect(etcdctlError(long)).toBe('Error: etcdserver: too many operations in txn request')
      const short = await etcdctl(endpoint, ['txn'], { input: '\nput a 1\nput b 2\n\n\n' })
      expect(short.stdout.trim()).toBe('SUCCESS\n\nOK\n\nOK')
    }
  }, 60_000)
})
