/**
 * Every service behind the UI contract, assembled once for whichever host serves it (Electron's
 * main process or the web-mode server): the call handlers and the topic handlers.
 */
import { createAppHandlers, createAppTopics, type AppServiceOptions } from './app'
import { createAuthHandlers } from './auth'
import { createBulkHandlers, createBulkTopics } from './bulk'
import { createClusterHandlers } from './cluster'
import { createConnectionHandlers, type Connections } from './connections'
import { createDiffTopic } from './diff'
import { createKvHandlers, createKvTopics } from './kv'
import { createJoinHandlers, createJoinTopics, remoteRaftPorts, type JoinPort } from './join'
import { createLeaseHandlers } from './leases'
import { createMaintenanceHandlers } from './maintenance'
import { createMetricsTopics } from './metrics'
import {
  createRaftHandlers,
  createRaftTopics,
  type LocalClusterPort,
  type RemoteRaftPorts,
} from './raft'
import { NotFoundError } from '../errors'
import type { Handlers } from './router'
import { createSearchTopic } from './search'
import { createSnapshotHandlers, createSnapshotTopics, type RestorePort } from './snapshots'
import type { TopicHandlers } from './topics'
import { createWalHandlers, createWalTopics } from './wal'

/** Restored clusters as raft sources: local clusters, every lever theirs. */
export interface RestoredSources {
  list(): Array<{ name: string }>
  cluster(name: string): LocalClusterPort | null
}

function withRestored(remotes: RemoteRaftPorts, restored?: RestoredSources): RemoteRaftPorts {
  if (!restored) return remotes
  return {
    close: () => remotes.close(),
    sources: async () => [
      ...restored
        .list()
        .map((r) => ({ id: `restored:${r.name}`, label: `restored ${r.name}`, remote: false })),
      ...(await remotes.sources()),
    ],
    port: async (source) => {
      if (!source.startsWith('restored:')) return remotes.port(source)
      const c = restored.cluster(source.slice('restored:'.length))
      if (!c) throw new NotFoundError('NO_SOURCE', `no cluster ${JSON.stringify(source)} here`)
      return c
    },
  }
}

export interface Services {
  handlers: Handlers
  topics: TopicHandlers
}

/**
 * `local` is the local cluster this host supervises (the raft views' subject), when it runs one;
 * `joins`, this machine's members of other clusters, when the host keeps them.
 */
export function createServices(
  app: AppServiceOptions,
  conns: Connections,
  local?: Promise<LocalClusterPort>,
  joins?: Promise<JoinPort>,
  restored?: RestorePort & RestoredSources,
): Services {
  const remotes = withRestored(remoteRaftPorts(joins), restored)
  return {
    handlers: {
      ...createAppHandlers(app),
      ...createKvHandlers(conns),
      ...createBulkHandlers(conns),
      ...createAuthHandlers(conns),
      ...createClusterHandlers(conns),
      ...createConnectionHandlers(conns),
      ...createLeaseHandlers(conns),
      ...createRaftHandlers(local, remotes),
      ...createWalHandlers(local),
      ...createMaintenanceHandlers(conns),
      ...createSnapshotHandlers(conns, restored),
      ...createJoinHandlers(joins, local),
    },
    topics: {
      ...createAppTopics(app),
      ...createKvTopics(conns),
      ...createSearchTopic(conns),
      ...createBulkTopics(conns),
      ...createDiffTopic(conns),
      ...createRaftTopics(local, remotes),
      ...createWalTopics(),
      ...createSnapshotTopics(conns),
      ...createJoinTopics(joins),
      ...createMetricsTopics(conns),
    },
  }
}
