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
import type { Member } from '../kernel/member'
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
  /** Refuse to join unless the cluster has this id (from an invite link). */
  expectClusterId?: number
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
  /** The peer address the join was asked through (absent in records written before). */
  peer?: string
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

/**
 * Asks the cluster who it is before anything changes: its id and leader, through the
 * token-checked Admin service. The errors say what went wrong in a person's words: UNREACHABLE,
 * WRONG_CLUSTER_TOKEN, NOT_RAFTDESK, CLUSTER_MISMATCH (with expectClusterId).
 */
export async function probeCluster(
  clientEndpoint: string,
  token: string,
  expectClusterId?: number,
): Promise<{ clusterId: number; lead: number; commit: number; members: Member[] }> {
  const client = new AdminClient(clientEndpoint, token)
  try {
    const s = await client.call('status', {}, Date.now() + 5_000)
    if (expectClusterId !== undefined && s.clusterId !== expectClusterId) {
      throw new JoinError(
        'CLUSTER_MISMATCH',
        `${clientEndpoint} belongs to cluster ${s.clusterId.toString(16)}, not ${expectClusterId.toString(16)} as the invite says`,
      )
    }
    return { clusterId: s.clusterId, lead: s.lead, commit: s.commit, members: s.members }
  } catch (err) {
    if (err instanceof JoinError) throw err
    const e = err as RaftdeskError
    const why: Record<string, string> = {
      UNREACHABLE: `cannot reach a raftdesk member at ${clientEndpoint}`,
      WRONG_CLUSTER_TOKEN: `${clientEndpoint} refused the token: it is not this cluster's`,
    }
    throw new JoinError(e.code, why[e.code] ? `${why[e.code]} (${e.message})` : e.message)
  } finally {
    client.close()
  }
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
  /** The node's last report, and the size of the last snapshot it received. */
  private latest: NodeStatus | null = null
  private snapshotBytes = 0

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

  get name(): string {
    return this.record.config.name
  }

  /** The cluster token this member presents. */
  get token(): string {
    return this.record.token
  }

  /** The peer address the join went through, and that member's client endpoint. */
  get via(): { peer: string; clientEndpoint: string } {
    return { peer: this.record.peer ?? '', clientEndpoint: this.record.clientEndpoint }
  }

  get running(): boolean {
    return this.proc !== null
  }

  /** What the node last reported about itself (null before its first report). */
  get lastStatus(): NodeStatus | null {
    return this.latest
  }

  get receivedSnapshotBytes(): number {
    return this.snapshotBytes
  }

  /**
   * Where to ask the cluster: this member itself first (it knows every peer), then the members
   * it last reported, then the one it joined through (which may have left since).
   */
  private askVia(): string[] {
    const known = (this.latest?.members ?? [])
      .filter((m) => m.id !== this.memberId)
      .map((m) => (m.clientUrls[0] ?? '').replace(/^https?:\/\//, ''))
      .filter((e) => e !== '')
    return [
      ...new Set([...(this.proc ? [this.endpoint] : []), ...known, this.record.clientEndpoint]),
    ]
  }

  /** The first answer of `status` from askVia(), token-checked. */
  private async anyStatus(): Promise<{ commit: number; lead: number; members: Member[] }> {
    let last: unknown = null
    for (const endpoint of this.askVia()) {
      try {
        return await probeCluster(endpoint, this.record.token)
      } catch (err) {
        last = err
      }
    }
    throw last ?? new JoinError('UNREACHABLE', 'no member of the cluster answers')
  }

  /** The cluster's own view of it: its commit index and leader. */
  async clusterStatus(): Promise<{ commit: number; lead: number }> {
    const s = await this.anyStatus()
    return { commit: s.commit, lead: s.lead }
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
      const node = (await JoinedNode.load(options.dataDir, launcher, startTimeoutMs))!
      await node.start()
      return node
    }
    const host = options.host ?? '127.0.0.1'
    const clientUrl = `http://${host}:${options.clientPort}`
    const peerUrl = `http://${host}:${options.clientPort + 1}`
    const clientEndpoint = options.clientEndpoint ?? clientEndpointForPeer(options.peer)
    // Who is there, before the cluster is changed: unreachable, not raftdesk, a wrong token or
    // another cluster than the invite names all stop here with nothing changed.
    await probeCluster(clientEndpoint, options.token, options.expectClusterId)
    let answer: Awaited<ReturnType<typeof callJoin>>
    try {
      answer = await callJoin(clientEndpoint, {
        token: options.token,
        name: options.name,
        peerUrls: [peerUrl],
        clientUrls: [clientUrl],
      })
    } catch (err) {
      // A join that timed out may still have committed: adopt the member if the cluster has it.
      const s = await probeCluster(clientEndpoint, options.token).catch(() => null)
      const added = s?.members.find((m) => m.name === options.name && m.peerUrls.includes(peerUrl))
      if (!s || !added) throw err
      answer = { memberId: added.id, clusterId: s.clusterId, members: s.members }
    }
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
      peer: options.peer,
      clientEndpoint,
      config,
    }
    await mkdir(options.dataDir, { recursive: true, mode: 0o700 })
    // It holds the other cluster's token: the owner's alone.
    await writeFileAtomic(file, JSON.stringify(record, null, 2), 0o600)
    const node = new JoinedNode(record, launcher, startTimeoutMs)
    await node.start()
    return node
  }

  /** The node joined earlier in `dataDir`, not started (null when nothing joined there). */
  static async load(
    dataDir: string,
    launcher: NodeLauncher = new ForkLauncher(),
    startTimeoutMs = 30_000,
  ): Promise<JoinedNode | null> {
    const file = joinPath(dataDir, 'join.json')
    if (!existsSync(file)) return null
    const record = JSON.parse(await readFile(file, 'utf8')) as JoinRecord
    return new JoinedNode(record, launcher, startTimeoutMs)
  }

  /** Starts the node process and resolves once it serves clients. */
  async start(): Promise<void> {
    if (this.proc) return
    try {
      await this.launch()
    } catch (err) {
      // A process that did not come up in time must not linger beside a later start.
      await this.kill()
      throw err
    }
  }

  private async launch(): Promise<void> {
    const proc = NodeProcess.launch(this.launcher, this.record.config, (status, events) => {
      this.latest = status
      for (const e of events) {
        if (e.kind === 'snapshotReceived') this.snapshotBytes = Number(e.detail ?? 0)
      }
    })
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

  /** The leader's client endpoint, asked through the member we joined by. */
  private async leaderAdmin(): Promise<AdminClient> {
    const { lead, members } = await this.anyStatus()
    const url = members.find((m) => m.id === lead)?.clientUrls[0]
    if (!url) throw new JoinError('NO_LEADER', 'the cluster reports no leader with a client URL')
    return new AdminClient(url.replace(/^https?:\/\//, ''), this.record.token)
  }

  /**
   * Promotes this learner to a voter once the leader agrees it is caught up; retries while the
   * leader answers "not ready" or leadership moves, until `timeoutMs` (0: ask once).
   */
  async promote(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      let last: RaftdeskError
      try {
        const leader = await this.leaderAdmin()
        try {
          await leader.memberPromote(this.memberId, Date.now() + 15_000)
          return
        } finally {
          leader.close()
        }
      } catch (err) {
        last = err as RaftdeskError
        if (last.code === 'MEMBER_NOT_LEARNER') return
      }
      if (Date.now() >= deadline) {
        throw new JoinError(
          last.code === 'LEARNER_NOT_READY' ? 'LEARNER_NOT_READY' : 'PROMOTE_FAILED',
          last.code === 'LEARNER_NOT_READY'
            ? `not promoted: the leader says this learner is still catching up (${last.message})`
            : `not promoted: ${last.message}`,
        )
      }
      await new Promise((r) => setTimeout(r, 200))
    }
  }

  /** Leaves the cluster: the leader removes this member, then the node stops. */
  async leave(): Promise<void> {
    const leader = await this.leaderAdmin()
    try {
      await leader.call('memberRemove', { id: this.memberId }, Date.now() + 15_000)
    } catch (err) {
      // Removed already (elsewhere, or by a call that timed out but committed): leave locally.
      if ((err as RaftdeskError).code !== 'MEMBER_NOT_FOUND') throw err
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
