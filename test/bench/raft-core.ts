/**
 * Benchmark of the raft core alone (not a test; prints figures). Run with
 *
 *   npx tsx test/bench/raft-core.ts          (SECONDS=2 per scenario by default)
 *
 * A 3-voter cluster of RawNodes over MemoryStorage with instant delivery: every Ready is handled
 * at once (persist to MemoryStorage, send, apply, advance) and its messages are stepped into
 * their recipients in order, until nothing moves. No I/O, no codec, no clock: this is the cost
 * of the consensus logic itself, the ceiling above which a server cannot go.
 *
 * Scenarios (256-byte proposals on the leader):
 *   1. one at a time: propose, run to quiescence (the entry is committed and applied on all
 *      three nodes), repeat; the latency-bound case of a client with one request in flight;
 *   2. 64 in flight: 64 propose() calls, then run to quiescence;
 *   3. batched: proposeBatch() of 256 entries, then run to quiescence;
 *   4. raw step(): a leader stepping MsgHeartbeatResp and a follower stepping MsgHeartbeat, as
 *      fast as they go (their outboxes drained through ready()/advance() every 1024 steps).
 */
import { createPrng } from '../../node-core/raft/prng'
import { RawNode } from '../../node-core/raft/rawnode'
import { MemoryStorage } from '../../node-core/raft/storage'
import type { Message, NodeId } from '../../node-core/raft/types'
import { message } from '../../node-core/raft/types'

const SECONDS = Number(process.env['SECONDS'] ?? 2)
const VALUE = new Uint8Array(256).fill(0x61)

interface Node {
  rn: RawNode
  storage: MemoryStorage
  applied: number
}

class Cluster {
  readonly nodes = new Map<NodeId, Node>()
  private queue: Message[] = []
  steps = 0
  applied = 0

  constructor(size: number) {
    const voters = Array.from({ length: size }, (_, i) => i + 1)
    for (const id of voters) {
      const storage = new MemoryStorage({ confState: { voters, learners: [] } })
      const rn = new RawNode({ id, storage, prng: createPrng(id) })
      this.nodes.set(id, { rn, storage, applied: 0 })
    }
    this.nodes.get(1)!.rn.campaign()
    this.run()
    if (this.leader().rn.status().role !== 'leader') throw new Error('no leader')
  }

  /** Keeps the logs short, as a server taking snapshots would (every 64k applied entries). */
  private maybeCompact(n: Node): void {
    const applied = n.applied
    const snapIndex = n.storage.snapshot().metadata.index
    if (applied - snapIndex < 65_536) return
    const keep = applied - 1024
    n.storage.createSnapshot(keep, n.rn.status().confState, new Uint8Array(0))
    n.storage.compact(keep)
  }

  leader(): Node {
    return this.nodes.get(1)!
  }

  /** Handles every Ready and delivers every message until nothing moves. */
  run(): void {
    for (;;) {
      let moved = false
      for (const [id, n] of this.nodes) {
        if (!n.rn.hasReady()) continue
        moved = true
        const rd = n.rn.ready()
        if (rd.snapshot !== undefined) n.storage.applySnapshot(rd.snapshot)
        if (rd.entries.length > 0) n.storage.append(rd.entries)
        if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState)
        for (const m of rd.messages) this.queue.push(m)
        const k = rd.committedEntries.length
        if (k > 0) n.applied = rd.committedEntries[k - 1]!.index
        if (id === 1) this.applied += k
        n.rn.advance(rd)
        this.maybeCompact(n)
      }
      if (this.queue.length > 0) {
        moved = true
        const q = this.queue
        this.queue = []
        for (const m of q) {
          this.nodes.get(m.to)!.rn.step(m)
          this.steps++
        }
      }
      if (!moved) return
    }
  }
}

function measure(name: string, round: (c: Cluster) => number): void {
  const c = new Cluster(3)
  // Warm up the JIT.
  const warmUntil = performance.now() + 300
  while (performance.now() < warmUntil) round(c)
  const appliedBefore = c.applied
  const stepsBefore = c.steps
  let proposals = 0
  const start = performance.now()
  const end = start + SECONDS * 1000
  while (performance.now() < end) proposals += round(c)
  const secs = (performance.now() - start) / 1000
  const applied = c.applied - appliedBefore
  console.log(
    `${name.padEnd(34)} ${Math.round(proposals / secs)
      .toLocaleString('en-US')
      .padStart(
        10,
      )} proposals/s committed  (${Math.round((c.steps - stepsBefore) / secs).toLocaleString('en-US')} step()/s across the cluster, ${applied} applied on the leader)`,
  )
}

function rawSteps(): void {
  const c = new Cluster(3)
  const leader = c.leader().rn
  const follower = c.nodes.get(2)!.rn
  const term = leader.status().term
  const resp = message({ type: 'MsgHeartbeatResp', from: 2, to: 1, term })
  const hb = message({ type: 'MsgHeartbeat', from: 1, to: 2, term, commit: leader.status().commit })
  for (const [name, rn, msg] of [
    ['leader steps MsgHeartbeatResp', leader, resp],
    ['follower steps MsgHeartbeat', follower, hb],
  ] as const) {
    let steps = 0
    const drain = () => {
      if (rn.hasReady()) rn.advance(rn.ready())
    }
    const start = performance.now()
    const end = start + SECONDS * 1000
    while (performance.now() < end) {
      for (let i = 0; i < 1024; i++) rn.step(msg)
      steps += 1024
      drain()
    }
    const secs = (performance.now() - start) / 1000
    console.log(
      `${`raw step(): ${name}`.padEnd(34)} ${Math.round(steps / secs)
        .toLocaleString('en-US')
        .padStart(10)} step()/s`,
    )
  }
}

console.log(
  `raft core, 3 voters, in-memory, instant delivery, 256-byte proposals, ${SECONDS}s per scenario (node ${process.version})`,
)
measure('one at a time', (c) => {
  c.leader().rn.propose(VALUE)
  c.run()
  return 1
})
measure('64 in flight (64 propose() calls)', (c) => {
  for (let i = 0; i < 64; i++) c.leader().rn.propose(VALUE)
  c.run()
  return 64
})
const batch = Array.from({ length: 256 }, () => VALUE)
measure('batched (proposeBatch of 256)', (c) => {
  c.leader().rn.proposeBatch(batch)
  c.run()
  return 256
})
rawSteps()
