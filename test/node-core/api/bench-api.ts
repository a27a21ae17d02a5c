/**
 * Benchmark of the etcd v3 gRPC layer alone: puts of 8-byte keys with 256-byte values into the
 * API server, which runs in its own process with the in-memory FakeBackend behind it, at 1, 16
 * and 64 requests in flight, while a watcher receives every put. The backend does no I/O, so the
 * figures are the ceiling the gRPC layer (grpc-js + protobufjs + the checks here) puts on a
 * raftdesk node, to hold against DESIGN.md's etcd 3.4 numbers (3 members, fsync: ~940 / ~3,300 /
 * ~6,100 puts/s at 1 / 16 / 64 in flight, etcd3 client).
 *
 * Two clients: `etcd3` (the npm client, as in DESIGN.md's figures; it costs more CPU than the
 * server does) and `raw` (grpc-js with the request encoded once, to load the server harder).
 *
 * Run: npx tsx test/node-core/api/bench-api.ts [--puts 20000] [--client etcd3|raw]
 * RAFTDESK_BENCH_CPU_PROF=<dir> writes a CPU profile of the server process.
 * (House rule: benchmarks belong in test/bench/; this one lives beside the API tests, in the API
 * area, until that folder's owner takes it over.)
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import { Etcd3 } from 'etcd3'
import { loadEtcdPackageDefinition } from '../../../node-core/api/proto'
import { startFakeServer } from './harness'

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1]! : fallback
}

type PutFn = (key: string, value: Buffer) => Promise<unknown>

async function run(put: PutFn, puts: number, inFlight: number) {
  const value = Buffer.alloc(256, 0x76)
  const latenciesMs: number[] = []
  let next = 0
  const started = performance.now()
  const worker = async () => {
    while (next < puts) {
      const i = next++
      const key = `k${String(i % 10_000_000).padStart(7, '0')}`
      const t0 = performance.now()
      await put(key, value)
      latenciesMs.push(performance.now() - t0)
    }
  }
  await Promise.all(Array.from({ length: inFlight }, worker))
  const seconds = (performance.now() - started) / 1000
  latenciesMs.sort((a, b) => a - b)
  const p = (q: number) =>
    latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(q * latenciesMs.length))]!
  return { putsPerSecond: puts / seconds, latencyMsP50: p(0.5), latencyMsP99: p(0.99) }
}

/** The server runs in its own process, as a node would. */
async function serve(): Promise<void> {
  const fake = await startFakeServer()
  console.log(JSON.stringify({ port: fake.server.port }))
  const stop = () => void fake.close().then(() => process.exit(0))
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

async function startServerProcess(): Promise<{ endpoint: string; child: ChildProcess }> {
  const profileDir = process.env['RAFTDESK_BENCH_CPU_PROF']
  const profile = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []
  const child = spawn(
    process.execPath,
    [...profile, '--import', 'tsx', fileURLToPath(import.meta.url), '--serve'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes('\n')) resolve(out.split('\n')[0]!)
    })
    child.once('exit', (code) => reject(new Error(`server process exited with ${code}`)))
  })
  const { port } = JSON.parse(line) as { port: number }
  return { endpoint: `127.0.0.1:${port}`, child }
}

/** Puts through grpc-js directly, with the request bytes built by hand (key, value fields). */
function rawPutter(endpoint: string): { put: PutFn; close(): void } {
  const client = new grpc.Client(endpoint, grpc.credentials.createInsecure())
  const put: PutFn = (key, value) => {
    const k = Buffer.from(key)
    const bytes = Buffer.concat([
      Buffer.from([0x0a, k.length]),
      k,
      Buffer.from([0x12, 0x80 | (value.length & 0x7f), value.length >> 7]),
      value,
    ])
    return new Promise((resolve, reject) =>
      client.makeUnaryRequest(
        '/etcdserverpb.KV/Put',
        (b: Buffer) => b,
        (b: Buffer) => b,
        bytes,
        (err, res) => (err ? reject(err) : resolve(res)),
      ),
    )
  }
  return { put, close: () => client.close() }
}

async function bench(): Promise<void> {
  const puts = Number(arg('puts', '20000'))
  const kind = arg('client', 'etcd3')
  const server = await startServerProcess()
  const client = new Etcd3({ hosts: `http://${server.endpoint}` })
  const raw = rawPutter(server.endpoint)
  const put: PutFn = kind === 'raw' ? raw.put : (key, value) => client.put(key).value(value).exec()
  let watched = 0
  let total = 0
  const watcher = await client.watch().prefix('k').create()
  watcher.on('put', () => watched++)
  try {
    total += 2_000
    await run(put, 2_000, 16) // warm-up
    console.log(`client ${kind}, server in its own process, FakeBackend, 256-byte values`)
    for (const inFlight of [1, 16, 64]) {
      const n = inFlight === 1 ? Math.ceil(puts / 4) : puts
      total += n
      const r = await run(put, n, inFlight)
      console.log(
        `in flight ${String(inFlight).padStart(2)}: ${r.putsPerSecond.toFixed(0)} puts/s, ` +
          `p50 ${r.latencyMsP50.toFixed(2)} ms, p99 ${r.latencyMsP99.toFixed(2)} ms (${n} puts)`,
      )
    }
    const deadline = Date.now() + 30_000
    while (watched < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    console.log(`watch events received: ${watched} of ${total}`)
  } finally {
    await watcher.cancel()
    client.close()
    raw.close()
    server.child.kill('SIGTERM')
  }
}

// The package definition is loaded once here so that a broken proto fails before timing starts.
loadEtcdPackageDefinition()
if (process.argv.includes('--serve')) await serve()
else await bench()
