/**
 * Test helpers for the etcd v3 gRPC layer: a server in front of the FakeBackend, raw gRPC
 * clients built from raftdesk's own protos, Debian's etcdctl, and a real etcd 3.4 as reference.
 *
 * etcd and etcdctl come from Debian's etcd-server and etcd-client packages. Locally, tests that
 * need them are skipped with a visible reason when they are missing; under CI=true they run and
 * fail, because CI installs them and a silent skip would hide a broken install.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as grpc from '@grpc/grpc-js'
import { loadEtcdPackageDefinition } from '../../../node-core/api/proto'
import {
  startEtcdApiServer,
  type EtcdApiServer,
  type EtcdApiServerOptions,
} from '../../../node-core/api/server'
import { freePort } from '../../helpers/ports'
import { FakeBackend } from './fake-backend'

export { freePort }

export const ETCD_PATH = process.env['RAFTDESK_ETCD'] ?? '/usr/bin/etcd'
export const ETCDCTL_PATH = process.env['RAFTDESK_ETCDCTL'] ?? '/usr/bin/etcdctl'

export function etcdBinariesAvailable(): boolean {
  return existsSync(ETCD_PATH) && existsSync(ETCDCTL_PATH)
}

/** True when etcd/etcdctl tests must run: the binaries are there, or CI demands them. */
export function shouldRunEtcdTests(): boolean {
  if (etcdBinariesAvailable()) return true
  if (process.env['CI'] === 'true') return true
  console.warn(
    `skipping etcd/etcdctl tests: no ${ETCD_PATH} or ${ETCDCTL_PATH} (apt-get install etcd-server etcd-client)`,
  )
  return false
}

export function requireEtcdBinaries(): void {
  if (!etcdBinariesAvailable()) {
    throw new Error(
      `etcd and etcdctl are required at ${ETCD_PATH} and ${ETCDCTL_PATH} (CI=${process.env['CI'] ?? ''}); ` +
        'install the Debian packages etcd-server and etcd-client',
    )
  }
}

export interface FakeServer {
  backend: FakeBackend
  server: EtcdApiServer
  endpoint: string
  close(): Promise<void>
}

export async function startFakeServer(
  options: Partial<Omit<EtcdApiServerOptions, 'backend'>> & { backend?: FakeBackend } = {},
): Promise<FakeServer> {
  const backend = options.backend ?? new FakeBackend()
  const server = await startEtcdApiServer({ host: '127.0.0.1', port: 0, ...options, backend })
  return {
    backend,
    server,
    endpoint: `127.0.0.1:${server.port}`,
    close: () => server.close(),
  }
}

// ---- raw gRPC clients ----

type ClientCtor = new (
  address: string,
  creds: grpc.ChannelCredentials,
  options?: grpc.ChannelOptions,
) => grpc.Client
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyClient = grpc.Client & Record<string, any>

export interface EtcdClients {
  kv: AnyClient
  watch: AnyClient
  lease: AnyClient
  cluster: AnyClient
  maintenance: AnyClient
  auth: AnyClient
  close(): void
}

let cachedPackage: grpc.GrpcObject | undefined

function etcdPackage(): grpc.GrpcObject {
  cachedPackage ??= grpc.loadPackageDefinition(loadEtcdPackageDefinition())
  return cachedPackage['etcdserverpb'] as grpc.GrpcObject
}

export function etcdClients(endpoint: string, options: grpc.ChannelOptions = {}): EtcdClients {
  const pkg = etcdPackage()
  const make = (name: string) =>
    new (pkg[name] as unknown as ClientCtor)(
      endpoint,
      grpc.credentials.createInsecure(),
      options,
    ) as AnyClient
  const clients = {
    kv: make('KV'),
    watch: make('Watch'),
    lease: make('Lease'),
    cluster: make('Cluster'),
    maintenance: make('Maintenance'),
    auth: make('Auth'),
  }
  return { ...clients, close: () => Object.values(clients).forEach((c) => c.close()) }
}

/** Calls a unary method and resolves with the response or rejects with the ServiceError. */
export function call<T = Record<string, unknown>>(
  client: AnyClient,
  method: string,
  request: object,
  metadata: grpc.Metadata = new grpc.Metadata(),
): Promise<T> {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, (err: grpc.ServiceError | null, res: T) =>
      err ? reject(err) : resolve(res),
    )
  })
}

/** Calls a unary method expecting failure; resolves with the error. */
export async function callError(
  client: AnyClient,
  method: string,
  request: object,
  metadata?: grpc.Metadata,
): Promise<grpc.ServiceError> {
  try {
    await call(client, method, request, metadata)
  } catch (err) {
    return err as grpc.ServiceError
  }
  throw new Error(`${method} succeeded but an error was expected`)
}

/** Waits until `predicate` holds, polling; fails with `what` after timeoutMs. */
export async function waitFor(
  predicate: () => boolean,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

// ---- etcdctl ----

export interface EtcdctlResult {
  stdout: string
  stderr: string
  code: number
}

export function etcdctl(
  endpoint: string,
  args: string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<EtcdctlResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      ETCDCTL_PATH,
      ['--endpoints', endpoint, '--dial-timeout', '3s', '--command-timeout', '5s', ...args],
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: options.timeoutMs ?? 15_000 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') {
          reject(err)
          return
        }
        resolve({ stdout, stderr, code: err ? (err.code as number) : 0 })
      },
    )
    child.stdin?.end(options.input ?? '')
  })
}

/**
 * What a user sees of an etcdctl run, without what legitimately differs between two clusters:
 * the exit code, stdout (JSON parsed, with `headerFields` dropped from its header), the last
 * "Error:" line and the gRPC code etcdctl printed.
 */
export function etcdctlObserved(
  result: EtcdctlResult,
  headerFields: string[] = ['cluster_id', 'member_id', 'raft_term'],
): unknown {
  const grpcCode = /code = (\w+) desc/.exec(result.stderr)?.[1]
  const out = result.stdout.trim()
  let stdout: unknown = out
  if (out.startsWith('{')) {
    const json = JSON.parse(out) as { header?: Record<string, unknown> }
    if (json.header) for (const field of headerFields) delete json.header[field]
    stdout = json
  }
  return { code: result.code, stdout, error: etcdctlError(result), grpcCode: grpcCode ?? '' }
}

/** etcdctl's last "Error: ..." line, the text a user sees. */
export function etcdctlError(result: EtcdctlResult): string {
  const lines = result.stderr.split('\n').filter((l) => l.startsWith('Error:'))
  return lines.at(-1) ?? ''
}

// ---- a real etcd as reference ----

export interface ReferenceEtcd {
  endpoint: string
  stop(): Promise<void>
}

/** A single-member etcd 3.4 on free ports; `extraArgs` are added to its command line. */
export async function startReferenceEtcd(extraArgs: string[] = []): Promise<ReferenceEtcd> {
  requireEtcdBinaries()
  const dir = mkdtempSync(join(tmpdir(), 'raftdesk-etcd-ref-'))
  const clientPort = await freePort()
  const peerPort = await freePort()
  const client = `http://127.0.0.1:${clientPort}`
  const peer = `http://127.0.0.1:${peerPort}`
  const child: ChildProcess = spawn(
    ETCD_PATH,
    [
      '--name',
      't',
      '--data-dir',
      join(dir, 'data'),
      '--listen-client-urls',
      client,
      '--advertise-client-urls',
      client,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `t=${peer}`,
      ...extraArgs,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let log = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000)
  })
  const endpoint = `127.0.0.1:${clientPort}`
  const stop = async () => {
    if (child.exitCode === null && child.pid !== undefined) {
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const deadline = Date.now() + 20_000
    for (;;) {
      if (child.exitCode !== null) throw new Error(`etcd exited early: ${log}`)
      const probe = await etcdctl(endpoint, ['endpoint', 'health'])
      if (probe.code === 0) break
      if (Date.now() > deadline) throw new Error(`etcd did not become healthy: ${log}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  } catch (err) {
    await stop()
    throw err
  }
  return { endpoint, stop }
}
