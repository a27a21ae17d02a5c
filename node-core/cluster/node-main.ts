/**
 * Entry point of one node process. The supervisor (node-core/cluster) forks it with its
 * NodeProcessConfig in RAFTDESK_NODE_CONFIG and talks to it over the IPC channel (see
 * cluster/protocol.ts). Logs go to stderr, one line each, prefixed with the node's name.
 *
 * Runs headless as well: `node --import tsx node-core/cluster/node-main.ts` with the variable set.
 */
import { readFileSync } from 'node:fs'
import { startEtcdApiServer, type EtcdApiServer, type EtcdApiTlsOptions } from '../api/server'
import {
  NODE_ARG_SCHEMAS,
  NODE_CONFIG_ENV,
  isNodeCall,
  nodeProcessConfigSchema,
  timeoutTicks,
  type FromNode,
  type NodeArgs,
  type NodeCall,
  type NodeCalls,
  type NodeProcessConfig,
  type NodeResult,
  type NodeStatus,
  type ToNode,
} from './protocol'
import { createAdminPort } from '../server/admin-port'
import { toWireError } from '../errors'
import type { RequestLimits } from '../mvcc/validate'
import { TcpTransport } from '../transport/tcp'
import { leaderClientEndpoint, NodeAdmin, NodeBackend } from '../server/backend'
import { GrpcLeaderLink } from '../client/leader-link'
import { hostPort } from '../server/members'
import { NODE_DEFAULTS, RaftdeskNode } from '../server/node'
import { loggerFrom, type LogLevel, type Logger } from '../kernel/logger'

const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error']

/** One line per message on stderr, stamped with the time, the node's name and the level. */
function makeLogger(name: string, min: LogLevel): Logger {
  const at = LEVELS.indexOf(min)
  return loggerFrom((level, message, fields) => {
    if (LEVELS.indexOf(level) < at) return
    const extra = fields && !('stack' in fields) ? ` ${JSON.stringify(fields)}` : ''
    process.stderr.write(
      `${new Date().toISOString()} ${name} ${level.toUpperCase()} ${message}${extra}\n`,
    )
  })
}

/** Electron's channel to the app in a utility process (absent under child_process.fork). */
interface ParentPort {
  postMessage(message: unknown): void
  on(event: 'message', listener: (event: { data: unknown }) => void): void
}
const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort

/** To the supervisor: Electron's parentPort in the app, Node's IPC channel elsewhere. */
function send(msg: FromNode): void {
  if (parentPort) parentPort.postMessage(msg)
  else if (process.send && process.connected) process.send(msg)
}

function onSupervisorMessage(listener: (raw: unknown) => void): void {
  if (parentPort) parentPort.on('message', (event) => listener(event.data))
  else process.on('message', listener)
}

function parseConfig(): NodeProcessConfig {
  const raw = process.env[NODE_CONFIG_ENV]
  if (!raw) throw new Error(`${NODE_CONFIG_ENV} is not set`)
  return nodeProcessConfigSchema.parse(JSON.parse(raw))
}

type AdminPort = ReturnType<typeof createAdminPort>

async function toNodeStatus(port: AdminPort, config: NodeProcessConfig): Promise<NodeStatus> {
  return {
    ...(await port.status({})),
    clientUrl: config.clientUrl,
    peerUrl: config.peerUrl,
    pid: process.pid,
  }
}

/** The node's calls: the admin port's, with the process's addresses and its stop. */
function nodeHandlers(
  port: AdminPort,
  config: NodeProcessConfig,
  stop: (transfer: boolean) => Promise<void>,
): { [K in NodeCall]: (args: NodeArgs<K>) => Promise<NodeResult<K>> } {
  return {
    ...port,
    status: () => toNodeStatus(port, config),
    stop: async ({ transferLeadership }) => {
      // Answer first: the process exits once stopped.
      setImmediate(() => void stop(transferLeadership))
      return { stopping: true }
    },
  }
}

/** Splits host:port (an IPv6 host keeps its colons). */
function splitHostPort(url: string): { host: string; port: number } {
  const hp = hostPort(url)
  const at = hp.lastIndexOf(':')
  return { host: hp.slice(0, at), port: Number(hp.slice(at + 1)) }
}

/** Opens the node from its data directory (or bootstraps or joins), peers over TCP. */
function openNode(config: NodeProcessConfig, log: Logger): Promise<RaftdeskNode> {
  const peer = splitHostPort(config.peerUrl)
  const tickMs = config.tickMs
  return RaftdeskNode.open({
    ...NODE_DEFAULTS,
    name: config.name,
    dataDir: config.dataDir,
    token: config.token,
    peerUrl: config.peerUrl,
    clientUrl: config.clientUrl,
    ...(config.clusterState === 'new'
      ? { bootstrap: { members: config.initialCluster } }
      : {
          join: {
            memberId: config.memberId!,
            clusterId: config.clusterId!,
            members: config.existingMembers ?? [],
          },
        }),
    tickMs,
    ...timeoutTicks(config),
    snapshotCount: config.snapshotCount,
    ...(config.snapshotCatchUpEntries === undefined
      ? {}
      : { snapshotCatchUpEntries: config.snapshotCatchUpEntries }),
    ...(config.etcd?.authTokenTtlSeconds === undefined
      ? {}
      : { authTokenTtlMs: config.etcd.authTokenTtlSeconds * 1000 }),
    store: { limits: storeRequestLimits(config) },
    logger: log,
    transportFactory: (id, clusterId) =>
      new TcpTransport({
        id,
        clusterId: String(clusterId),
        token: config.token,
        host: peer.host,
        port: peer.port,
        logger: log.child('transport'),
      }),
  })
}

/** The etcd API on the client port, over the node (the node is stopped if the port fails). */
async function serveApi(
  node: RaftdeskNode,
  config: NodeProcessConfig,
  log: Logger,
  port: AdminPort,
): Promise<{ api: EtcdApiServer; backend: NodeBackend }> {
  const client = splitHostPort(config.clientUrl)
  const tls = readClientTls(config)
  const leaderLink = new GrpcLeaderLink(
    () => leaderClientEndpoint(node),
    config.token,
    tls
      ? {
          ...(tls.rootCerts ? { ca: tls.rootCerts } : {}),
          cert: tls.certChain,
          key: tls.privateKey,
        }
      : undefined,
  )
  const backend = new NodeBackend(node, leaderLink, {
    ...(config.etcd?.quotaBackendBytes ? { quotaBackendBytes: config.etcd.quotaBackendBytes } : {}),
  })
  try {
    const api = await startEtcdApiServer({
      host: client.host,
      port: client.port,
      backend,
      ...(config.rateLimit ? { rateLimit: config.rateLimit } : {}),
      ...(tls ? { tls } : {}),
      ...(tls?.checkClientCertificate
        ? { certUser: (user: string) => ({ user, revision: node.store.auth.revision }) }
        : {}),
      limits: {
        ...(config.etcd?.maxRequestBytes ? { requestBytesMax: config.etcd.maxRequestBytes } : {}),
        ...(config.etcd?.maxTxnOps ? { txnOpsMax: config.etcd.maxTxnOps } : {}),
      },
      admin: new NodeAdmin(node, config.token, port),
      logger: log.child('api'),
    })
    return { api, backend }
  } catch (err) {
    backend.close()
    await node.stop({ reason: 'client port unavailable' })
    throw err
  }
}

/** Stops the node once (leadership handed over when asked), tells the supervisor, exits. */
function stopper(node: RaftdeskNode, api: EtcdApiServer, backend: NodeBackend, port: AdminPort) {
  let stopping: Promise<void> | null = null
  const stop = (transfer: boolean, reason = 'stopped'): Promise<void> => {
    stopping ??= (async () => {
      await node.stop({ transferLeadership: transfer, reason })
      await api.close()
      backend.close()
      port.close()
      send({ type: 'stopped', reason })
      // Give the IPC message a moment to leave before the process goes.
      setTimeout(() => process.exit(0), 50)
    })()
    return stopping
  }
  void node.whenStopped().then((reason) => {
    if (!stopping) void stop(false, reason)
  })
  return stop
}

/**
 * Sends the node's status to the supervisor every statusIntervalMs when it changed, with the
 * events recorded since the last report.
 */
function reportStatus(node: RaftdeskNode, port: AdminPort, config: NodeProcessConfig): void {
  let statusDirty = true
  let sentSeq = 0
  node.onStatusChange(() => (statusDirty = true))
  node.events.onEvent(() => (statusDirty = true))
  const timer = setInterval(() => {
    if (!statusDirty || node.isStopped) return
    statusDirty = false
    const events = node.events.after(sentSeq)
    sentSeq = node.events.lastSeq
    void toNodeStatus(port, config).then((status) => send({ type: 'status', status, events }))
  }, config.statusIntervalMs)
  timer.unref()
}

/** Answers the supervisor's commands, and stops on its signals or when it goes away. */
function obeySupervisor(
  port: AdminPort,
  config: NodeProcessConfig,
  stop: (transfer: boolean, reason?: string) => Promise<void>,
): void {
  const handlers = nodeHandlers(port, config, (t) => stop(t)) as {
    [K in NodeCall]: (args: unknown) => Promise<NodeCalls[K]['result']>
  }
  onSupervisorMessage((raw: unknown) => {
    const msg = raw as ToNode
    if (!msg || msg.type !== 'request' || typeof msg.id !== 'number') return
    const refuse = (message: string) =>
      send({
        type: 'reply',
        id: msg.id,
        ok: false,
        error: { name: 'ValidationError', code: 'BAD_COMMAND', message },
      })
    if (!isNodeCall(msg.call)) return refuse(`unknown call ${JSON.stringify(msg.call)}`)
    const parsed = NODE_ARG_SCHEMAS[msg.call].safeParse(msg.args)
    if (!parsed.success) return refuse(`${msg.call}: ${parsed.error.message}`)
    handlers[msg.call](parsed.data).then(
      (value) => send({ type: 'reply', id: msg.id, ok: true, value }),
      (err: unknown) => send({ type: 'reply', id: msg.id, ok: false, error: toWireError(err) }),
    )
  })
  // The supervisor going away (its IPC channel closing) stops the node cleanly.
  process.on('disconnect', () => void stop(true, 'supervisor disconnected'))
  // Under a supervisor, Ctrl-C in the terminal reaches every process of the group: the supervisor
  // orchestrates the stop (leader first), so a supervised node ignores SIGINT itself.
  process.on('SIGINT', () => {
    if (!process.connected) void stop(true, 'received SIGINT')
  })
  process.on('SIGTERM', () => void stop(true, 'received SIGTERM'))
}

async function main(): Promise<void> {
  const config = parseConfig()
  const log = makeLogger(config.name, config.logLevel)
  const node = await openNode(config, log)
  await node.start()
  const port = createAdminPort(node, config.dataDir)
  const { api, backend } = await serveApi(node, config, log, port)
  log.info(`serving etcd v3 on ${config.clientUrl}, peers on ${config.peerUrl} (member ${node.id})`)
  const stop = stopper(node, api, backend, port)
  reportStatus(node, port, config)
  obeySupervisor(port, config, stop)
  send({
    type: 'started',
    id: node.id,
    name: config.name,
    clientUrl: config.clientUrl,
    peerUrl: config.peerUrl,
    pid: process.pid,
  })
}

main().catch((err: unknown) => {
  const wire = toWireError(err)
  process.stderr.write(`node failed to start: ${wire.name}: ${wire.message}\n`)
  send({ type: 'fatal', error: wire })
  setTimeout(() => process.exit(1), 50)
})

/**
 * The store's request limits from etcd's flags: the store checks them again when it applies an
 * entry, so every member must run with the same (serve passes the same flags to all).
 */
function storeRequestLimits(config: NodeProcessConfig): Partial<RequestLimits> {
  const bytes = config.etcd?.maxRequestBytes
  const ops = config.etcd?.maxTxnOps
  return {
    ...(bytes ? { requestBytesMax: bytes, valueBytesMax: bytes } : {}),
    ...(ops ? { txnOpsMax: ops } : {}),
  }
}

/** The client port's TLS from etcd's flags: the PEM files read once at start. */
function readClientTls(config: NodeProcessConfig): EtcdApiTlsOptions | undefined {
  const t = config.etcd?.tls
  if (!t) return undefined
  return {
    certChain: readFileSync(t.certFile),
    privateKey: readFileSync(t.keyFile),
    ...(t.trustedCaFile ? { rootCerts: readFileSync(t.trustedCaFile) } : {}),
    checkClientCertificate: t.clientCertAuth === true,
  }
}
