/**
 * The `raft/*` handlers: the local cluster's machinery for the dashboard, the log view and the
 * timeline, and the levers on it. They run over the local-cluster supervisor through the port
 * below (node-core/cluster's LocalCluster implements it; services cannot import cluster/).
 *
 * The live topic sends the whole cluster view at most every LIVE_INTERVAL_MS while anything
 * changes, with the events recorded since the last message; a window that is behind gets the
 * merge (topics.ts): the newest view and every event.
 */
import type {
  FollowerProgress,
  LinkFault,
  LogSlice,
  NodeProcessState,
  RaftAction,
  RaftClusterView,
  RaftEvent,
  RaftNodeView,
  RaftSample,
  RaftSource,
  RaftSourceInfo,
  RaftTimeouts,
} from '../../contract'
import { NotFoundError } from '../errors'
import type { AdminLogSlice, AdminStatus } from '../server/admin-port'
import { RaftHistory } from './raft-history'
import type { Handlers } from './router'
import type { TopicHandlers } from './topics'

/** One supervised node as the supervisor lists it. */
export interface SupervisedNode {
  name: string
  id: number
  endpoint: string
  peer: string
  dataDir: string
  pid: number | null
  state: NodeProcessState
  status: AdminStatus | null
}

/** What these handlers need from the local-cluster supervisor. */
export interface LocalClusterPort {
  list(): SupervisedNode[]
  linkFaults(): LinkFault[]
  readonly events: {
    after(afterSeq: number, limit?: number): RaftEvent[]
    readonly lastSeq: number
  }
  subscribe(listener: () => void): () => void
  nodeLog(name: string, args: { to: number; limit: number }): Promise<AdminLogSlice>
  kill(name: string): Promise<void>
  restart(name: string): Promise<void>
  pause(name: string): void
  resume(name: string): void
  startNode(name: string): Promise<void>
  stopNode(name: string, transferLeadership?: boolean): Promise<void>
  campaign(name: string): Promise<void>
  transferLeadership(name: string): Promise<void>
  snapshot(name: string): Promise<number>
  partitionGroups(groups: string[][]): Promise<void>
  cutLink(a: string, b: string, oneWay?: boolean): Promise<void>
  setLinkFault(a: string, b: string, fault: { delayMs?: number; lossRate?: number }): Promise<void>
  heal(): Promise<void>
  /** A cluster on other machines (remote-raft.ts): the window offers only what it can do. */
  readonly remote?: boolean
  /** Told when the port stops serving (a remote cluster closed): live streams end. */
  onClosed?(listener: () => void): () => void
  /** The token the cluster's members and joiners present (join/invite shows it). */
  readonly clusterToken: string
  readonly maxMembers: number
  addNode(): Promise<string>
  promote(name: string): Promise<void>
  removeNode(name: string): Promise<void>
  timeouts(): RaftTimeouts
  setTimeouts(t: RaftTimeouts): Promise<void>
}

/** The settings clusterView reports beside the nodes. */
export interface LocalClusterSettings {
  timeouts: RaftTimeouts
  maxMembers: number
  remote?: boolean
}

/** The other clusters the raft views can show (the joins give them; services/join.ts). */
export interface RemoteRaftPorts {
  sources(): Promise<RaftSourceInfo[]>
  port(source: string): Promise<LocalClusterPort>
  /** Closes every remote cluster opened (the host stops, or a test ends). */
  close(): void
}

/** About ten updates a second at most: the dashboard's pace. */
export const LIVE_INTERVAL_MS = 100

const hex = (id: number) => (id === 0 ? '' : id.toString(16))

function followersOf(status: AdminStatus, nameOf: (id: number) => string): FollowerProgress[] {
  return Object.entries(status.progress)
    .map(([id, p]) => ({
      id: hex(Number(id)),
      name: nameOf(Number(id)),
      match: p.match,
      next: p.next,
      state: p.state,
      inflight: p.inflight,
      recentActive: p.recentActive,
      isLearner: p.isLearner,
      pendingSnapshot: p.pendingSnapshot,
      behind: Math.max(0, status.lastIndex - p.match),
    }))
    .sort((a, b) => a.name.localeCompare(b.name))
}

function nodeView(
  n: SupervisedNode,
  nameOf: (id: number) => string,
  cutTo: string[],
  catchUp: number | null,
): RaftNodeView {
  const s = n.status
  return {
    cutTo,
    catchUp,
    name: n.name,
    id: hex(n.id),
    process: n.state,
    pid: n.pid,
    endpoint: n.endpoint,
    peer: n.peer,
    dataDir: n.dataDir,
    stale: n.state !== 'running',
    raft: s
      ? {
          role: s.role,
          term: s.term,
          vote: hex(s.vote),
          leader: hex(s.lead),
          firstIndex: s.firstIndex,
          lastIndex: s.lastIndex,
          stableIndex: s.stableIndex,
          commit: s.commit,
          applied: s.applied,
          snapshotIndex: s.snapshotIndex,
          revision: s.revision,
          compactRevision: s.compactRevision,
          isLearner: s.confState.learners.includes(s.id),
          walBytes: s.walBytes,
          dbBytes: s.dbBytes,
          followers: s.role === 'leader' ? followersOf(s, nameOf) : [],
          electionElapsedTicks: s.electionElapsedTicks,
          electionTimeoutTicks: s.electionTimeoutTicks,
          atMs: s.atMs,
        }
      : null,
  }
}

/**
 * The cluster at a glance. The leader is the running node in the leader role with the highest
 * term; a voter counts as healthy when it runs and follows that leader (the leader included),
 * and `canFail` is how many more voters may go before fewer than a quorum are left.
 */
export function clusterView(
  nodes: SupervisedNode[],
  links: LinkFault[] = [],
  settings: LocalClusterSettings = DEFAULT_SETTINGS,
  nowMs = Date.now(),
): RaftClusterView {
  const cuts = links.filter((l) => l.cut)
  const byId = new Map(nodes.map((n) => [n.id, n.name]))
  const nameOf = (id: number) => byId.get(id) ?? hex(id)
  const cutTo = (name: string) =>
    cuts
      .filter((c) => c.from === name)
      .map((c) => c.to)
      .sort()
  const leaders = nodes
    .filter((n) => n.state === 'running' && n.status?.role === 'leader')
    .sort((a, b) => b.status!.term - a.status!.term)
  const leader = leaders[0]
  // A learner's catch-up: how much of the leader's log the leader knows it holds.
  const catchUp = (n: SupervisedNode): number | null => {
    const p = leader?.status?.progress[n.id]
    if (!p?.isLearner) return null
    const last = leader!.status!.lastIndex
    return last === 0 ? 1 : Math.min(1, p.match / last)
  }
  const views = nodes.map((n) => nodeView(n, nameOf, cutTo(n.name), catchUp(n)))
  // The configuration as the leader knows it; without a leader, as the newest node knows it.
  const newest = [...nodes].filter((n) => n.status).sort((a, b) => b.status!.term - a.status!.term)
  const conf = (leader ?? newest[0])?.status?.confState
  const voterIds = conf ? conf.voters : nodes.map((n) => n.id)
  const voters = voterIds.length
  const quorum = Math.floor(voters / 2) + 1
  // A follower in the leader's term that has not heard its first append yet (lead 0 a moment
  // after the election) is following it too.
  const follows = (n: SupervisedNode) =>
    n.status?.lead === leader!.id ||
    (n.status?.role === 'follower' && n.status.lead === 0 && n.status.term === leader!.status!.term)
  const healthyVoters = leader
    ? nodes.filter(
        (n) =>
          voterIds.includes(n.id) && n.state === 'running' && (n.id === leader.id || follows(n)),
      ).length
    : 0
  return {
    nodes: views,
    links,
    leader: leader?.name ?? '',
    term: Math.max(0, ...nodes.map((n) => n.status?.term ?? 0)),
    voters,
    quorum,
    healthyVoters,
    canFail: leader ? healthyVoters - quorum : -1,
    timeouts: settings.timeouts,
    maxMembers: settings.maxMembers,
    remote: settings.remote ?? false,
    atMs: nowMs,
  }
}

/** The local cluster's defaults (supervisor.ts), for views built without a supervisor. */
const DEFAULT_SETTINGS: LocalClusterSettings = {
  timeouts: { electionMsMin: 150, electionMsMax: 300, heartbeatMs: 50 },
  maxMembers: 9,
}

const viewOf = (port: LocalClusterPort) =>
  clusterView(port.list(), port.linkFaults(), {
    timeouts: port.timeouts(),
    maxMembers: port.maxMembers,
    remote: port.remote ?? false,
  })

function noLocalCluster(): never {
  throw new NotFoundError(
    'NO_LOCAL_CLUSTER',
    'this window is not attached to a local cluster: the raft views need the one raftdesk runs',
  )
}

/**
 * Runs an action on the supervisor. The supervisor refuses unknown nodes and links from a node
 * to itself with one sentence each (UNKNOWN_NODE, BAD_LINK), before it changes anything.
 */
async function act(port: LocalClusterPort, a: RaftAction): Promise<null> {
  switch (a.type) {
    case 'partition':
      await port.partitionGroups(a.groups)
      break
    case 'cutLink':
      await port.cutLink(a.from, a.to, a.oneWay ?? false)
      break
    case 'linkFault':
      await port.setLinkFault(a.from, a.to, { delayMs: a.delayMs, lossRate: a.lossRate })
      break
    case 'heal':
      await port.heal()
      break
    case 'addNode':
      await port.addNode()
      break
    case 'timeouts':
      await port.setTimeouts({
        electionMsMin: a.electionMsMin,
        electionMsMax: a.electionMsMax,
        heartbeatMs: a.heartbeatMs,
      })
      break
    default:
      await NODE_ACTIONS[a.type](port, a.node)
  }
  return null
}

const NODE_ACTIONS: Record<
  Extract<RaftAction, { node: string }>['type'],
  (port: LocalClusterPort, node: string) => unknown
> = {
  kill: (p, n) => p.kill(n),
  restart: (p, n) => p.restart(n),
  pause: (p, n) => p.pause(n),
  resume: (p, n) => p.resume(n),
  start: (p, n) => p.startNode(n),
  stop: (p, n) => p.stopNode(n, true),
  campaign: (p, n) => p.campaign(n),
  transfer: (p, n) => p.transferLeadership(n),
  snapshot: (p, n) => p.snapshot(n),
  promote: (p, n) => p.promote(n),
  remove: (p, n) => p.removeNode(n),
}

/** Each node's log over the same window of indexes, so the view can align them. */
async function logs(port: LocalClusterPort, to: number, limit: number): Promise<LogSlice[]> {
  const nodes = port.list()
  const newest = Math.max(0, ...nodes.map((n) => n.status?.lastIndex ?? 0))
  const last = to === 0 ? newest : to
  return Promise.all(
    nodes.map(async (n): Promise<LogSlice> => {
      const base = {
        node: n.name,
        firstIndex: 0,
        lastIndex: 0,
        stableIndex: 0,
        commit: 0,
        applied: 0,
      }
      if (n.state !== 'running') return { ...base, entries: [], error: `${n.name} is ${n.state}` }
      try {
        return { node: n.name, ...(await port.nodeLog(n.name, { to: last, limit })) }
      } catch (err) {
        return { ...base, entries: [], error: err instanceof Error ? err.message : String(err) }
      }
    }),
  )
}

/** One history per supervised cluster, recording from the first time the services meet it. */
const histories = new WeakMap<LocalClusterPort, RaftHistory>()
/** Stops recording a port's history (a remote cluster closed). */
export function stopHistory(port: LocalClusterPort): void {
  histories.get(port)?.stop()
  histories.delete(port)
}

export function historyOf(port: LocalClusterPort): RaftHistory {
  let h = histories.get(port)
  if (!h) {
    h = new RaftHistory(() => port.list()).start()
    histories.set(port, h)
  }
  return h
}

const isLocal = (source: RaftSource | undefined) => !source?.source || source.source === 'local'

export function createRaftHandlers(
  local: Promise<LocalClusterPort> | undefined,
  remotes?: RemoteRaftPorts,
): Pick<
  Handlers,
  | 'raft/available'
  | 'raft/sources'
  | 'raft/cluster'
  | 'raft/log'
  | 'raft/events'
  | 'raft/history'
  | 'raft/act'
> {
  const port = portResolver(local, remotes)
  // Record from the start, so that a window opened later can scrub back.
  void local?.then(historyOf, () => undefined)
  return {
    'raft/history': async ({ afterMs, ...source }) => historyOf(await port(source)).after(afterMs),
    'raft/available': async () =>
      local
        ? local.then(
            () => true,
            () => false,
          )
        : false,
    'raft/sources': async () => [
      ...(local ? [{ id: 'local', label: 'local cluster', remote: false }] : []),
      ...((await remotes?.sources()) ?? []),
    ],
    'raft/cluster': async (source) => viewOf(await port(source)),
    'raft/log': async ({ to, limit, ...source }) => logs(await port(source), to, limit),
    'raft/events': async ({ afterSeq, ...source }) => (await port(source)).events.after(afterSeq),
    'raft/act': async (action, source) => act(await port(source), action),
  }
}

/** The cluster a call names: the local one unless a source says another. */
function portResolver(
  local: Promise<LocalClusterPort> | undefined,
  remotes: RemoteRaftPorts | undefined,
): (source: RaftSource | undefined) => Promise<LocalClusterPort> {
  return async (source) => {
    if (isLocal(source)) return local ? local : noLocalCluster()
    if (!remotes) {
      throw new NotFoundError('NO_SOURCE', `no cluster ${JSON.stringify(source!.source)} here`)
    }
    return remotes.port(source!.source!)
  }
}

export function createRaftTopics(
  local: Promise<LocalClusterPort> | undefined,
  remotes?: RemoteRaftPorts,
): Pick<TopicHandlers, 'raft/live'> {
  const resolve = portResolver(local, remotes)
  return {
    'raft/live': async (source, sink) => {
      const port = await resolve(source)
      const history = historyOf(port)
      let sentSeq = port.events.lastSeq
      let samples: RaftSample[] = []
      sink.emit({ cluster: viewOf(port), events: port.events.after(0), samples: history.after(0) })
      let timer: NodeJS.Timeout | null = null
      const flush = () => {
        timer = null
        const events = port.events.after(sentSeq)
        sentSeq = port.events.lastSeq
        sink.emit({ cluster: viewOf(port), events, samples })
        samples = []
      }
      const changed = () => {
        timer ??= setTimeout(flush, LIVE_INTERVAL_MS)
      }
      const unsubscribe = port.subscribe(changed)
      const unclosed = port.onClosed?.(() =>
        sink.fail(
          new NotFoundError('SOURCE_GONE', 'that cluster is no longer reachable from here'),
        ),
      )
      const unsample = history.onSample((s) => {
        samples.push(s)
        changed()
      })
      return () => {
        unsubscribe()
        unclosed?.()
        unsample()
        if (timer) clearTimeout(timer)
      }
    },
  }
}
