// `npm run serve` as a user runs it: a 3-node cluster of real processes, the ready line on
// stdout, etcdctl through every endpoint, a clean stop on SIGINT, and all data back after a
// restart on the same data directory.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  call,
  callError,
  etcdClients,
  etcdctl,
  requireEtcdBinaries,
  shouldRunEtcdTests,
} from '../node-core/api/harness'
import { freePortBlock } from '../helpers/ports'

const root = join(import.meta.dirname, '../..')

interface ReadyLine {
  event: 'ready'
  ui: string | null
  nodes: Array<{ name: string; endpoint: string; peer: string; pid: number; dataDir: string }>
}

interface Serve {
  child: ChildProcess
  ready: Promise<ReadyLine>
  exit: Promise<number | null>
  stderr: string[]
}

function serve(args: string[]): Serve {
  const child = spawn(process.execPath, ['--import', 'tsx', 'node-core/cli/serve.ts', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const stderr: string[] = []
  child.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(d))
  const ready = new Promise<ReadyLine>((resolve, reject) => {
    let buf = ''
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d
      const nl = buf.indexOf('\n')
      if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)) as ReadyLine)
    })
    child.once('exit', (code) =>
      reject(new Error(`serve exited ${code} before ready: ${stderr.join('')}`)),
    )
  })
  // A start that is expected to fail never reads `ready`; its rejection is not an error then.
  ready.catch(() => undefined)
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, ready, exit, stderr }
}

/** `etcdctl get serve/ --prefix` through `endpoint`, a line each. */
async function serveKeys(endpoint: string): Promise<string[]> {
  return (await etcdctl(endpoint, ['get', 'serve/', '--prefix'])).stdout.trim().split('\n')
}

/** What the first test leaves under serve/ (k1 is 'v1', then 'again' after its txn). */
function serveData(k1: string): string[] {
  return ['serve/k0', 'v0', 'serve/k1', k1, 'serve/k2', 'v2']
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe.runIf(shouldRunEtcdTests())('npm run serve', () => {
  let dataDir: string
  let base: number
  let running: Serve | null = null

  beforeAll(async () => {
    requireEtcdBinaries()
    dataDir = mkdtempSync(join(tmpdir(), 'raftdesk-serve-'))
    base = await freePortBlock(3)
  })

  // A test that failed half way leaves its serve running: stop it (and its nodes) so that the
  // next test does not meet a data directory in use, and no process outlives the suite.
  afterEach(async () => {
    const r = running
    running = null
    if (!r || r.child.exitCode !== null) return
    r.child.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const exited = await Promise.race([
      r.exit.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 15_000))),
    ])
    clearTimeout(timer)
    if (exited) return
    r.child.kill('SIGKILL')
    const line = await Promise.race([r.ready, Promise.resolve(null)]).catch(() => null)
    for (const n of line?.nodes ?? []) {
      try {
        process.kill(n.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  })

  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true })
  })

  const flags = () => [
    '--nodes',
    '3',
    '--data-dir',
    dataDir,
    '--client-port',
    String(base),
    '--ui-port',
    '0',
  ]

  it('prints the ready line, serves etcdctl on every endpoint and stops cleanly on SIGINT', async () => {
    running = serve(flags())
    const ready = await running.ready
    expect(ready.event).toBe('ready')
    expect(ready.ui).toBeNull()
    expect(ready.nodes.map((n) => [n.name, n.endpoint, n.peer, n.dataDir])).toEqual(
      [0, 1, 2].map((i) => [
        `n${i + 1}`,
        `127.0.0.1:${base + 100 * i}`,
        `127.0.0.1:${base + 100 * i + 1}`,
        join(dataDir, `n${i + 1}`),
      ]),
    )
    for (const n of ready.nodes) expect(alive(n.pid)).toBe(true)

    // A write through each endpoint, every write read back through every endpoint.
    for (const [i, n] of ready.nodes.entries()) {
      const put = await etcdctl(n.endpoint, ['put', `serve/k${i}`, `v${i}`])
      expect(put.stdout.trim(), put.stderr).toBe('OK')
    }
    for (const n of ready.nodes) {
      expect(await serveKeys(n.endpoint)).toEqual(serveData('v1'))
    }
    const del = await etcdctl(ready.nodes[1]!.endpoint, ['del', 'serve/k1'])
    expect(del.stdout.trim()).toBe('1')
    const txn = await etcdctl(ready.nodes[2]!.endpoint, ['txn'], {
      input: 'version("serve/k1") = "0"\n\nput serve/k1 again\n\nput serve/k1 never\n\n',
    })
    expect(txn.stdout.trim().split('\n')).toEqual(['SUCCESS', '', 'OK'])

    // endpoint status: one leader, one term, the same index everywhere once settled.
    const status = await etcdctl(ready.nodes.map((n) => n.endpoint).join(','), [
      'endpoint',
      'status',
      '-w',
      'json',
    ])
    const rows = JSON.parse(status.stdout) as Array<{
      Status: { leader: number; header: { member_id: number }; raftTerm: number; dbSize: number }
    }>
    expect(rows).toHaveLength(3)
    // What the store takes on disk, like etcd's; a young store is in LevelDB's log, not 0.
    for (const r of rows) expect(r.Status.dbSize).toBeGreaterThan(0)
    const leaders = new Set(rows.map((r) => r.Status.leader))
    expect(leaders.size).toBe(1)
    expect(rows.filter((r) => r.Status.header.member_id === [...leaders][0])).toHaveLength(1)
    expect(new Set(rows.map((r) => r.Status.raftTerm)).size).toBe(1)

    running.child.kill('SIGINT')
    expect(await running.exit).toBe(0)
    for (const n of ready.nodes) expect(alive(n.pid), `node ${n.name} still running`).toBe(false)
    const log = running.stderr.join('')
    expect(log).toMatch(/handed leadership to/)
    expect(log).toMatch(/serve stopped/)
  }, 120_000)

  it('comes back with all its data when started again on the same data directory', async () => {
    running = serve(flags())
    const ready = await running.ready
    expect(await serveKeys(ready.nodes[0]!.endpoint)).toEqual(serveData('again'))
    running.child.kill('SIGTERM')
    expect(await running.exit).toBe(0)
  }, 120_000)

  it('starts a new cluster from a snapshot saved with etcdctl, and refuses bad files and used directories', async () => {
    // A snapshot of the cluster the first test wrote.
    running = serve(flags())
    const ready = await running.ready
    const backup = join(dataDir, 'backup.db')
    const saved = await etcdctl(ready.nodes[1]!.endpoint, ['snapshot', 'save', backup])
    expect(saved.stdout.trim(), saved.stderr).toBe(`Snapshot saved at ${backup}`)
    const revision = Number(
      JSON.parse((await etcdctl(ready.nodes[0]!.endpoint, ['get', 'x', '-w', 'json'])).stdout)
        .header.revision,
    )
    running.child.kill('SIGTERM')
    expect(await running.exit).toBe(0)

    const restoredDir = join(dataDir, 'restored')
    const restoreFlags = (file: string, dir: string) => [
      '--data-dir',
      dir,
      '--client-port',
      String(base),
      '--ui-port',
      '0',
      '--restore',
      file,
    ]
    running = serve(restoreFlags(backup, restoredDir))
    const again = await running.ready
    for (const n of again.nodes) {
      expect(await serveKeys(n.endpoint)).toEqual(serveData('again'))
    }
    // The history goes on from the snapshot's revision.
    const put = await etcdctl(again.nodes[0]!.endpoint, ['put', 'after', 'restore', '-w', 'json'])
    expect(Number(JSON.parse(put.stdout).header.revision)).toBe(revision + 1)
    expect(running.stderr.join('')).toMatch(/restored 3 keys at revision \d+ from/)
    running.child.kill('SIGTERM')
    expect(await running.exit).toBe(0)

    // A used directory, a damaged file and a file that is not a snapshot: refused, nothing written.
    const used = serve(restoreFlags(backup, restoredDir))
    expect(await used.exit).toBe(1)
    expect(used.stderr.join('')).toMatch(/already holds data: give a new --data-dir/)
    const damaged = join(dataDir, 'damaged.db')
    const bytes = readFileSync(backup)
    bytes[100]! ^= 0xff
    writeFileSync(damaged, bytes)
    const fresh = join(dataDir, 'never')
    const bad = serve(restoreFlags(damaged, fresh))
    expect(await bad.exit).toBe(1)
    expect(bad.stderr.join('')).toMatch(/is damaged: its SHA-256 does not match/)
    const notSnapshot = serve(restoreFlags(join(dataDir, 'n1', 'wal'), fresh))
    expect(await notSnapshot.exit).toBe(1)
    expect(notSnapshot.stderr.join('')).toMatch(/wal is not a file \(SAVED_SNAPSHOT_INVALID\)/)
    expect(existsSync(fresh)).toBe(false)
  }, 120_000)

  it('refuses flags that contradict the cluster in the data directory, and bad flags', async () => {
    const mismatch = serve([
      '--nodes',
      '5',
      '--data-dir',
      dataDir,
      '--client-port',
      String(base),
      '--ui-port',
      '0',
    ])
    expect(await mismatch.exit).toBe(1)
    expect(mismatch.stderr.join('')).toMatch(/holds a cluster created with 3 nodes.*--nodes 3/)
    const bad = serve(['--nodes', 'many'])
    expect(await bad.exit).toBe(2)
    expect(bad.stderr.join('')).toMatch(/--nodes must be an integer/)
    const badElection = serve([
      '--election-ms',
      '300-150',
      '--data-dir',
      dataDir,
      '--client-port',
      String(base),
    ])
    expect(await badElection.exit).toBe(1)
    expect(badElection.stderr.join('')).toMatch(/--election-ms/)
    const wildcard = serve(['--host', '0.0.0.0'])
    expect(await wildcard.exit).toBe(2)
    expect(wildcard.stderr.join('')).toMatch(/--host must be one address others reach/)
    const badRate = serve(['--rate-limit-rps', '0'])
    expect(await badRate.exit).toBe(2)
    expect(badRate.stderr.join('')).toMatch(/--rate-limit-rps must be a positive number, got "0"/)
    const burstAlone = serve(['--rate-limit-burst', '5'])
    expect(await burstAlone.exit).toBe(2)
    expect(burstAlone.stderr.join('')).toMatch(/--rate-limit-burst needs --rate-limit-rps/)
    const badTtl = serve(['--auth-token-ttl', '0'])
    expect(await badTtl.exit).toBe(2)
    expect(badTtl.stderr.join('')).toMatch(/--auth-token-ttl must be an integer from 1 to/)
    const badQuota = serve(['--quota-backend-bytes', '1.5GB'])
    expect(await badQuota.exit).toBe(2)
    expect(badQuota.stderr.join('')).toMatch(/--quota-backend-bytes must be an integer from 0 to/)
    const badRequest = serve(['--max-request-bytes', String(64 * 1024 * 1024)])
    expect(await badRequest.exit).toBe(2)
    expect(badRequest.stderr.join('')).toMatch(
      /--max-request-bytes must be an integer from 1024 to 7340032/,
    )
    const badOps = serve(['--max-txn-ops', '0'])
    expect(await badOps.exit).toBe(2)
    expect(badOps.stderr.join('')).toMatch(/--max-txn-ops must be an integer from 1 to 1024/)
    const lonelyAuth = serve(['--client-cert-auth'])
    expect(await lonelyAuth.exit).toBe(2)
    expect(lonelyAuth.stderr.join('')).toMatch(/--client-cert-auth need --cert-file and --key-file/)
    const missing = serve(['--cert-file', '/nonexistent.pem', '--key-file', '/nonexistent.key'])
    expect(await missing.exit).toBe(2)
    expect(missing.stderr.join('')).toMatch(/--cert-file: no file "\/nonexistent.pem"/)
  }, 60_000)

  it('limits each client to --rate-limit-rps on every member', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'raftdesk-serve-rate-'))
    const ports = await freePortBlock(1)
    running = serve([
      '--nodes',
      '1',
      '--data-dir',
      dir,
      '--client-port',
      String(ports),
      '--ui-port',
      '0',
      // One token every 10 s: the refusal below does not depend on how fast this machine is.
      '--rate-limit-rps',
      '0.1',
      '--rate-limit-burst',
      '2',
      // Another address than the default: the node listens and advertises there.
      '--host',
      '127.0.0.2',
    ])
    try {
      const ready = await running.ready
      expect(ready.nodes[0]!.endpoint).toBe(`127.0.0.2:${ports}`)
      expect(ready.nodes[0]!.peer).toBe(`127.0.0.2:${ports + 1}`)
      // Two client programs: two connections.
      const [a, b] = [1, 2].map(
        () => etcdClients(ready.nodes[0]!.endpoint, { 'grpc.use_local_subchannel_pool': 1 }).kv!,
      )
      try {
        await call(a!, 'Put', { key: Buffer.from('rate'), value: Buffer.from('1') })
        await call(a!, 'Range', { key: Buffer.from('rate') })
        const err = await callError(a!, 'Range', { key: Buffer.from('rate') })
        expect([err.code, err.details]).toEqual([8, 'etcdserver: too many requests'])
        await call(b!, 'Range', { key: Buffer.from('rate') })
      } finally {
        a!.close()
        b!.close()
      }
      running.child.kill('SIGTERM')
      expect(await running.exit).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
