/**
 * Joining a running raftdesk cluster from here: given the peer address of any of its members
 * and the cluster token, a local node becomes a learner of that cluster, catches up (a snapshot,
 * then the log), and is promoted to a voter once it holds enough of the log. leave() removes it
 * again.
 *
 * The member's client API is found at its peer port − 1 (raftdesk's layout: client port P, peer
 * port P + 1) unless a client endpoint is given. The token is checked by the cluster's Admin.Join
 * before anything changes, and again by every peer handshake.
 *
 * <dataDir>/join.json remembers what the cluster answered, so a restart of the joined node
 * (JoinedNode.start with the same dataDir) comes back as the same member without asking again.
 */
import { existsSync } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import { join as joinPath } from 'node:path'
import { AdminClient } from '../client/admin-client'
import { EtcdClient, EtcdClientError } from '../client/etcd-client'
import { RaftdeskError, ValidationError } from '../errors'
import { ForkLauncher, type NodeLauncher } from './launcher'
import { writeFileAtomic } from '../kernel/fs'
import { NodeProcess } from './node-process'
import type { NodeProcessConfig, NodeStatus } from './protocol'
import { LOCAL_CLUSTER_DEFAULTS } from './supervisor'

export interface JoinOptions {
  /** host:port of any member's peer listener. */
  peer: string
  /** host:port of that member's client API, if it is not at the peer port − 1. */
  clientEndpoint?: string
  token: string
  /** This node's name in the cluster (unique there). */
  name: string
  dataDir: string
  host?: string
  /** This node serves clients here and its peers on clientPort + 1. */
  clientPort: number
  launcher?: NodeLauncher
  logLevel?: NodeProcessConfig['logLevel']
  /** Raft timing: must match the cluster's (the defaults are raftdesk's). */
  electionMsMin?: number
  electionMsMax?: number
  heartbeatMs?: number
  snapshotCount?: number
  startTimeoutMs?: number
}

interface JoinRecord {
  version: 1
  memberId: number
  clusterId: number
  token: string
  clientEndpoint: string
  config: NodeProcessConfig
}

export class JoinError extends RaftdeskError {}

/** The cluster member's client endpoint for a peer address (raftdesk's port layout). */
export function clientEndpointForPeer(peer: string): string {
  const i = peer.lastIndexOf(':')
  const port = Number(peer.slice(i + 1))
  if (i < 1 || !Number.isInteger(port) || port < 2 || port > 65535) {
    throw new ValidationError(
      'BAD_PEER_ADDRESS',
      `peer address must be host:port, got ${JSON.stringify(peer)}`,
    )
  }
  return `${peer.slice(0, i)}:${port - 1}`
}

async function callJoin(
  endpoint: string,
  req: { token: string; name: string; peerUrls: string[]; clientUrls: string[] },
): Promise<{ memberId: number; clusterId: number; members: NodeProcessConfig['existingMembers'] }> {
  const { token, ...who } = req
  const client = new AdminClient(endpoint, token)
  try {
    return await client.join(who, Date.now() + 15_000)
  } catch (err) {
    const e = err as RaftdeskError
    throw new JoinError(`JOIN_${e.code}`, `join via ${endpoint} refused: ${e.message}`)
  } finally {
    client.close()
  }
}

export class JoinedNode {
  private proc: NodeProcess | null = null

  private constructor(
    private readonly record: JoinRecord,
    private readonly launcher: NodeLauncher,
    private readonly startTimeoutMs: number,
  ) {}

  get memberId(): number {
    return this.record.memberId
  }

  get clusterId(): number {
    return this.record.clusterId
  }

  get endpoint(): string {
    return this.record.config.clientUrl.replace(/^https?:\/\//, '')
  }

  get pid(): number | null {
    return this.proc?.pid ?? null
  }

  /**
   * Joins the cluster (or, when dataDir holds an earlier join, rejoins as the same member) and
   * starts the local node. It is a learner until promote().
   */
  static async join(options: JoinOptions): Promise<JoinedNode> {
    const file = joinPath(options.dataDir, 'join.json')
    const launcher = options.launcher ?? new ForkLauncher()
    const startTimeoutMs = options.startTimeoutMs ?? 30_000
    if (existsSync(file)) {
      const record = JSON.parse(await readFile(file, 'utf8')) as JoinRecord
      const node = new JoinedNode(record, launcher, startTimeoutMs)
      await node.start()
      return node
    }
    const host = options.host ?? '127.0.0.1'
    const clientUrl = `http://${host}:${options.clientPort}`
    const peerUrl = `http://${host}:${options.clientPort + 1}`
    const clientEndpoint = options.clientEndpoint ?? clientEndpointForPeer(options.peer)
    const answer = await callJoin(clientEndpoint, {
      token: options.token,
      name: options.name,
      peerUrls: [peerUrl],
      clientUrls: [clientUrl],
    })
    const d = LOCAL_CLUSTER_DEFAULTS
    const config: NodeProcessConfig = {
      name: options.name,
      dataDir: joinPath(options.dataDir, 'node'),
      clientUrl,
      peerUrl,
      initialCluster: [],
      clusterState: 'existing',
      token: options.token,
      tickMs: d.tickMs,
      electionMsMin: options.electionMsMin ?? d.electionMsMin,
      electionMsMax: options.electionMsMax ?? d.electionMsMax,
      heartbeatMs: options.heartbeatMs ?? d.heartbeatMs,
      snapshotCount: options.snapshotCount ?? d.snapshotCount,
      statusIntervalMs: d.statusIntervalMs,
      existingMembers: answer.members,
      memberId: answer.memberId,
      clusterId: answer.clusterId,
      logLevel: options.logLevel ?? 'info',
    }
    const record: JoinRecord = {
      version: 1,
      memberId: answer.memberId,
      clusterId: answer.clusterId,
      token: options.token,
      clientEndpoint,
      config,
    }
    await mkdir(options.dataDir, { recursive: true })
    await writeFileAtomic(file, JSON.stringify(record, null, 2))
    const node = new JoinedNode(record, launcher, startTimeoutMs)
    await node.start()
    return node
  }

  /** Starts the node process and resolves once it serves clients. */
  async start(): Promise<void> {
    if (this.proc) return
    const proc = NodeProcess.launch(this.launcher, this.record.config)
    this.proc = proc
    void proc.exited.then(() => {
      if (this.proc === proc) this.proc = null
    })
    await proc.waitReady(this.startTimeoutMs)
  }

  status(): Promise<NodeStatus> {
    if (!this.proc) {
      return Promise.reject(new JoinError('NODE_NOT_RUNNING', 'the joined node is not running'))
    }
    return this.proc.status()
  }

  /** The cluster's leader as a client endpoint, asked through the member we joined by. */
  private async leaderClient(): Promise<EtcdClient> {
    const via = new EtcdClient(this.record.clientEndpoint)
    try {
      const status = await via.status()
      const members = await via.memberList()
      const leader = members.find((m) => m.id === status.leader)
      const url = leader?.clientUrls[0]
      if (!url) throw new JoinError('NO_LEADER', 'the cluster reports no leader with a client URL')
      return new EtcdClient(url.replace(/^https?:\/\//, ''))
    } finally {
      via.close()
    }
  }

  /**
   * Promotes this learner to a voter once the leader agrees it is caught up; retries while the
   * leader answers "learner not ready" or leadership moves, until `timeoutMs`.
   */
  async promote(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    let last = ''
    while (Date.now() < deadline) {
      let leader: EtcdClient | null = null
      try {
        leader = await this.leaderClient()
        await leader.memberPromote(String(this.memberId))
        return
      } catch (err) {
        last = (err as Error).message
        if (err instanceof EtcdClientError && /can only promote a learner/.test(last)) return
      } finally {
        leader?.close()
      }
      await new Promise((r) => setTimeout(r, 200))
    }
    throw new JoinError('PROMOTE_TIMEOUT', `not promoted within ${timeoutMs} ms: ${last}`)
  }

  /** Leaves the cluster: removes this member through the leader, then stops the node. */
  async leave(): Promise<void> {
    const leader = await this.leaderClient()
    try {
      await leader.memberRemove(String(this.memberId))
    } finally {
      leader.close()
    }
    // A removed member stops by itself; stop() covers the case where it has not yet.
    await this.stop()
  }

  async stop(): Promise<void> {
    await this.proc?.stop(true, 10_000)
  }

  async kill(): Promise<void> {
    const proc = this.proc
    if (!proc) return
    proc.signal('SIGKILL')
    await proc.exited
  }
}
