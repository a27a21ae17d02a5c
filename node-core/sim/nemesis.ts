/**
 * The simulator's nemesis: every few hundred virtual ms it picks one fault (partitions, one-way
 * partitions, crashes and bounces, a leader crash, a slow disk, a lossy network, a leadership
 * transfer, a campaign, one step of membership churn) or heals what is active. Faults end on
 * their own schedule. It owns what the network reads of them (blocked links, loss and
 * duplication rates) and times the elections that follow a leader crash in a calm cluster.
 *
 * Every random choice comes from the world's PRNG, in the order the world calls in, so a seed
 * replays the same faults.
 */
import type { ConfChange, NodeId } from '../raft'
import { isRaftRefusal, type SimNode, type SimWorld } from './types'

/** Faults that are active now; each has an id so that its scheduled end can find it. */
interface ActiveFault {
  id: number
  kind: 'partition' | 'oneway' | 'slow' | 'lossy'
  blocked?: Array<[NodeId, NodeId]>
  node?: NodeId
}

export class Nemesis {
  private readonly faults = new Map<number, ActiveFault>()
  private nextFaultId = 1
  private nextNodeId: NodeId
  /** Share of messages lost, and duplicated, while a lossy period runs. */
  lossRate = 0
  dupRate = 0
  /** Virtual ms from a leader crash (in an otherwise calm cluster) to the next leader. */
  readonly leaderRecoveriesMs: number[] = []
  private pendingRecovery: { crashMs: number; term: number } | null = null

  constructor(
    private readonly w: SimWorld,
    firstFreeNodeId: NodeId,
  ) {
    this.nextNodeId = firstFreeNodeId
  }

  /** Whether a partition blocks messages from `from` to `to`. */
  blocked(from: NodeId, to: NodeId): boolean {
    for (const f of this.faults.values()) {
      if (f.blocked?.some(([a, b]) => a === from && b === to)) return true
    }
    return false
  }

  /** A member became leader of `term`: ends the timing of a leader crash's election. */
  onLeaderElected(term: number): void {
    if (this.pendingRecovery && term > this.pendingRecovery.term) {
      this.leaderRecoveriesMs.push(this.w.now() - this.pendingRecovery.crashMs)
      this.pendingRecovery = null
    }
  }

  /** Picks and starts the next fault, and schedules the one after. */
  onNemesis(): void {
    const w = this.w
    if (w.healed) return
    // While a leader-crash recovery is being timed, nothing else happens, so that the figure is
    // the election alone (bounded: a recovery that takes this long is reported as measured).
    if (this.pendingRecovery && w.now() - this.pendingRecovery.crashMs < 5000) {
      w.schedule(w.now() + 100, { type: 'nemesis' })
      return
    }
    this.pendingRecovery = null
    const r = w.prng.float()
    const members = w.liveMembers()
    const leader = w.currentLeader()
    if (r < 0.16) this.partition(false)
    else if (r < 0.24) this.partition(true)
    else if (r < 0.4) this.crashAny()
    else if (r < 0.52) this.crashLeader(leader)
    else if (r < 0.6) this.slowOne(members)
    else if (r < 0.68) this.lossyNetwork()
    else if (r < 0.76) this.moveLeadership(leader, members)
    else if (r < 0.8) this.campaignOne(members)
    else if (r < 0.9) this.changeMembership(leader)
    else this.healFaults()
    w.schedule(w.now() + w.prng.int(100, 700), { type: 'nemesis' })
  }

  endFault(id: number): void {
    const f = this.faults.get(id)
    if (!f) return
    this.faults.delete(id)
    if (f.kind === 'slow' && f.node !== undefined) {
      const node = this.w.nodes.get(f.node)
      if (node) node.slowFactor = 1
    }
    if (f.kind === 'lossy' && ![...this.faults.values()].some((x) => x.kind === 'lossy')) {
      this.lossRate = 0
      this.dupRate = 0
    }
    this.w.log(`fault ${f.kind} ended`)
  }

  /** The end of the fault phase: every fault ends, no election is being timed. */
  healAll(): void {
    this.healFaults()
    this.pendingRecovery = null
  }

  private healFaults(): void {
    for (const id of [...this.faults.keys()]) this.endFault(id)
  }

  /** Crashes any member that is up; half of the crashes are bounces. */
  private crashAny(): void {
    const w = this.w
    const pool = [...w.nodes.values()].filter((n) => n.up && !n.removed)
    if (pool.length === 0) return
    const victim = pool[w.prng.int(0, pool.length)]!
    // Half of the crashes are bounces: the process is back within milliseconds, in the
    // middle of whatever round it was part of (what a supervisor's restart looks like).
    const bounce = w.prng.chance(0.5)
    w.crash(victim, bounce ? 'nemesis: bounce' : 'nemesis')
    const downMs = bounce ? w.prng.int(1, 30) : w.prng.int(20, 2000)
    w.schedule(w.now() + downMs, { type: 'restart', node: victim.id })
  }

  /** Crashes the leader; in a calm cluster the election that follows is timed. */
  private crashLeader(leader: SimNode | undefined): void {
    const w = this.w
    if (!leader) return
    if (this.calmWithout(leader)) {
      this.pendingRecovery = { crashMs: w.now(), term: leader.term }
    }
    w.crash(leader, 'nemesis: leader crash')
    w.schedule(w.now() + w.prng.int(300, 2500), { type: 'restart', node: leader.id })
  }

  /** Makes one member's disk 2-5 times slower for a while. */
  private slowOne(members: SimNode[]): void {
    const w = this.w
    if (members.length === 0) return
    const node = members[w.prng.int(0, members.length)]!
    const id = this.nextFaultId++
    node.slowFactor = w.prng.int(2, 6)
    this.faults.set(id, { id, kind: 'slow', node: node.id })
    w.log(`n${node.id} slow x${node.slowFactor}`)
    w.schedule(w.now() + w.prng.int(300, 3000), { type: 'endFault', fault: id })
  }

  /** Loses and duplicates messages for a while. */
  private lossyNetwork(): void {
    const w = this.w
    const id = this.nextFaultId++
    this.lossRate = w.prng.float() * 0.3
    this.dupRate = w.prng.float() * 0.1
    this.faults.set(id, { id, kind: 'lossy' })
    w.log(`lossy network: loss ${this.lossRate.toFixed(2)} dup ${this.dupRate.toFixed(2)}`)
    w.schedule(w.now() + w.prng.int(300, 3000), { type: 'endFault', fault: id })
  }

  /** Asks the leader to hand leadership to another voter. */
  private moveLeadership(leader: SimNode | undefined, members: SimNode[]): void {
    const w = this.w
    if (!leader || members.length <= 1) return
    const voters = leader.confState.voters.filter((v) => v !== leader.id)
    if (voters.length === 0) return
    const to = voters[w.prng.int(0, voters.length)]!
    w.log(`transfer leadership n${leader.id} -> n${to}`)
    try {
      leader.raft!.transferLeadership(to)
    } catch (err) {
      if (!isRaftRefusal(err)) throw err
    }
    w.process(leader)
  }

  /** Makes one member campaign, whatever its role. */
  private campaignOne(members: SimNode[]): void {
    const w = this.w
    if (members.length === 0) return
    const node = members[w.prng.int(0, members.length)]!
    w.log(`campaign on n${node.id}`)
    node.raft!.campaign()
    w.process(node)
  }

  /**
   * True when no fault is active and, without `leader`, the voters that are up still form a
   * quorum: a leader crash now measures a plain election.
   */
  private calmWithout(leader: SimNode): boolean {
    if (this.faults.size > 0) return false
    const voters = leader.confState.voters
    const up = voters.filter((id) => id !== leader.id && this.w.nodes.get(id)?.up).length
    return up >= Math.floor(voters.length / 2) + 1
  }

  private partition(oneWay: boolean): void {
    const w = this.w
    const ids = [...w.nodes.values()].filter((n) => !n.removed).map((n) => n.id)
    if (ids.length < 2) return
    const side = ids.filter(() => w.prng.chance(0.5))
    if (side.length === 0 || side.length === ids.length) side.splice(0, side.length, ids[0]!)
    const rest = ids.filter((id) => !side.includes(id))
    const blocked: Array<[NodeId, NodeId]> = []
    for (const a of side) {
      for (const b of rest) {
        blocked.push([a, b])
        if (!oneWay) blocked.push([b, a])
      }
    }
    const id = this.nextFaultId++
    this.faults.set(id, { id, kind: oneWay ? 'oneway' : 'partition', blocked })
    this.pendingRecovery = null
    w.log(
      `${oneWay ? 'one-way partition' : 'partition'} {${side.join(',')}} ${oneWay ? '->x' : '|'} {${rest.join(',')}}`,
    )
    w.schedule(w.now() + w.prng.int(200, 2500), { type: 'endFault', fault: id })
  }

  /**
   * One step of membership churn, always through the leader: promote a caught-up learner, or
   * add a fresh learner when the cluster is short of its size, or remove a random voter.
   */
  private changeMembership(leader: SimNode | undefined): void {
    const w = this.w
    if (!leader || !leader.up) return
    const status = leader.raft!.status()
    const conf = status.confState
    let cc: ConfChange | null = null
    const learner = conf.learners.find((id) => {
      const p = status.progress[id]
      return p && p.match >= status.commit
    })
    if (learner !== undefined) {
      cc = { type: 'promoteLearner', nodeId: learner, context: new Uint8Array() }
    } else if (conf.voters.length + conf.learners.length < w.options.nodes) {
      const id = this.nextNodeId++
      w.addNode(id)
      cc = { type: 'addLearner', nodeId: id, context: new Uint8Array() }
    } else if (conf.learners.length === 0 && conf.voters.length >= w.options.nodes) {
      const victim = conf.voters[w.prng.int(0, conf.voters.length)]!
      cc = { type: 'removeNode', nodeId: victim, context: new Uint8Array() }
    }
    if (!cc) return
    w.log(`propose ${cc.type} n${cc.nodeId} on leader n${leader.id}`)
    try {
      leader.raft!.proposeConfChange(cc)
    } catch (err) {
      if (!isRaftRefusal(err)) throw err
      w.log(`  refused: ${(err as Error).message}`)
    }
    w.process(leader)
  }
}
