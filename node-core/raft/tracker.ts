/**
 * ProgressTracker: the membership (voters and learners), the leader's progress of every member,
 * the votes of an election and the quorum arithmetic.
 *
 * Quorums are majorities of the voters only: learners receive the log but never count. The
 * commit index a quorum has reached is the q-th largest match among the voters (q = floor(n/2)
 * + 1), computed by an insertion sort into a scratch array kept between calls (n is small and
 * this runs on every append response).
 *
 * Members are visited in increasing id order, so that the messages a leader emits come out in
 * the same order on every run.
 */
import { RaftInvariantError } from './errors'
import { Progress } from './progress'
import type { ConfState, NodeId } from './types'

export type VoteResult = 'pending' | 'won' | 'lost'

export interface VoteTally {
  granted: number
  rejected: number
  result: VoteResult
}

export class ProgressTracker {
  /** Sorted voter ids. */
  private voterIds: NodeId[] = []
  /** Sorted learner ids. */
  private learnerIds: NodeId[] = []
  /** Sorted ids of every member (voters and learners). */
  private memberIds: NodeId[] = []
  readonly progress = new Map<NodeId, Progress>()
  /** Progress of the voters, in voterIds order (the hot path of committed()). */
  private voterProgress: Progress[] = []
  private readonly votes = new Map<NodeId, boolean>()
  private matchScratch: number[] = []
  private readonly maxInflightMsgs: number

  constructor(maxInflightMsgs: number) {
    this.maxInflightMsgs = maxInflightMsgs
  }

  get voters(): readonly NodeId[] {
    return this.voterIds
  }

  get learners(): readonly NodeId[] {
    return this.learnerIds
  }

  /** Every member in id order. */
  get members(): readonly NodeId[] {
    return this.memberIds
  }

  confState(): ConfState {
    return { voters: this.voterIds.slice(), learners: this.learnerIds.slice() }
  }

  isVoter(id: NodeId): boolean {
    return this.voterIds.includes(id)
  }

  isLearner(id: NodeId): boolean {
    return this.learnerIds.includes(id)
  }

  /** Exactly one voter (learners do not matter). */
  isSingleton(): boolean {
    return this.voterIds.length === 1
  }

  quorum(): number {
    return Math.floor(this.voterIds.length / 2) + 1
  }

  /** Replaces the whole membership (construction, snapshot restore); progress starts afresh. */
  reset(cs: ConfState, nextIndex: number): void {
    const voters = new Set(cs.voters)
    for (const id of cs.learners) {
      if (voters.has(id)) {
        throw new RaftInvariantError(`node ${id} is both a voter and a learner in the conf state`)
      }
    }
    this.progress.clear()
    for (const id of cs.voters) this.progress.set(id, this.newProgress(nextIndex, false))
    for (const id of cs.learners) this.progress.set(id, this.newProgress(nextIndex, true))
    this.voterIds = [...voters].sort((a, b) => a - b)
    this.learnerIds = [...new Set(cs.learners)].sort((a, b) => a - b)
    this.refresh()
  }

  addVoter(id: NodeId, nextIndex: number): void {
    this.progress.set(id, this.newProgress(nextIndex, false))
    this.voterIds = [...this.voterIds, id].sort((a, b) => a - b)
    this.refresh()
  }

  addLearner(id: NodeId, nextIndex: number): void {
    this.progress.set(id, this.newProgress(nextIndex, true))
    this.learnerIds = [...this.learnerIds, id].sort((a, b) => a - b)
    this.refresh()
  }

  /** A learner becomes a voter; its progress carries over. */
  promote(id: NodeId): void {
    const pr = this.progress.get(id)
    if (pr === undefined || !pr.isLearner) {
      throw new RaftInvariantError(`cannot promote node ${id}: it is not a learner`)
    }
    pr.isLearner = false
    this.learnerIds = this.learnerIds.filter((x) => x !== id)
    this.voterIds = [...this.voterIds, id].sort((a, b) => a - b)
    this.refresh()
  }

  remove(id: NodeId): void {
    this.progress.delete(id)
    this.votes.delete(id)
    this.voterIds = this.voterIds.filter((x) => x !== id)
    this.learnerIds = this.learnerIds.filter((x) => x !== id)
    this.refresh()
  }

  private newProgress(nextIndex: number, isLearner: boolean): Progress {
    const pr = new Progress(nextIndex, this.maxInflightMsgs, isLearner)
    // A new member gets the benefit of the doubt until the next check-quorum round.
    pr.recentActive = true
    return pr
  }

  private refresh(): void {
    this.memberIds = [...this.voterIds, ...this.learnerIds].sort((a, b) => a - b)
    this.voterProgress = this.voterIds.map((id) => this.progress.get(id)!)
    this.matchScratch = new Array<number>(this.voterIds.length).fill(0)
  }

  /** The highest index that a quorum of voters has matched; 0 without voters. */
  committed(): number {
    const n = this.voterProgress.length
    if (n === 0) return 0
    const s = this.matchScratch
    // Insertion sort, descending.
    for (let i = 0; i < n; i++) {
      const m = this.voterProgress[i]!.match
      let j = i
      while (j > 0 && s[j - 1]! < m) {
        s[j] = s[j - 1]!
        j--
      }
      s[j] = m
    }
    return s[Math.floor(n / 2)]!
  }

  /** Whether the given set of ids contains a quorum of the voters. */
  hasQuorum(ids: ReadonlySet<NodeId>): boolean {
    let count = 0
    for (const id of this.voterIds) if (ids.has(id)) count++
    return count >= this.quorum()
  }

  /** Check-quorum: voters heard from recently (selfId is always counted) form a quorum. */
  quorumActive(selfId: NodeId): boolean {
    let active = 0
    for (let i = 0; i < this.voterIds.length; i++) {
      if (this.voterIds[i] === selfId || this.voterProgress[i]!.recentActive) active++
    }
    return active >= this.quorum()
  }

  resetVotes(): void {
    this.votes.clear()
  }

  /** Records a vote; the first answer from a node in an election is the one that counts. */
  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted)
  }

  tallyVotes(): VoteTally {
    let granted = 0
    let rejected = 0
    for (const id of this.voterIds) {
      const v = this.votes.get(id)
      if (v === true) granted++
      else if (v === false) rejected++
    }
    const q = this.quorum()
    let result: VoteResult = 'pending'
    if (granted >= q) result = 'won'
    else if (this.voterIds.length - rejected < q) result = 'lost'
    return { granted, rejected, result }
  }
}
