/**
 * `npm run serve -- [--nodes 3] [--data-dir DIR] [--client-port 2379] [--ui-port 8790]
 *                    [--election-ms 150-300] [--heartbeat-ms 50] [--snapshot-count 10000]
 *                    [--log-level info] [--restore FILE]
 *                    [--rate-limit-rps N [--rate-limit-burst N]]`
 *
 * Runs a local raftdesk cluster headless. Node i (1-based) serves etcd v3 gRPC on
 * client-port + 100·(i−1) and its peers on that + 1. Once the cluster has a leader it prints one
 * JSON line on stdout:
 *   {"event":"ready","ui":"http://127.0.0.1:8790/","nodes":[{"name":"n1","endpoint":"127.0.0.1:2379",
 *    "peer":"127.0.0.1:2380","pid":1234,"dataDir":"DIR/n1"},...]}
 * and logs to stderr. SIGINT/SIGTERM stop it cleanly (the leader hands over first). Started again
 * on the same --data-dir, the cluster comes back with all its data. With --restore FILE (a file
 * saved with `etcdctl snapshot save` from a raftdesk member) it starts a new cluster in a new
 * --data-dir whose keys, leases and revisions are the snapshot's (server/restore.ts).
 */
import { homedir } from 'node:os'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import {
  LocalCluster,
  LOCAL_CLUSTER_DEFAULTS,
  localMemberName,
  type LocalClusterOptions,
} from '../cluster/supervisor'
import { MAX_REQUEST_BYTES_LIMIT } from '../cluster/protocol'
import { NODE_ENTRY_ENV } from '../cluster/launcher'
import { bundledNodeEntry } from '../cluster/node-bundle'
import { RaftdeskError } from '../errors'
import { restoreCluster } from '../server/restore'
import { Connections, FILE_BOX } from '../services/connections'
import { createServices } from '../services/index'
import { JoinManager, joinedPortBase } from '../cluster/joins'
import { RestoredClusters, restoredPortBase } from '../cluster/restored'
import { startWebUi, packageVersion, type WebUi } from '../services/web'

const USAGE = `usage: npm run serve -- [--nodes 3] [--data-dir DIR] [--client-port 2379] [--ui-port 8790]
                        [--host 127.0.0.1]
                        [--election-ms 150-300] [--heartbeat-ms 50] [--snapshot-count 10000]
                        [--log-level debug|info|warn|error] [--restore FILE]
                        [--rate-limit-rps N [--rate-limit-burst N]] [--auth-token-ttl SECONDS]
                        [--quota-backend-bytes BYTES] [--max-request-bytes BYTES]
                        [--max-txn-ops N] [--cert-file F --key-file F [--trusted-ca-file F]
                        [--client-cert-auth]]`

export function defaultDataDir(): string {
  const home = homedir()
  if (process.platform === 'darwin')
    return join(home, 'Library', 'Application Support', 'raftdesk', 'cluster')
  if (process.platform === 'win32') {
    return join(process.env['APPDATA'] ?? join(home, 'AppData', 'Roaming'), 'raftdesk', 'cluster')
  }
  return join(process.env['XDG_DATA_HOME'] ?? join(home, '.local', 'share'), 'raftdesk', 'cluster')
}

class UsageError extends Error {}

function int(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(
      `--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`,
    )
  }
  return n
}

export interface ServeOptions {
  nodes: number
  /**
   * The address the nodes listen on and advertise (clients and peers): 127.0.0.1 unless another
   * machine should reach them (its members, or a raftdesk joining from there).
   */
  host: string
  dataDir: string
  clientPort: number
  uiPort: number
  /** Raft timing, when given as flags (absent: what the cluster saved, or the defaults). */
  electionMsMin?: number
  electionMsMax?: number
  heartbeatMs?: number
  snapshotCount: number
  logLevel: 'debug' | 'info' | 'warn' | 'error'
  /** A saved snapshot to start a new cluster from. */
  restore?: string
  /** Per-client requests per second and burst on every client port (absent: no limit). */
  rateLimit?: { rps: number; burst: number }
  /** etcd's server settings (--auth-token-ttl, ...); absent ones keep etcd's defaults. */
  etcd: NonNullable<LocalClusterOptions['etcd']>
}

export function parseServeArgs(argv: string[]): ServeOptions {
  let values: Record<string, string | boolean | undefined>
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: {
        nodes: { type: 'string' },
        'data-dir': { type: 'string' },
        'client-port': { type: 'string' },
        host: { type: 'string' },
        'ui-port': { type: 'string' },
        'election-ms': { type: 'string' },
        'heartbeat-ms': { type: 'string' },
        'snapshot-count': { type: 'string' },
        'log-level': { type: 'string' },
        restore: { type: 'string' },
        'rate-limit-rps': { type: 'string' },
        'rate-limit-burst': { type: 'string' },
        'auth-token-ttl': { type: 'string' },
        'quota-backend-bytes': { type: 'string' },
        'max-request-bytes': { type: 'string' },
        'max-txn-ops': { type: 'string' },
        'cert-file': { type: 'string' },
        'key-file': { type: 'string' },
        'trusted-ca-file': { type: 'string' },
        'client-cert-auth': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }))
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  if (values['help']) throw new UsageError('')
  const d = LOCAL_CLUSTER_DEFAULTS
  const election = values['election-ms'] as string | undefined
  const m = election === undefined ? null : /^(\d+)-(\d+)$/.exec(election)
  if (election !== undefined && !m)
    throw new UsageError(`--election-ms must look like 150-300, got ${JSON.stringify(election)}`)
  const heartbeat = values['heartbeat-ms'] as string | undefined
  const level = (values['log-level'] as string | undefined) ?? 'info'
  if (!['debug', 'info', 'warn', 'error'].includes(level)) {
    throw new UsageError(
      `--log-level must be debug, info, warn or error, got ${JSON.stringify(level)}`,
    )
  }
  const host = ((values['host'] as string | undefined) ?? d.host).trim()
  if (
    host === '0.0.0.0' ||
    host === '::' ||
    host === '[::]' ||
    !/^[A-Za-z0-9.:[\]-]+$/.test(host)
  ) {
    throw new UsageError(
      `--host must be one address others reach the nodes at (an IP or a name), got ${JSON.stringify(host)}: peers and clients are told it, so a wildcard cannot work`,
    )
  }
  return {
    host,
    nodes: int('nodes', values['nodes'] as string | undefined, d.nodes, 1, 9),
    dataDir: (values['data-dir'] as string | undefined) ?? defaultDataDir(),
    clientPort: int(
      'client-port',
      values['client-port'] as string | undefined,
      d.clientPort,
      1,
      65535,
    ),
    uiPort: int('ui-port', values['ui-port'] as string | undefined, 8790, 0, 65535),
    ...(m ? { electionMsMin: Number(m[1]), electionMsMax: Number(m[2]) } : {}),
    ...(heartbeat === undefined
      ? {}
      : { heartbeatMs: int('heartbeat-ms', heartbeat, d.heartbeatMs, 1, 60_000) }),
    snapshotCount: int(
      'snapshot-count',
      values['snapshot-count'] as string | undefined,
      d.snapshotCount,
      1,
      1e9,
    ),
    logLevel: level as ServeOptions['logLevel'],
    ...(values['restore'] !== undefined ? { restore: values['restore'] as string } : {}),
    ...rateLimitFlags(values),
    etcd: etcdFlags(values),
  }
}

/** etcd's server flags, refused at start when out of range (etcd's names and units). */
function etcdFlags(
  values: Record<string, string | boolean | undefined>,
): NonNullable<LocalClusterOptions['etcd']> {
  const ttl = values['auth-token-ttl'] as string | undefined
  const quota = values['quota-backend-bytes'] as string | undefined
  // etcd's rule: 0 means the default (2 GiB).
  const quotaBytes = int('quota-backend-bytes', quota, 0, 0, Number.MAX_SAFE_INTEGER)
  const requestBytes = values['max-request-bytes'] as string | undefined
  const txnOps = values['max-txn-ops'] as string | undefined
  return {
    ...(ttl === undefined ? {} : { authTokenTtlSeconds: int('auth-token-ttl', ttl, 300, 1, 1e9) }),
    ...(quotaBytes > 0 ? { quotaBackendBytes: quotaBytes } : {}),
    ...(requestBytes === undefined
      ? {}
      : {
          maxRequestBytes: int('max-request-bytes', requestBytes, 0, 1024, MAX_REQUEST_BYTES_LIMIT),
        }),
    ...(txnOps === undefined ? {} : { maxTxnOps: int('max-txn-ops', txnOps, 128, 1, 1024) }),
    ...tlsFlags(values),
  }
}

/** etcd's client TLS flags: files that exist, and the combinations etcd accepts. */
function tlsFlags(
  values: Record<string, string | boolean | undefined>,
): Pick<NonNullable<LocalClusterOptions['etcd']>, 'tls'> {
  const file = (flag: string): string | undefined => {
    const path = values[flag] as string | undefined
    if (path === undefined) return undefined
    if (!existsSync(path)) throw new UsageError(`--${flag}: no file ${JSON.stringify(path)}`)
    return resolve(path)
  }
  const certFile = file('cert-file')
  const keyFile = file('key-file')
  const trustedCaFile = file('trusted-ca-file')
  const clientCertAuth = values['client-cert-auth'] === true
  if (!certFile && !keyFile) {
    if (trustedCaFile || clientCertAuth) {
      throw new UsageError(
        '--trusted-ca-file and --client-cert-auth need --cert-file and --key-file',
      )
    }
    return {}
  }
  if (!certFile || !keyFile) throw new UsageError('--cert-file and --key-file go together')
  if (clientCertAuth && !trustedCaFile) {
    throw new UsageError('--client-cert-auth needs --trusted-ca-file to check client certificates')
  }
  return {
    tls: { certFile, keyFile, ...(trustedCaFile ? { trustedCaFile } : {}), clientCertAuth },
  }
}

function rateLimitFlags(
  values: Record<string, string | boolean | undefined>,
): Pick<ServeOptions, 'rateLimit'> {
  const rpsText = values['rate-limit-rps'] as string | undefined
  const burstText = values['rate-limit-burst'] as string | undefined
  if (rpsText === undefined) {
    if (burstText !== undefined) throw new UsageError('--rate-limit-burst needs --rate-limit-rps')
    return {}
  }
  const rps = Number(rpsText)
  if (!(rps > 0) || !Number.isFinite(rps)) {
    throw new UsageError(
      `--rate-limit-rps must be a positive number, got ${JSON.stringify(rpsText)}`,
    )
  }
  const burst = int('rate-limit-burst', burstText, Math.max(1, Math.ceil(rps)), 1, 1e9)
  return { rateLimit: { rps, burst } }
}

function log(msg: string): void {
  process.stderr.write(`${new Date().toISOString()} serve ${msg}\n`)
}

async function main(): Promise<void> {
  let options: ServeOptions
  try {
    options = parseServeArgs(process.argv.slice(2))
  } catch (err) {
    if (err instanceof UsageError) {
      if (err.message) process.stderr.write(`serve: ${err.message}\n`)
      process.stderr.write(`${USAGE}\n`)
      process.exit(err.message ? 2 : 0)
    }
    throw err
  }

  if (options.restore !== undefined) {
    const names = Array.from({ length: options.nodes }, (_, i) => localMemberName(i))
    const r = await restoreCluster(options.restore, options.dataDir, names)
    log(
      `restored ${r.keys} keys at revision ${r.revision} from ${options.restore} into ${names.length} new members`,
    )
  }
  // The nodes run from one built JavaScript file (node-bundle.ts), unless told otherwise.
  process.env[NODE_ENTRY_ENV] ||= await bundledNodeEntry()
  log(`starting ${options.nodes} nodes in ${options.dataDir}`)
  const cluster = await LocalCluster.start({
    host: options.host,
    nodes: options.nodes,
    dataDir: options.dataDir,
    clientPort: options.clientPort,
    // Timeouts only when given: otherwise those the cluster saved (set from the window) stand.
    ...timeoutFlags(options),
    snapshotCount: options.snapshotCount,
    logLevel: options.logLevel,
    ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
    etcd: options.etcd,
  })

  let stopping = false
  let ui: WebUi | null = null
  const connections = new Connections({
    file: join(options.dataDir, 'connections.json'),
    box: FILE_BOX,
  })
  // Clusters started from snapshot files in the window run until the host stops.
  const restored = new RestoredClusters({
    dir: join(options.dataDir, 'restored'),
    portBase: restoredPortBase(options.clientPort),
  })
  // This machine's members of other clusters (joined from the window) start with the host.
  const joins = JoinManager.open({
    dir: join(options.dataDir, 'joined'),
    portBase: joinedPortBase(options.clientPort),
  })
  joins.catch((err: unknown) => log(`members of other clusters did not start: ${String(err)}`))
  const shutdown = async (why: string) => {
    if (stopping) return
    stopping = true
    log(`${why}: stopping the cluster`)
    await ui?.close().catch(() => undefined)
    connections.closeAll()
    await (await joins.catch(() => null))?.close()
    await restored.close().catch(() => undefined)
    await cluster.stop()
    log('stopped')
    process.exit(0)
  }
  process.on('SIGINT', () => void shutdown('SIGINT'))
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  cluster.on('exit', (name, code, signal) => {
    if (!stopping) log(`node ${name} exited (code ${code}, signal ${signal})`)
  })

  const leader = await cluster.waitForLeader(30_000)
  log(`leader is ${leader}`)
  if (options.uiPort !== 0) {
    // The window's `local` connection is this cluster.
    connections.add({
      id: 'local',
      name: 'local cluster',
      endpoints: cluster.list().map((n) => n.endpoint),
      builtin: true,
    })
    await connections.loadProfiles()
    const app = {
      name: 'raftdesk',
      version: await packageVersion(),
      host: 'web' as const,
      dataDir: options.dataDir,
    }
    ui = await startWebUi({
      host: '127.0.0.1',
      port: options.uiPort,
      dataDir: options.dataDir,
      services: createServices(app, connections, Promise.resolve(cluster), joins, restored),
      log,
    })
  }
  const nodes = cluster.list().map((n) => ({
    name: n.name,
    endpoint: n.endpoint,
    peer: n.peer,
    pid: n.pid,
    dataDir: n.dataDir,
  }))
  process.stdout.write(`${JSON.stringify({ event: 'ready', ui: ui ? ui.url : null, nodes })}\n`)
}

main().catch((err: unknown) => {
  const e = err as Error
  const detail =
    err instanceof RaftdeskError ? `${e.message} (${err.code})` : (e.stack ?? e.message)
  process.stderr.write(`serve: ${detail}\n`)
  process.exit(1)
})

/** The timeout flags given on the command line, and only those. */
function timeoutFlags(
  o: ServeOptions,
): Partial<Pick<LocalClusterOptions, 'electionMsMin' | 'electionMsMax' | 'heartbeatMs'>> {
  return Object.fromEntries(
    (['electionMsMin', 'electionMsMax', 'heartbeatMs'] as const)
      .filter((k) => o[k] !== undefined)
      .map((k) => [k, o[k]]),
  )
}
