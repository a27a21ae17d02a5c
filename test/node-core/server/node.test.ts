// The node runtime in one process: three RaftdeskNodes over the in-memory transport, with real
// WALs, snapshot files and stores in a temp directory.
import { mkdtempSync, rmSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { NodeBackend } from '../../../node-core/server/backend'
import type { LeaderLink } from '../../../node-core/server/port'
import { MemoryNetwork } from '../../../node-core/transport/memory'
import {
  NODE_DEFAULTS,
  RaftdeskNode,
  type RaftdeskNodeOptions,
} from '../../../node-core/server/node'
import { ManualClock } from '../../../node-core/kernel/clock'
import { silentLogger } from '../../../node-core/kernel/logger'
import { RaftdeskError } from '../../../node-core/errors'

const enc = (s: string) => Buffer.from(s)
const members = [1, 2, 3].map((i) => ({
  name: `n${i}`,
  peerUrl: `http://127.0.0.1:${9000 + i}`,
  clientUrl: `http://127.0.0.1:${8000 + i}`,
}))

let dir = ''
let net: MemoryNetwork
let nodes: RaftdeskNode[] = []

function options(name: string, extra: Partial<RaftdeskNodeOptions> = {}): RaftdeskNodeOptions {
  const m = members.find((x) => x.name === name)!
  return {
    ...NODE_DEFAULTS,
    name,
    dataDir: join(dir, name),
    token: 'token',
    peerUrl: m.peerUrl,
    clientUrl: m.clientUrl,
    bootstrap: { members },
    logger: silentLogger,
    transportFactory: (id) => net.endpoint(id),
    ...extra,
  }
}

/** These tests make no leader-only calls (lease keep-alive, promote): a link that is never used. */
const NO_LEADER_LINK: LeaderLink = {
  leaseRenew: () => Promise.reject(new Error('no leader link in this test')),
  leaseTimeToLive: () => Promise.reject(new Error('no leader link in this test')),
  memberPromote: () => Promise.reject(new Error('no leader link in this test')),
  close: () => undefined,
}

async function openAll(extra: Partial<RaftdeskNodeOptions> = {}): Promise<RaftdeskNode[]> {
  nodes = await Promise.all(members.map((m) => RaftdeskNode.open(options(m.name, extra))))
  for (const n of nodes) await n.start()
  return nodes
}

async function leaderOf(list: RaftdeskNode[], timeoutMs = 5000): Promise<RaftdeskNode> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const leader = list.find((n) => !n.isStopped && n.isLeader)
    if (leader && list.every((n) => n.isStopped || n.leaderId === leader.id)) return leader
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error('no leader')
}

async function get(node: RaftdeskNode, key: string, serializable = false) {
  const res = await node.range({ key: enc(key), serializable })
  const kv = res.kvs[0]
  return kv ? Buffer.from(kv.value).toString() : null
}

/** Holds every batch `node` applies until the returned function is called. */
function holdApplies(node: RaftdeskNode): () => void {
  const applyBatch = node.store.applyBatch.bind(node.store)
  let release = () => {}
  const released = new Promise<void>((r) => (release = r))
  node.store.applyBatch = async (items) => {
    await released
    return applyBatch(items)
  }
  return release
}

afterEach(async () => {
  for (const n of nodes) await n.stop().catch(() => undefined)
  nodes = []
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('RaftdeskNode', () => {
  it('bootstraps a cluster, replicates writes and serves linearizable reads on every node', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftdesk-node-'))
    net = new MemoryNetwork()
    await openAll()
    const leader = await leaderOf(nodes)
    for (const n of nodes) {
      expect(
        n.membership
          .list()
          .map((m) => m.name)
          .sort(),
      ).toEqual(['n1', 'n2', 'n3'])
    }
    const follower = nodes.find((n) => n !== leader)!
    const r = await follower.propose({ type: 'put', put: { key: enc('a'), value: enc('1') } })
    // etcd's store starts at revision 1: the first write is revision 2.
    expect('put' in r && r.put.revision).toBe(2)
    // A linearizable read on any node sees the write acknowledged just before.
    for (const n of nodes) expect(await get(n, 'a')).toBe('1')
  })

  it('restarts from its WAL and snapshots with every write, and releases old WAL segments', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftdesk-node-'))
    net = new MemoryNetwork()
    const extra = { snapshotCount: 50, snapshotCatchUpEntries: 5 }
    await openAll(extra)
    const leader = await leaderOf(nodes)
    for (let i = 0; i < 230; i++) {
      await leader.propose({ type: 'put', put: { key: enc(`k${i}`), value: enc(`v${i}`) } })
    }
    await new Promise((r) => setTimeout(r, 200))
    const before = nodes.map((n) => n.status())
    expect(Math.min(...before.map((s) => s.snapshotIndex))).toBeGreaterThanOrEqual(150)
    for (const n of nodes) await n.stop()
    net = new MemoryNetwork()
    // One node also loses its store: it must come back from the snapshot plus the WAL.
    await rm(join(dir, 'n2', 'db'), { recursive: true, force: true })
    await openAll(extra)
    const again = await leaderOf(nodes)
    for (const n of nodes) {
      expect(await get(n, 'k0')).toBe('v0')
      expect(await get(n, 'k229')).toBe('v229')
      const res = await n.range({ key: enc('k'), rangeEnd: enc('l'), countOnly: true })
      expect(res.count).toBe(230)
    }
    await again.propose({ type: 'put', put: { key: enc('after'), value: enc('restart') } })
    for (const n of nodes) expect(await get(n, 'after')).toBe('restart')
  })

  it('brings a node that missed the compacted log back with a snapshot', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftdesk-node-'))
    net = new MemoryNetwork()
    const extra = { snapshotCount: 20, snapshotCatchUpEntries: 2 }
    await openAll(extra)
    const leader = await leaderOf(nodes)
    const lagging = nodes.find((n) => n !== leader)!
    await lagging.stop()
    for (let i = 0; i < 100; i++) {
      await leader.propose({ type: 'put', put: { key: enc(`s${i}`), value: enc(`${i}`) } })
    }
    expect(leader.status().firstIndex).toBeGreaterThan(lagging.status().lastIndex)
    const name = lagging.name
    const reopened = await RaftdeskNode.open(options(name, extra))
    nodes = nodes.map((n) => (n === lagging ? reopened : n))
    await reopened.start()
    const deadline = Date.now() + 5000
    while (Date.now() < deadline && reopened.status().applied < leader.status().commit) {
      await new Promise((r) => setTimeout(r, 20))
    }
    expect(reopened.status().snapshotIndex).toBeGreaterThan(0)
    expect(await get(reopened, 's99', true)).toBe('99')
  })

  it('stops a node the cluster removes, and fails its waiting requests', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftdesk-node-'))
    net = new MemoryNetwork()
    await openAll()
    const leader = await leaderOf(nodes)
    const victim = nodes.find((n) => n !== leader)!
    const stopped = victim.whenStopped()
    await leader.changeMembership({ type: 'removeNode', nodeId: victim.id })
    expect(await stopped).toBe('removed from the cluster')
    await expect(
      victim.propose({ type: 'put', put: { key: enc('x'), value: enc('y') } }),
    ).rejects.toThrow(/server stopped/)
    expect(leader.membership.list()).toHaveLength(2)
    await leader.propose({ type: 'put', put: { key: enc('still'), value: enc('works') } })
  })

  it('stops a member removed while it was cut off, once it reaches a member again', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftdesk-node-'))
    net = new MemoryNetwork()
    await openAll()
    const leader = await leaderOf(nodes)
    const victim = nodes.find((n) => n !== leader)!
    const cut = (drop: boolean) => {
      for (const n of nodes) {
        if (n === victim) continue
        if (drop) net.lookup(n.id)!.setLinkFault(victim.id, { drop: true })
        else net.lookup(n.id)!.healLink(victim.id)
      }
    }
    // The victim never sees its removal in the log: raft alone would leave it campaigning
    // forever; the others tell it it was removed when it next reaches them.
    cut(true)
    await leader.changeMembership({ type: 'removeNode', nodeId: victim.id })
    const stopped = victim.whenStopped()
    cut(false)
    expect(await stopped).toBe('removed from the cluster')
    await leader.propose({ type: 'put', put: { key: enc('still'), value: enc('works') } })
  })

  it('takes membership changes sent at once one after the other, not refused', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftdesk-node-'))
    net = new MemoryNetwork()
    await openAll()
    const leader = await leaderOf(nodes)
    // Raft takes one conf change at a time; the second waits until the first is applied.
    const [first, second] = await Promise.all([
      leader.changeMembership({ type: 'addLearner', nodeId: 1111 }),
      leader.changeMembership({ type: 'addLearner', nodeId: 2222 }),
    ])
    expect(first.learners).toContain(1111)
    expect([...second.learners].sort((x, y) => x - y)).toEqual([1111, 2222])
  })

  it('answers with a typed error, not a hang, when there is no leader (deadlines in its clock)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftdesk-node-'))
    net = new MemoryNetwork()
    const clock = new ManualClock()
    // The default 7 s deadline, waited out in virtual time.
    const single = await RaftdeskNode.open({ ...options('n1'), clock })
    nodes = [single]
    await single.start()
    // n1 alone cannot win an election among three voters. As etcd's raft holds a proposal while
    // it has no leader, the write waits out its deadline and was never proposed; a linearizable
    // read times out.
    const settled = (p: Promise<unknown>) => {
      const state = { done: false }
      p.then(
        () => (state.done = true),
        () => (state.done = true),
      )
      return state
    }
    const write = single.propose({ type: 'put', put: { key: enc('a'), value: enc('b') } })
    const read = single.range({ key: enc('a') })
    const [w, r] = [settled(write), settled(read)]
    await new Promise((resolve) => setTimeout(resolve, 300))
    clock.advance(NODE_DEFAULTS.requestTimeoutMs - 1)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect([w.done, r.done], 'nothing answers before the deadline').toEqual([false, false])
    clock.advance(1)
    await expect(write).rejects.toThrow('context deadline exceeded')
    await expect(read).rejects.toThrow('etcdserver: request timed out')
    expect(await get(single, 'a', true)).toBeNull()
  })

  it('answers a write by its outcome when the leader changes before it is applied here', async () => {
    // The leader's appends reach the followers, but their acknowledgements do not come back: the
    // write is in a quorum's log, yet the leader cannot know it is committed. On a loaded machine
    // the leader may step down (check quorum) before its append arrives, and the followers'
    // logs then grow by a new leader's entry instead: that run sets nothing up, so it is redone.
    const setUp = async () => {
      dir = mkdtempSync(join(tmpdir(), 'raftdesk-node-'))
      net = new MemoryNetwork()
      await openAll()
      const old = await leaderOf(nodes)
      const others = nodes.filter((n) => n !== old)
      const link = (drop: boolean, direction: 'receive' | 'both') => {
        for (const f of others) {
          if (drop) net.lookup(old.id)!.setLinkFault(f.id, { drop: true }, direction)
          else net.lookup(old.id)!.healLink(f.id)
        }
      }
      link(true, 'receive')
      const { lastIndex: before, term } = old.status()
      const write = old.propose({ type: 'put', put: { key: enc('reg'), value: enc('x') } })
      const outcome = write.then(
        (r) => ({ ok: true as const, r }),
        (e: Error) => ({ ok: false as const, e }),
      )
      const deadline = Date.now() + 3000
      while (others.some((f) => f.status().lastIndex <= before)) {
        if (Date.now() > deadline) throw new Error('the followers never received the write')
        await new Promise((r) => setTimeout(r, 5))
      }
      // Same term: the entry they got is the old leader's, our write (it proposed nothing else).
      const ok = [old, ...others].every((n) => n.status().term === term)
      return { old, others, link, outcome, ok }
    }
    let run = await setUp()
    for (let attempt = 1; !run.ok && attempt < 5; attempt++) {
      for (const n of nodes) await n.stop().catch(() => undefined)
      await run.outcome
      rmSync(dir, { recursive: true, force: true })
      run = await setUp()
    }
    expect(run.ok, 'the leader kept its term until the followers had the write').toBe(true)
    const { old, others, link, outcome } = run
    // Then the leader is cut off entirely: the others elect a new leader, which commits it.
    link(true, 'both')
    const fresh = await leaderOf(others)
    expect(fresh).not.toBe(old)
    expect(await get(fresh, 'reg')).toBe('x')
    link(false, 'both')
    // The old leader learns of the new one and applies the entry: its client hears success (etcd
    // does the same). A "leader changed" error here would make etcd clients write x again.
    const result = await outcome
    expect(result.ok ? 'ok' : result.e.message).toBe('ok')
    const kv = (await fresh.range({ key: enc('reg') })).kvs[0]!
    expect(kv.version).toBe(1)
  })

  it('never proposes a write whose client went away while it waited for a leader', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftdesk-node-'))
    net = new MemoryNetwork()
    await openAll()
    // No leader yet: the writes wait. One client stays, the other goes away.
    const gone = new AbortController()
    const abandoned = nodes[0]!.propose(
      { type: 'put', put: { key: enc('abandoned'), value: enc('x') } },
      { signal: gone.signal },
    )
    const kept = nodes[0]!.propose({ type: 'put', put: { key: enc('kept'), value: enc('y') } })
    gone.abort()
    await expect(abandoned).rejects.toThrow('context canceled')
    await kept
    const leader = await leaderOf(nodes)
    await leader.propose({ type: 'put', put: { key: enc('later'), value: enc('z') } })
    expect(await get(leader, 'kept')).toBe('y')
    expect(await get(leader, 'abandoned')).toBeNull()
  })

  it('refuses new writes while it is too far behind in applying, as etcd does', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftdesk-node-'))
    net = new MemoryNetwork()
    await openAll({ applyLagEntriesMax: 3 })
    const leader = await leaderOf(nodes)
    const slow = nodes.find((n) => n !== leader)!
    // The follower's store stops applying: entries keep being committed, not applied.
    const release = holdApplies(slow)
    await Promise.all(
      [1, 2, 3, 4, 5].map((i) =>
        leader.propose({ type: 'put', put: { key: enc(`lag${i}`), value: enc('x') } }),
      ),
    )
    const deadline = Date.now() + 3000
    while (slow.status().commit - slow.status().applied <= 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5))
    }
    await expect(
      slow.propose({ type: 'put', put: { key: enc('more'), value: enc('y') } }),
    ).rejects.toThrow('etcdserver: too many requests')
    release()
    while (slow.status().applied < slow.status().commit) {
      await new Promise((r) => setTimeout(r, 5))
    }
    await slow.propose({ type: 'put', put: { key: enc('more'), value: enc('y') } })
    expect(await get(slow, 'more')).toBe('y')
  })

  it('gives leases asked for without an id random ids, as etcd, the same on every member', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftdesk-node-'))
    net = new MemoryNetwork()
    await openAll()
    const leader = await leaderOf(nodes)
    const backend = new NodeBackend(
      nodes.find((n) => n !== leader)!,
      NO_LEADER_LINK,
    )
    const ids = []
    for (let i = 0; i < 3; i++) ids.push((await backend.leaseGrant({ id: 0n, ttlSeconds: 60 })).id)
    expect(new Set(ids).size).toBe(3)
    // Random over 63 bits as etcd's (a positive int64), not the log index they were granted at:
    // all three below 2^53 would happen once in 2^30 runs.
    expect(ids.some((id) => id >= 2n ** 53n)).toBe(true)
    expect(ids.every((id) => id > 0n && id < 2n ** 63n)).toBe(true)
    const chosen = await backend.leaseGrant({ id: 42n, ttlSeconds: 60 })
    expect(chosen.id).toBe(42n)
    await expect(backend.leaseGrant({ id: 42n, ttlSeconds: 60 })).rejects.toThrow(
      'etcdserver: lease already exists',
    )
    await leader.linearizableBarrier()
    for (const n of nodes) {
      await n.linearizableBarrier()
      expect(new Set(n.store.lessor.list())).toEqual(new Set([...ids, 42n]))
    }
    backend.close()
  })

  it('renews a lease granted through another member only once the leader applied it (etcd waits too)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftdesk-node-'))
    net = new MemoryNetwork()
    await openAll()
    const leader = await leaderOf(nodes)
    const follower = nodes.find((n) => n !== leader)!
    // The leader's store stops applying: the grant commits and the follower applies it first.
    const release = holdApplies(leader)
    const granted = await new NodeBackend(follower, NO_LEADER_LINK).leaseGrant({
      id: 7n,
      ttlSeconds: 60,
    })
    expect(granted.id).toBe(7n)
    expect(leader.store.lessor.list()).not.toContain(7n)
    const onLeader = new NodeBackend(leader, NO_LEADER_LINK)
    let renewed: number | undefined
    const renewing = onLeader.leaseKeepAlive(7n).then((ttl) => (renewed = ttl))
    const ttlAsked = onLeader.leaseTimeToLive(7n, false)
    // Long enough for a renewal that did not wait to have failed; short of an election (the
    // blocked leader sends no heartbeats meanwhile).
    await new Promise((r) => setTimeout(r, 20))
    expect(renewed).toBeUndefined() // waits for the apply instead of "lease not found"
    release()
    expect(await renewing).toBe(60)
    expect((await ttlAsked).grantedTtlSeconds).toBe(60)
  })

  it('holds a write that arrives before the first election until a leader is known', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftdesk-node-'))
    net = new MemoryNetwork()
    await openAll()
    // No node knows a leader yet; every one of them takes a write at once, like a client that
    // connects the moment `npm run serve` says ready and reaches a follower that has not yet
    // heard from the new leader.
    expect(nodes.map((n) => n.leaderId)).toEqual([0, 0, 0])
    const results = await Promise.all(
      nodes.map((n, i) =>
        n.propose({ type: 'put', put: { key: enc(`early${i}`), value: enc(`${i}`) } }),
      ),
    )
    expect(results.map((r) => 'put' in r)).toEqual([true, true, true])
    const leader = await leaderOf(nodes)
    for (let i = 0; i < 3; i++) expect(await get(leader, `early${i}`)).toBe(`${i}`)
  })

  it("updates a member's peer URLs on every member through raft, quorum unchanged", async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftdesk-node-'))
    net = new MemoryNetwork()
    await openAll()
    const leader = await leaderOf(nodes)
    const follower = nodes.find((n) => n !== leader)!
    // Sent to a follower: a conf change goes through the leader like any proposal.
    const backend = new NodeBackend(follower, NO_LEADER_LINK)
    const target = nodes.find((n) => n !== leader && n !== follower)!
    const before = leader.status().confState
    // Once the leader has applied an entry of its term it takes conf changes (raft refuses them
    // before, and a refused forwarded one is only answered at its deadline, as in etcd).
    await follower.propose({ type: 'put', put: { key: enc('first'), value: enc('entry') } })
    const members = await backend.memberUpdate(target.id, ['http://127.0.0.1:9999'])
    expect(members.find((m) => m.id === target.id)!.peerUrls).toEqual(['http://127.0.0.1:9999'])
    const deadline = Date.now() + 3000
    while (
      nodes.some((n) => n.membership.get(target.id)!.peerUrls[0] !== 'http://127.0.0.1:9999')
    ) {
      if (Date.now() > deadline) throw new Error('not every member recorded the update')
      await new Promise((r) => setTimeout(r, 10))
    }
    expect(leader.status().confState).toEqual(before)
    // Another member's URL, or an unknown member: etcd's errors, nothing changed.
    await expect(
      backend.memberUpdate(target.id, [leader.membership.get(leader.id)!.peerUrls[0]!]),
    ).rejects.toThrow('etcdserver: Peer URLs already exists')
    await expect(backend.memberUpdate(12345, ['http://127.0.0.1:1'])).rejects.toThrow(
      'etcdserver: member not found',
    )
    // The cluster still writes: the quorum did not change.
    await leader.propose({ type: 'put', put: { key: enc('after'), value: enc('update') } })
    backend.close()
  })

  it('bounds the linearizable reads waiting at once, with a typed error', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftdesk-node-'))
    net = new MemoryNetwork()
    // Alone among three voters n1 has no leader, so its reads wait.
    const single = await RaftdeskNode.open({
      ...options('n1'),
      pendingRequestsMax: 3,
      requestTimeoutMs: 300,
    })
    nodes = [single]
    await single.start()
    const waiting = [0, 1, 2].map(() => single.linearizableBarrier().catch((e: Error) => e))
    expect(() => single.linearizableBarrier()).toThrow(/too many requests in flight \(limit 3\)/)
    await Promise.all(waiting)
  })

  it('expires leases by its clock: a lease outlives its TTL only in virtual time', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftdesk-node-'))
    net = new MemoryNetwork()
    const clock = new ManualClock()
    await openAll({ clock })
    const leader = await leaderOf(nodes)
    await leader.propose({ type: 'leaseGrant', leaseGrant: { id: 7n, ttlSeconds: 10 } })
    await leader.propose({ type: 'put', put: { key: enc('session'), value: enc('on'), lease: 7n } })
    const present = async () =>
      Promise.all(nodes.map(async (n) => (await get(n, 'session', true)) !== null))
    // The leader checks its leases every 500 ms of real time, reading the node's clock.
    await new Promise((r) => setTimeout(r, 700))
    clock.advance(9_000)
    await new Promise((r) => setTimeout(r, 700))
    expect(await present()).toEqual([true, true, true])
    clock.advance(2_000) // past the TTL: the leader proposes the revoke, every member applies it
    const deadline = Date.now() + 5_000
    while ((await present()).some(Boolean)) {
      if (Date.now() > deadline) throw new Error('the lease was not revoked on every member')
      await new Promise((r) => setTimeout(r, 50))
    }
    expect(leader.store.lessor.has(7n)).toBe(false)
  })

  it('bounds a call forwarded to an unreachable leader in wall time, whatever its clock says', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftdesk-node-'))
    net = new MemoryNetwork()
    const frozen = new ManualClock() // a virtual clock that never moves
    await openAll({ clock: frozen, requestTimeoutMs: 600 })
    const leader = await leaderOf(nodes)
    const unreachable: LeaderLink = {
      ...NO_LEADER_LINK,
      leaseRenew: () => Promise.reject(new RaftdeskError('UNREACHABLE', 'leader gone')),
    }
    const backend = new NodeBackend(
      nodes.find((n) => n !== leader)!,
      unreachable,
    )
    // It used to retry for ever (the test's timeout would fail it): the deadline read the clock.
    await expect(backend.leaseKeepAlive(7n)).rejects.toThrow('etcdserver: request timed out')
    backend.close()
  })
})
