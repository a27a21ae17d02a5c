/**
 * startEtcdApiServer: serves etcd's v3 gRPC API (KV, Watch, Lease, Cluster, Maintenance, Auth) on one
 * address, in front of an EtcdBackend (backend.ts).
 *
 * - Listens on host:port; port 0 picks a free port, and the bound port is returned.
 * - Messages above requestBytesMax + grpcOverheadBytes (2 MiB by default) are refused by grpc-js
 *   with RESOURCE_EXHAUSTED before decoding; writes above requestBytesMax get etcd's "request is
 *   too large". Responses are not size-limited beyond gRPC's own 2^31-1 bytes, as in etcd.
 * - close() ends open Watch and LeaseKeepAlive streams with UNAVAILABLE "etcdserver: server stopped" (clients then
 *   move to another endpoint), lets running calls finish for up to closeGraceMs, then cuts
 *   whatever is left.
 */
import { silentLogger, type Logger } from '../kernel/logger'
import { RateLimiter } from './rate-limit'
import type { AuthInfo } from '../mvcc/auth'
import {
  Server,
  ServerCredentials,
  status as GrpcStatus,
  type ServiceDefinition,
} from '@grpc/grpc-js'
import type { EtcdBackend } from '../server/port'
import { clusterService, maintenanceService } from './cluster-service'
import { DEFAULT_API_LIMITS, type ApiContext, type ApiLimits } from './context'
import { etcdMessage } from './errors'
import { adminService, adminServiceDefinition } from './admin'
import type { AdminBackend } from '../server/port'
import { authService } from './auth-service'
import { kvService } from './kv-service'
import { leaseService } from './lease-service'
import { etcdServiceDefinitions, loadEtcdPackageDefinition, PROTO_DIR } from './proto'
import { watchService } from './watch-service'

export interface EtcdApiTlsOptions {
  /** PEM certificate chain and private key of this server. */
  certChain: Buffer
  privateKey: Buffer
  /** PEM CA bundle for client certificates; required when checkClientCertificate is set. */
  rootCerts?: Buffer
  checkClientCertificate?: boolean
}

export interface EtcdApiServerOptions {
  host: string
  port: number
  backend: EtcdBackend
  logger?: Logger
  tls?: EtcdApiTlsOptions
  limits?: Partial<ApiLimits>
  /** A per-client rate limit (off when absent). */
  rateLimit?: { rps: number; burst: number }
  /**
   * etcd's --client-cert-auth with auth: who a call without a token is, from the common name of
   * its verified client certificate (needs tls.checkClientCertificate).
   */
  certUser?: (commonName: string) => AuthInfo
  /** Where rpc.proto and kv.proto live; defaults to node-core/api/proto beside this module. */
  protoDir?: string
  /** How long close() lets running calls finish before cutting them. */
  closeGraceMs?: number
  /** raftdesk's Admin service, served beside etcd's on the same port (admin.ts). */
  admin?: AdminBackend
}

export interface EtcdApiServer {
  /** The bound port (the free port picked when asked for port 0). */
  readonly port: number
  /** Open Watch and LeaseKeepAlive streams (for status pages and tests). */
  openStreamCount(): number
  close(): Promise<void>
}

/** The user of a call's verified client certificate, for ApiContext.certUser. */
function certUserOf(toUser: (commonName: string) => AuthInfo): ApiContext['certUser'] {
  return (call) => {
    const cn = call.peerCertificate?.()?.subject?.CN
    return typeof cn === 'string' && cn !== '' ? toUser(cn) : undefined
  }
}

function credentials(tls: EtcdApiTlsOptions | undefined): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure()
  if (tls.checkClientCertificate && !tls.rootCerts) {
    throw new Error('tls.checkClientCertificate needs tls.rootCerts to verify clients against')
  }
  return ServerCredentials.createSsl(
    tls.rootCerts ?? null,
    [{ cert_chain: tls.certChain, private_key: tls.privateKey }],
    tls.checkClientCertificate ?? false,
  )
}

export async function startEtcdApiServer(options: EtcdApiServerOptions): Promise<EtcdApiServer> {
  const limits: ApiLimits = { ...DEFAULT_API_LIMITS, ...options.limits }
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new Error(`limit ${name} must be a positive integer, got ${value}`)
    }
  }
  const logger = options.logger ?? silentLogger
  const ctx: ApiContext = {
    backend: options.backend,
    limits,
    logger,
    streams: new Set(),
    ...(options.rateLimit ? { rateLimiter: new RateLimiter(options.rateLimit) } : {}),
    ...(options.certUser ? { certUser: certUserOf(options.certUser) } : {}),
    ...(options.admin ? { clusterToken: () => options.admin!.clusterToken() } : {}),
  }
  const pkg = loadEtcdPackageDefinition(options.protoDir ?? PROTO_DIR)
  const definitions = etcdServiceDefinitions(pkg)
  const watchDefinition = definitions.Watch as ServiceDefinition
  const encodeWatchResponse = watchDefinition['Watch']!.responseSerialize as (o: object) => Buffer

  const server = new Server({
    'grpc.max_receive_message_length': limits.requestBytesMax + limits.grpcOverheadBytes,
    'grpc.max_send_message_length': 2 ** 31 - 1,
    // Nothing reads grpc-js's channelz statistics; keeping them costs every call closures and
    // clock reads.
    'grpc.enable_channelz': 0,
  })
  server.addService(definitions.KV, kvService(ctx))
  server.addService(definitions.Watch, watchService(ctx, { encodeResponse: encodeWatchResponse }))
  server.addService(definitions.Lease, leaseService(ctx))
  server.addService(definitions.Cluster, clusterService(ctx))
  server.addService(definitions.Maintenance, maintenanceService(ctx))
  server.addService(definitions.Auth, authService(ctx))
  if (options.admin) server.addService(adminServiceDefinition(), adminService(ctx, options.admin))

  const address = `${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, credentials(options.tls), (err, bound) => {
      if (!err) return resolve(bound)
      server.forceShutdown()
      reject(err)
    })
  })
  logger.info('etcd v3 API listening', { address: `${options.host}:${port}`, tls: !!options.tls })

  let closing: Promise<void> | undefined
  const closeGraceMs = options.closeGraceMs ?? 2000
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      for (const stream of [...ctx.streams]) {
        stream.shutdown({ code: GrpcStatus.UNAVAILABLE, details: etcdMessage('STOPPED') })
      }
      const force = setTimeout(() => {
        logger.warn('etcd v3 API: calls still running after the grace period; cutting them', {
          closeGraceMs,
        })
        server.forceShutdown()
        resolve()
      }, closeGraceMs)
      server.tryShutdown(() => {
        clearTimeout(force)
        resolve()
      })
    })
    return closing
  }

  return { port, openStreamCount: () => ctx.streams.size, close }
}
