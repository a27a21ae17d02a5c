/**
 * The `join/*` handlers: this machine's members of other raftdesk clusters, over the join
 * manager (node-core/cluster/joins.ts implements the port; services cannot import cluster/), and
 * the invite link for the local cluster, from the supervisor.
 */
import type { JoinForm, JoinInvite, JoinedMember } from '../../contract'
import { NotFoundError, ValidationError } from '../errors'
import { isLoopbackAddress } from '../kernel/member'
import { stopHistory, type LocalClusterPort, type RemoteRaftPorts } from './raft'
import { RemoteCluster } from './remote-raft'
import type { Handlers } from './router'
import type { TopicHandlers } from './topics'

/** What these handlers need from the join manager. */
export interface JoinPort {
  list(): JoinedMember[]
  join(req: {
    peer: string
    token: string
    name?: string
    advertiseHost?: string
    clusterId?: number
  }): Promise<JoinedMember>
  promote(name: string): Promise<void>
  start(name: string): Promise<void>
  leave(name: string): Promise<void>
  on(event: 'changed', listener: () => void): unknown
  off(event: 'changed', listener: () => void): unknown
  /** How to reach a joined member's cluster: the member's own endpoint and the token. */
  adminOf(name: string): { endpoint: string; token: string } | null
}

/**
 * The clusters this machine is a member of, as sources for the raft views: each seen through
 * its joined member's admin port (remote-raft.ts), opened on first use and closed once the
 * member has left.
 */
export function remoteRaftPorts(joins: Promise<JoinPort> | undefined): RemoteRaftPorts {
  const open = new Map<string, Promise<RemoteCluster>>()
  const drop = (name: string) => {
    const remote = open.get(name)
    open.delete(name)
    void remote?.then(
      (r) => {
        r.close()
        stopHistory(r)
      },
      () => undefined,
    )
  }
  void joins?.then(
    (j) => {
      j.on('changed', () => {
        const names = new Set(j.list().map((m) => m.name))
        for (const name of [...open.keys()]) if (!names.has(name)) drop(name)
      })
    },
    () => undefined,
  )
  // A remote cluster nobody has watched or asked about for a while stops being polled.
  const sweep = setInterval(() => {
    for (const [name, remote] of open) {
      void remote.then(
        (r) => {
          if (r.idleFor(REMOTE_IDLE_MS)) drop(name)
        },
        () => undefined,
      )
    }
  }, REMOTE_IDLE_MS / 2)
  sweep.unref()
  return {
    close: () => {
      clearInterval(sweep)
      for (const name of [...open.keys()]) drop(name)
    },
    sources: async () =>
      ((joins ? await joins.catch(() => null) : null)?.list() ?? [])
        .filter((m) => m.memberId && m.phase !== 'failed' && m.phase !== 'stopped')
        .map((m) => ({
          id: `joined:${m.name}`,
          label: `cluster ${m.clusterId} (as ${m.name})`,
          remote: true,
        })),
    port: async (source) => {
      const name = source.startsWith('joined:') ? source.slice(7) : ''
      const j = joins ? await joins : null
      const admin = name && j ? j.adminOf(name) : null
      if (!admin) {
        throw new NotFoundError('NO_SOURCE', `no cluster ${JSON.stringify(source)} here`)
      }
      let remote = open.get(name)
      if (!remote) {
        remote = new RemoteCluster(admin.endpoint, admin.token).start()
        open.set(name, remote)
        remote.catch(() => open.delete(name))
      }
      return remote
    },
  }
}

/** A remote cluster unwatched this long stops being polled (opened again on the next look). */
const REMOTE_IDLE_MS = 60_000

/** Changes reach the window at most this often. */
export const JOIN_LIVE_INTERVAL_MS = 250

function noJoins(): never {
  throw new NotFoundError('NO_JOINS', 'this host does not run members of other clusters')
}

function toRequest(form: JoinForm) {
  return {
    peer: form.peer.trim(),
    token: form.token,
    ...(form.name?.trim() ? { name: form.name.trim() } : {}),
    ...(form.advertiseHost?.trim() ? { advertiseHost: form.advertiseHost.trim() } : {}),
    ...(form.clusterId ? { clusterId: parseInt(form.clusterId, 16) } : {}),
  }
}

/** The local cluster's invite: a running member's peer address, the token and the cluster id. */
export function inviteOf(port: LocalClusterPort): JoinInvite {
  const nodes = port.list()
  const running = nodes.filter((n) => n.state === 'running' && n.status)
  const via = running.find((n) => n.status!.role === 'leader') ?? running[0]
  if (!via) {
    throw new ValidationError('NO_RUNNING_NODE', 'no node of the local cluster runs: start one')
  }
  const clusterId = via.status!.clusterId.toString(16)
  const q = new URLSearchParams({ peer: via.peer, token: port.clusterToken, cluster: clusterId })
  return {
    link: `raftdesk://join?${q}`,
    peer: via.peer,
    token: port.clusterToken,
    clusterId,
    loopback: isLoopbackAddress(via.peer),
  }
}

export function createJoinHandlers(
  joins: Promise<JoinPort> | undefined,
  local: Promise<LocalClusterPort> | undefined,
): Pick<
  Handlers,
  'join/list' | 'join/start' | 'join/promote' | 'join/retry' | 'join/leave' | 'join/invite'
> {
  const port = async () => (joins ? joins : noJoins())
  return {
    'join/list': async () => (joins ? (await joins).list() : []),
    'join/start': async (form) => (await port()).join(toRequest(form)),
    'join/promote': async ({ name }) => {
      await (await port()).promote(name)
      return null
    },
    'join/retry': async ({ name }) => {
      await (await port()).start(name)
      return null
    },
    'join/leave': async ({ name }) => {
      await (await port()).leave(name)
      return null
    },
    'join/invite': async () => {
      if (!local) {
        throw new NotFoundError('NO_LOCAL_CLUSTER', 'this host runs no local cluster to invite to')
      }
      return inviteOf(await local)
    },
  }
}

export function createJoinTopics(
  joins: Promise<JoinPort> | undefined,
): Pick<TopicHandlers, 'join/live'> {
  return {
    'join/live': async (_args, sink) => {
      if (!joins) {
        sink.emit([])
        return () => undefined
      }
      const port = await joins
      sink.emit(port.list())
      let timer: NodeJS.Timeout | null = null
      const changed = () => {
        timer ??= setTimeout(() => {
          timer = null
          sink.emit(port.list())
        }, JOIN_LIVE_INTERVAL_MS)
      }
      port.on('changed', changed)
      return () => {
        port.off('changed', changed)
        if (timer) clearTimeout(timer)
      }
    },
  }
}
