// Mutation tests of the simulator: break one rule of the raft core at a time (by patching the
// running code, never the source), or of the server (a defect option), and check that the
// simulator catches it within a bounded number of seeds. A simulator that stays green here would
// be checking nothing.
//
// The hunting configuration (no pre-vote, one entry per append, near-equal election timeouts,
// frequent power loss right after a write) opens the windows in which these bugs bite; it finds
// nothing without a mutation (second test).
import { afterEach, describe, expect, it } from 'vitest'
import { RaftLog } from '../../../node-core/raft/log'
import { RawNode } from '../../../node-core/raft/rawnode'
import type { Ready } from '../../../node-core/raft/types'
import { nodesForSeed } from '../../../node-core/sim/run'
import { Simulation, type SimOptions } from '../../../node-core/sim/world'

const hunting: Partial<SimOptions> = {
  flowControl: 'tight',
  preVote: false,
  crashAfterPersistRate: 0.2,
  electionTicksMin: 10,
  electionTicksMax: 12,
}

const restores: Array<() => void> = []
afterEach(() => {
  for (const restore of restores.splice(0)) restore()
})

function patch<T extends object, K extends keyof T>(proto: T, name: K, impl: T[K]): void {
  const original = proto[name]
  proto[name] = impl
  restores.push(() => {
    proto[name] = original
  })
}

/** Seeds from 1 until the first violation; returns the seed and the violation, or null. */
function hunt(maxSeeds: number, options: Partial<SimOptions>, steps: number, nodes?: number) {
  for (let seed = 1; seed <= maxSeeds; seed++) {
    const r = new Simulation({ ...options, seed, steps, nodes: nodes ?? nodesForSeed(seed) }).run()
    if (r.violation) return { seed, invariant: r.violation.invariant, message: r.violation.message }
  }
  return null
}

describe('simulator mutation tests', () => {
  it('finds nothing in the hunting configuration when raft is intact', () => {
    expect(hunt(150, hunting, 4000, 3)).toBeNull()
  }, 120_000)

  it('finds no write applied twice with eight clients when the server is intact', () => {
    expect(hunt(100, { clients: 8 }, 4000)).toBeNull()
  }, 120_000)

  it('catches a vote granted without the log up-to-date check (Raft §5.4.1)', () => {
    patch(RaftLog.prototype, 'isUpToDate', () => true)
    const caught = hunt(200, {}, 12_000)
    console.log('no up-to-date check:', caught)
    expect(caught?.invariant).toMatch(
      /leader-completeness|state-machine-safety|lost-write|linearizability/,
    )
  }, 120_000)

  it('catches a leader committing an entry of an earlier term by counting replicas (§5.4.2)', () => {
    patch(RaftLog.prototype, 'maybeCommit', function (this: RaftLog, maxIndex: number) {
      if (maxIndex > this.committed && this.termOrZero(maxIndex) > 0) {
        this.commitTo(maxIndex)
        return true
      }
      return false
    })
    // Power loss right after writes makes the stale-term commit bite (first caught at seed 293).
    const caught = hunt(600, { ...hunting, crashAfterPersistRate: 0.3 }, 4000, 3)
    console.log('no current-term commit rule:', caught)
    expect(caught?.invariant).toMatch(
      /leader-completeness|state-machine-safety|lost-write|linearizability/,
    )
  }, 180_000)

  it('catches a node that does not persist its vote (§5.2, one vote per term)', () => {
    const ready = RawNode.prototype.ready
    patch(RawNode.prototype, 'ready', function (this: RawNode): Ready {
      const rd = ready.call(this)
      if (rd.hardState) rd.hardState = { ...rd.hardState, vote: 0 }
      return rd
    })
    const caught = hunt(
      1500,
      { ...hunting, flowControl: 'default', electionTicksMax: 11, crashAfterPersistRate: 0.5 },
      3000,
      5,
    )
    console.log('vote not persisted:', caught)
    expect(caught?.invariant).toMatch(
      /election-safety|state-machine-safety|lost-write|linearizability/,
    )
  }, 180_000)

  it('catches a server that fails waiting writes with "leader changed" (clients write twice)', () => {
    // raftdesk's rule before it took etcd's: on a leader change, every write waiting on this
    // member was answered "leader changed". The write may still commit; the client, as the etcd3
    // library does, takes the error for "not applied" and sends it again.
    // Eight clients keep writes waiting on most members when leadership moves (first caught at
    // seed 1; the next at 13, 21, 28).
    const caught = hunt(100, { clients: 8, defects: { failWritesOnLeaderChange: true } }, 4000)
    console.log('writes failed on leader change:', caught)
    expect(caught?.invariant).toMatch(/applied-twice|linearizability/)
  }, 120_000)

  it('catches members that check permissions at apply differently', () => {
    // Followers skip the auth revision check: a write proposed just before an auth change is
    // refused by the leader and applied by the others. Every member must reach the same verdict
    // (first caught at seed 4).
    const caught = hunt(60, { defects: { ignoreAuthRevisionOnFollowers: true } }, 4000)
    console.log('auth checked differently on followers:', caught)
    expect(caught?.invariant).toBe('state-machine-safety')
    expect(caught?.message).toMatch(/AUTH_OLD_REVISION/)
  }, 120_000)
})
