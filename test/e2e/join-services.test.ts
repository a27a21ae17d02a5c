// Joining another raftdesk cluster from the window's services: the invite link of the local
// cluster, every refusal said in words with nothing changed (wrong token, nothing there, a real
// etcd, another cluster than the invite names), then a member that joins, catches up over a
// snapshot, is promoted, comes back when the host restarts, and leaves.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import type { JoinForm, JoinInvite, JoinedMember, RaftClusterView } from '../../contract'
import { ForkLauncher } from '../../node-core/cluster/launcher'
import { JoinManager } from '../../node-core/cluster/joins'
import {
  createJoinHandlers,
  createJoinTopics,
  remoteRaftPorts,
} from '../../node-core/services/join'
import { createRaftHandlers, createRaftTopics } from '../../node-core/services/raft'
import { parseArgs } from '../../node-core/services/router'
import { sleep, startTestCluster, type TestCluster } from '../helpers/cluster'
import { startEtcdCluster } from '../helpers/etcd'
import { freePort, freePortBlock } from '../helpers/ports'

const etcdInstalled = spawnSync('etcd', ['--version']).status === 0

let target: TestCluster
let dir: string
let manager: JoinManager
let portBase: number
let joins: ReturnType<typeof createJoinHandlers>
let invite: JoinInvite
const launcher = new ForkLauncher({ onStderrLine: () => undefined })

const open = () => JoinManager.open({ dir, portBase, launcher, pollMs: 200 })
const handlers = () => createJoinHandlers(Promise.resolve(manager), Promise.resolve(target.cluster))
/** A join as the window sends it: through the channel's argument check. */
const start = (form: JoinForm) => joins['join/start'](...parseArgs('join/start', [form]))
const memberNames = async () =>
  (await target.client((await target.cluster.waitForLeader()) ?? 'n1').memberList())
    .map((m) => m.name)
    .sort()

async function until(what: string, ok: (m: JoinedMember | undefined) => boolean, ms = 20_000) {
  const deadline = Date.now() + ms
  let m = manager.list()[0]
  while (!ok(m)) {
    if (Date.now() > deadline) throw new Error(`${what}: gave up; last ${JSON.stringify(m)}`)
    await sleep(50)
    m = manager.list()[0]
  }
  return m!
}

beforeAll(async () => {
  target = await startTestCluster({ snapshotCount: 50, snapshotCatchUpEntries: 5 })
  const leader = await target.cluster.waitForLeader()
  for (let i = 0; i < 150; i++) await target.client(leader).put(`j/${i}`, `v${i}`)
  dir = mkdtempSync(join(tmpdir(), 'raftdesk-joined-'))
  portBase = await freePortBlock(2)
  manager = await open()
  joins = handlers()
  invite = await joins['join/invite']()
}, 60_000)
afterAll(async () => {
  await manager?.close()
  await target?.dispose()
  rmSync(dir, { recursive: true, force: true })
})

describe('join a remote cluster from the window', () => {
  it('gives the local cluster’s invite link with its peer, token and id', () => {
    const url = new URL(invite.link)
    expect(url.protocol).toBe('raftdesk:')
    expect(url.searchParams.get('token')).toBe(target.cluster.clusterToken)
    expect(url.searchParams.get('peer')).toBe(invite.peer)
    expect(target.cluster.list().map((n) => n.peer)).toContain(invite.peer)
    const status = target.cluster.list()[0]!.status!
    expect(url.searchParams.get('cluster')).toBe(status.clusterId.toString(16))
    // The local cluster listens on 127.0.0.1: the invite says it serves this machine only.
    expect(invite.loopback).toBe(true)
  })

  it('refuses a wrong token, an address where nothing listens and another cluster, changing nothing', async () => {
    await expect(start({ peer: invite.peer, token: 'not-it' })).rejects.toThrow(
      /refused the token: it is not this cluster's/,
    )
    const nobody = await freePort()
    await expect(start({ peer: `127.0.0.1:${nobody + 1}`, token: 'x' })).rejects.toThrow(
      /cannot reach a raftdesk member at 127\.0\.0\.1:\d+/,
    )
    await expect(
      start({ peer: invite.peer, token: invite.token, clusterId: 'abc123' }),
    ).rejects.toThrow(/belongs to cluster [0-9a-f]+, not abc123 as the invite says/)
    expect(() => parseArgs('join/start', [{ peer: 'no-port', token: 'x' }])).toThrow(
      /the peer address is host:port/,
    )
    expect(manager.list()).toEqual([])
    expect(readdirSync(dir)).toEqual([])
    expect(await memberNames()).toEqual(['n1', 'n2', 'n3'])
  }, 30_000)

  it.runIf(etcdInstalled || process.env['CI'] === 'true')(
    'says a real etcd is not a raftdesk cluster',
    async () => {
      const etcdDir = mkdtempSync(join(tmpdir(), 'raftdesk-join-etcd-'))
      const etcd = await startEtcdCluster({ dir: etcdDir, nodes: 1 })
      try {
        await etcd.leader()
        const [host, port] = etcd.endpoints.get('e1')!.split(':')
        await expect(
          start({ peer: `${host}:${Number(port) + 1}`, token: 'x', name: 'to-etcd' }),
        ).rejects.toThrow(/not a raftdesk member \(a real etcd\?\)/)
        expect(manager.list()).toEqual([])
      } finally {
        await etcd.stop()
        rmSync(etcdDir, { recursive: true, force: true })
      }
    },
    30_000,
  )

  it('joins as a learner, catches up over a snapshot, and is promoted to a voter', async () => {
    const seen: JoinedMember[][] = []
    const close = await createJoinTopics(Promise.resolve(manager))['join/live'](undefined, {
      emit: (e: JoinedMember[]) => seen.push(e),
    } as never)
    const joined = await start({
      peer: invite.peer,
      token: invite.token,
      clusterId: invite.clusterId,
      name: 'far-1',
    })
    expect(joined).toMatchObject({ name: 'far-1', clusterId: invite.clusterId })
    const caught = await until('caught up', (m) => m?.phase === 'caughtUp')
    expect(caught.catchUp).toBeGreaterThanOrEqual(0.99)
    // The cluster's log was compacted past its start: it came as a snapshot first.
    expect(caught.snapshotBytes).toBeGreaterThan(0)
    expect(await memberNames()).toEqual(['far-1', 'n1', 'n2', 'n3'])

    await joins['join/promote']({ name: 'far-1' })
    await until('voter', (m) => m?.phase === 'voter')
    const leader = await target.cluster.waitForLeader()
    const status = await target.cluster.status(leader)
    expect(status.confState.voters).toHaveLength(4)
    // The window was told along the way.
    expect(seen[0]).toEqual([])
    await expect.poll(() => seen.at(-1)?.[0]?.phase, { timeout: 5_000 }).toBe('voter')
    close()
  }, 60_000)

  it('shows the joined cluster’s machinery through its admin ports, and its levers', async () => {
    const remotes = remoteRaftPorts(Promise.resolve(manager))
    onTestFinished(() => remotes.close())
    const raft = createRaftHandlers(undefined, remotes)
    const call = <C extends 'raft/cluster' | 'raft/log' | 'raft/act'>(c: C, args: unknown[]) =>
      (raft[c] as (...a: unknown[]) => Promise<unknown>)(...parseArgs(c, args))
    expect(await raft['raft/sources']()).toEqual([
      { id: 'joined:far-1', label: `cluster ${invite.clusterId} (as far-1)`, remote: true },
    ])
    const source = { source: 'joined:far-1' }
    let view = (await call('raft/cluster', [source])) as RaftClusterView
    const deadline = Date.now() + 10_000
    while (view.healthyVoters < 4 && Date.now() < deadline) {
      await sleep(100)
      view = (await call('raft/cluster', [source])) as RaftClusterView
    }
    expect(view.remote).toBe(true)
    expect(view.nodes.map((n) => n.name)).toEqual(['far-1', 'n1', 'n2', 'n3'])
    expect(view.leader).toBe(await target.cluster.waitForLeader())
    expect(view.healthyVoters).toBe(4)
    const logs = (await call('raft/log', [{ to: 0, limit: 5, ...source }])) as Array<{
      node: string
      entries: unknown[]
    }>
    expect(logs.map((l) => l.entries.length)).toEqual([5, 5, 5, 5])
    // Its processes are its hosts': refused in one sentence, nothing done.
    await expect(call('raft/act', [{ type: 'kill', node: 'n1' }, source])).rejects.toThrow(
      /belongs to the machine that runs the member/,
    )
    // Leadership moves through the admin port.
    const to = ['n1', 'n2', 'n3'].find((n) => n !== view.leader)!
    await call('raft/act', [{ type: 'transfer', node: to }, source])
    await expect.poll(() => target.cluster.leader(), { timeout: 10_000 }).toBe(to)
    await expect(call('raft/cluster', [{ source: 'joined:nobody' }])).rejects.toThrow(
      /no cluster "joined:nobody" here/,
    )
    // A live view of it ends with a reason when the cluster is closed here, instead of freezing.
    const failures: Error[] = []
    const stop = await createRaftTopics(undefined, remotes)['raft/live'](source, {
      emit: () => undefined,
      fail: (e: unknown) => failures.push(e as Error),
      drained: () => Promise.resolve(),
    })
    remotes.close()
    await expect
      .poll(() => failures.map((e) => e.message))
      .toEqual(['that cluster is no longer reachable from here'])
    stop()
  }, 30_000)

  it('starts the member again with the host, then leaves the cluster', async () => {
    await manager.close()
    manager = await open()
    joins = handlers()
    await until('back as a voter', (m) => m?.phase === 'voter')
    await expect(start({ peer: invite.peer, token: invite.token, name: 'far-1' })).rejects.toThrow(
      /already has a member named far-1/,
    )
    await joins['join/leave']({ name: 'far-1' })
    expect(manager.list()).toEqual([])
    expect(await memberNames()).toEqual(['n1', 'n2', 'n3'])
    expect(readdirSync(join(dir, 'removed'))[0]).toMatch(/^far-1-/)
    await expect(joins['join/leave']({ name: 'far-1' })).rejects.toThrow(/no member named far-1/)
  }, 60_000)
})
