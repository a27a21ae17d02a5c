// A seeded randomised run: three (or five) nodes over an unreliable network (drops, duplicates,
// reordering, partitions), random ticks, proposals, restarts that lose unpersisted state, and
// log compaction with snapshots. After every step it checks Raft's safety properties (Figure 3
// of the paper): election safety (one leader per term), log matching (durable logs agree on
// every entry up to the last one they share with the same term), and state machine safety (an
// index is applied with the same entry everywhere). At the end the network heals and the
// cluster must elect a leader and commit a new entry on every node (liveness).
//
// Reproduce a failure with SEED=<seed> npx vitest run test/node-core/raft/random.test.ts;
// SEEDS=<n> runs n random seeds instead of the default few.
import { describe, expect, it } from 'vitest'
import { ProposalError, ReadIndexDroppedError } from '../../../node-core/raft/errors'
import type { Prng } from '../../../node-core/raft/prng'
import { createPrng } from '../../../node-core/raft/prng'
import { RawNode } from '../../../node-core/raft/rawnode'
import { MemoryStorage } from '../../../node-core/raft/storage'
import type { ConfState, Entry, Message, NodeId } from '../../../node-core/raft/types'

const enc = new TextEncoder()
const dec = new TextDecoder()

interface SimNode {
  id: NodeId
  rn: RawNode
  storage: MemoryStorage
  /** index -> data of applied normal entries (including those restored from a snapshot). */
  app: Map<number, string>
  applied: number
}

class World {
  readonly nodes: SimNode[] = []
  network: Message[] = []
  /** Partition: node id -> group; messages across groups are dropped. */
  group = new Map<NodeId, number>()
  /** term -> leader id, as observed. */
  readonly leaders = new Map<number, NodeId>()
  /** index -> "term/data" of the first application anywhere. */
  readonly appliedEverywhere = new Map<number, string>()
  private proposals = 0
  readonly stats = { delivered: 0, snapshotsSent: 0, restarts: 0, compactions: 0, rejections: 0 }
  readonly confState: ConfState

  constructor(
    readonly prng: Prng,
    count: number,
  ) {
    const voters = Array.from({ length: count }, (_, i) => i + 1)
    this.confState = { voters, learners: [] }
    for (const id of voters) {
      const storage = new MemoryStorage({ confState: this.confState })
      this.nodes.push({ id, rn: this.newNode(id, storage, 0), storage, app: new Map(), applied: 0 })
    }
  }

  private newNode(id: NodeId, storage: MemoryStorage, applied: number): RawNode {
    return new RawNode({
      id,
      storage,
      prng: this.prng.fork(),
      applied,
      electionTicksMin: 10,
      electionTicksMax: 20,
      heartbeatTicks: 2,
      maxInflightMsgs: 4,
      maxSizePerMsgBytes: 200,
    })
  }

  node(id: NodeId): SimNode {
    return this.nodes[id - 1]!
  }

  processReady(n: SimNode): void {
    if (!n.rn.hasReady()) return
    const rd = n.rn.ready()
    if (rd.snapshot !== undefined) n.storage.applySnapshot(rd.snapshot)
    n.storage.append(rd.entries)
    if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState)
    for (const m of rd.messages) this.network.push(m)
    if (rd.snapshot !== undefined) {
      n.app = new Map(JSON.parse(dec.decode(rd.snapshot.data)) as [number, string][])
      n.applied = rd.snapshot.metadata.index
    }
    for (const e of rd.committedEntries) this.apply(n, e)
    n.rn.advance(rd)
  }

  private apply(n: SimNode, e: Entry): void {
    if (e.index !== n.applied + 1) {
      throw new Error(`node ${n.id} applies ${e.index} after ${n.applied}`)
    }
    const key = `${e.term}/${dec.decode(e.data)}`
    const seen = this.appliedEverywhere.get(e.index)
    if (seen === undefined) this.appliedEverywhere.set(e.index, key)
    else if (seen !== key) {
      throw new Error(
        `state machine safety: node ${n.id} applied ${key} at ${e.index}, another node ${seen}`,
      )
    }
    if (e.data.byteLength > 0) n.app.set(e.index, dec.decode(e.data))
    n.applied = e.index
  }

  deliverOne(): void {
    if (this.network.length === 0) return
    const pos = this.prng.chance(0.8) ? 0 : this.prng.int(0, this.network.length)
    const m = this.network[pos]!
    const duplicate = this.prng.chance(0.03)
    if (!duplicate) this.network.splice(pos, 1)
    const lost =
      this.prng.chance(0.05) || (this.group.get(m.from) ?? 0) !== (this.group.get(m.to) ?? 0)
    // Like a real transport, report the outcome of every snapshot to the sender.
    if (m.type === 'MsgSnap') this.node(m.from).rn.reportSnapshot(m.to, lost ? 'failure' : 'finish')
    if (lost) return
    this.stats.delivered++
    if (m.type === 'MsgSnap') this.stats.snapshotsSent++
    if (m.type === 'MsgAppResp' && m.reject) this.stats.rejections++
    try {
      this.node(m.to).rn.step(m)
    } catch (err) {
      if (!(err instanceof ProposalError || err instanceof ReadIndexDroppedError)) throw err
    }
  }

  propose(n: SimNode): void {
    try {
      n.rn.propose(enc.encode(`v${++this.proposals}`))
    } catch (err) {
      if (!(err instanceof ProposalError)) throw err
    }
  }

  restart(n: SimNode): void {
    this.stats.restarts++
    const snap = n.storage.snapshot()
    n.app =
      snap.data.byteLength > 0
        ? new Map(JSON.parse(dec.decode(snap.data)) as [number, string][])
        : new Map()
    n.applied = snap.metadata.index
    n.rn = this.newNode(n.id, n.storage, n.applied)
  }

  compact(n: SimNode): void {
    const index = n.applied
    if (index <= n.storage.snapshot().metadata.index) return
    this.stats.compactions++
    const data = enc.encode(JSON.stringify([...n.app].filter(([i]) => i <= index)))
    n.storage.createSnapshot(index, this.confState, data)
    n.storage.compact(index)
  }

  partition(): void {
    this.group.clear()
    for (const n of this.nodes) this.group.set(n.id, this.prng.int(0, 2))
  }

  checkSafety(): void {
    for (const n of this.nodes) {
      const st = n.rn.status()
      if (st.role !== 'leader') continue
      const other = this.leaders.get(st.term)
      if (other !== undefined && other !== n.id) {
        throw new Error(`election safety: ${other} and ${n.id} both lead term ${st.term}`)
      }
      this.leaders.set(st.term, n.id)
    }
  }

  checkLogMatching(): void {
    const logs = this.nodes.map((n) => {
      const m = new Map<number, Entry>()
      const first = n.storage.firstIndex()
      for (const e of n.storage.entries(first, n.storage.lastIndex() + 1)) m.set(e.index, e)
      return m
    })
    for (let a = 0; a < logs.length; a++) {
      for (let b = a + 1; b < logs.length; b++) {
        const la = logs[a]!
        const lb = logs[b]!
        // The highest index where both hold an entry of the same term...
        let top = 0
        for (const [i, e] of la) if (lb.get(i)?.term === e.term && i > top) top = i
        // ...and everything both hold below it must be identical.
        for (let i = top; i > 0; i--) {
          const ea = la.get(i)
          const eb = lb.get(i)
          if (ea === undefined || eb === undefined) continue
          if (ea.term !== eb.term || dec.decode(ea.data) !== dec.decode(eb.data)) {
            throw new Error(
              `log matching: nodes ${a + 1} and ${b + 1} agree at ${top} but differ at ${i} (${ea.term} vs ${eb.term})`,
            )
          }
        }
      }
    }
  }

  randomStep(): void {
    const r = this.prng.float()
    const n = this.nodes[this.prng.int(0, this.nodes.length)]!
    if (r < 0.3) n.rn.tick()
    else if (r < 0.6) this.deliverOne()
    else if (r < 0.85) this.processReady(n)
    else if (r < 0.95) this.propose(n)
    else if (r < 0.953) this.restart(n)
    else if (r < 0.975) this.compact(n)
    else if (r < 0.98) this.partition()
    else if (r < 0.99) this.group.clear()
  }

  /** Reliable network, everyone ticking, until `done` or the step budget runs out. */
  settle(done: () => boolean, steps: number): boolean {
    this.group.clear()
    for (let i = 0; i < steps; i++) {
      for (const n of this.nodes) this.processReady(n)
      while (this.network.length > 0) {
        const m = this.network.shift()!
        if (m.type === 'MsgSnap') this.node(m.from).rn.reportSnapshot(m.to, 'finish')
        try {
          this.node(m.to).rn.step(m)
        } catch (err) {
          if (!(err instanceof ProposalError)) throw err
        }
        this.processReady(this.node(m.to))
      }
      this.checkSafety()
      if (done()) return true
      for (const n of this.nodes) n.rn.tick()
    }
    return false
  }
}

function runSeed(seed: number, nodes: number, steps: number, mustExercise = true): void {
  const world = new World(createPrng(seed), nodes)
  try {
    for (let i = 0; i < steps; i++) {
      world.randomStep()
      world.checkSafety()
      if (i % 200 === 0) world.checkLogMatching()
    }
    world.checkLogMatching()
    console.log(
      `seed ${seed}: ${world.leaders.size} terms with a leader, ${world.appliedEverywhere.size} entries applied, ${JSON.stringify(world.stats)}`,
    )
    // The default seeds must exercise the machinery (leader changes, many entries), or the file
    // proves nothing; a soak over random seeds only logs it, since a calm seed is still valid.
    if (mustExercise) {
      expect(world.leaders.size).toBeGreaterThan(1)
      expect(world.appliedEverywhere.size).toBeGreaterThan(20)
    }
    // Liveness once the network is healed: a leader, then a new entry applied everywhere.
    const leader = () => world.nodes.find((n) => n.rn.status().role === 'leader')
    const dump = () =>
      world.nodes
        .map((n) => {
          const st = n.rn.status()
          return `${n.id}: ${st.role} term=${st.term} lead=${st.lead} commit=${st.commit} applied=${st.applied} first=${st.firstIndex} last=${st.lastIndex} progress=${JSON.stringify(st.progress)}`
        })
        .join('\n')
    if (!world.settle(() => leader() !== undefined, 2000)) throw new Error(`no leader:\n${dump()}`)
    const marker = `final-${seed}`
    leader()!.rn.propose(enc.encode(marker))
    const appliedEverywhere = () => world.nodes.every((n) => [...n.app.values()].includes(marker))
    if (!world.settle(appliedEverywhere, 2000)) throw new Error(`not applied:\n${dump()}`)
    world.checkLogMatching()
  } catch (err) {
    ;(err as Error).message = `seed ${seed}: ${(err as Error).message}`
    throw err
  }
}

describe('randomised safety run', () => {
  // By default a fixed set of seeds, so that CI is deterministic; SEED=s reruns one seed, and
  // SEEDS=n soaks over n random seeds (each printed, so a failure reproduces with SEED).
  const soak = process.env.SEEDS !== undefined
  const seeds =
    process.env.SEED !== undefined
      ? [Number(process.env.SEED)]
      : soak
        ? Array.from({ length: Number(process.env.SEEDS) }, () =>
            Math.floor(Math.random() * 2 ** 31),
          )
        : [11, 23, 42, 1009, 65537, 20261126]

  for (const seed of seeds) {
    it(`3 nodes, seed ${seed}`, () => {
      console.log(`raft random test seed=${seed} (reproduce with SEED=${seed})`)
      runSeed(seed, 3, 6000, !soak)
    })
  }

  it('5 nodes, fixed seed 20240601', () => {
    runSeed(20240601, 5, 12000)
  })
})
