// RawNode's contract with its driver (the server, the simulator): configuration checks, one
// outstanding Ready at a time, refusal of local and misaddressed messages, typed errors on the
// proposal paths, and the small codecs and formatters other modules rely on.
import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../../node-core/errors'
import { describeBytes, describeEntry, describeMessage } from '../../../node-core/raft/describe'
import {
  ConfChangeInvalidError,
  ProposalDroppedError,
  ProposalError,
  ProposalTooLargeError,
  RaftInvariantError,
  ReadIndexDroppedError,
  TransferRefusedError,
} from '../../../node-core/raft/errors'
import { createPrng } from '../../../node-core/raft/prng'
import { RawNode, encodeConfChange } from '../../../node-core/raft/rawnode'
import {
  applyToConfState,
  confChangeProblem,
  decodeConfChange,
} from '../../../node-core/raft/confchange'
import { decodeBatchCtx } from '../../../node-core/raft/readonly'
import { MemoryStorage } from '../../../node-core/raft/storage'
import { message } from '../../../node-core/raft/types'

const enc = new TextEncoder()

function node(id = 1, voters = [1], extra: Partial<ConstructorParameters<typeof RawNode>[0]> = {}) {
  const storage = new MemoryStorage({ confState: { voters, learners: [] } })
  return { rn: new RawNode({ id, storage, prng: createPrng(id), ...extra }), storage }
}

/** Handles every Ready of a single node (persist, advance). */
function drain(rn: RawNode, storage: MemoryStorage): void {
  while (rn.hasReady()) {
    const rd = rn.ready()
    storage.append(rd.entries)
    if (rd.hardState) storage.setHardState(rd.hardState)
    rn.advance(rd)
  }
}

describe('RawNode', () => {
  it('refuses configurations that cannot work, naming the field', () => {
    expect(() => node(0)).toThrow(/id must be a positive integer, got 0/)
    expect(() => node(1, [1], { electionTicksMin: 10, electionTicksMax: 10 })).toThrow(
      /electionTicksMax 10 must be above electionTicksMin 10/,
    )
    expect(() => node(1, [1], { heartbeatTicks: 15 })).toThrow(
      /heartbeatTicks 15 must be below electionTicksMin 15/,
    )
    expect(() => node(1, [1], { maxInflightMsgs: 0 })).toThrow(ValidationError)
  })

  it('hands out one Ready at a time and checks what is advanced', () => {
    const { rn, storage } = node()
    rn.campaign()
    expect(rn.hasReady()).toBe(true)
    const rd = rn.ready()
    expect(rn.hasReady()).toBe(false)
    expect(() => rn.ready()).toThrow(/ready\(\) called again before advance\(\)/)
    expect(() => rn.advance({ ...rd })).toThrow(RaftInvariantError)
    // Advancing entries that were not persisted is a driver bug, caught loudly.
    expect(() => rn.advance(rd)).toThrow(/storage last index 0 does not hold the Ready's entry 1/)
    storage.append(rd.entries)
    rn.advance(rd)
    // The leader's own entry became durable: the next Ready commits it.
    expect(rn.hasReady()).toBe(true)
    expect(rn.ready().committedEntries.map((e) => e.index)).toEqual([1])
  })

  it('refuses local and misaddressed messages from the network', () => {
    const { rn } = node()
    expect(() => rn.step(message({ type: 'MsgHup', from: 1, to: 1 }))).toThrow(
      /cannot step raft local message MsgHup/,
    )
    expect(() => rn.step(message({ type: 'MsgHeartbeat', from: 2, to: 3, term: 1 }))).toThrow(
      /addressed to 3/,
    )
    expect(() => rn.step(message({ type: 'MsgApp', from: 2, to: 1 }))).toThrow(
      /received MsgApp from 2 without a term/,
    )
  })

  it('ignores responses from nodes outside the configuration (they cannot raise the term)', () => {
    const { rn } = node(1, [1, 2, 3])
    rn.step(message({ type: 'MsgAppResp', from: 9, to: 1, term: 50 }))
    expect(rn.status().term).toBe(0)
  })

  it('does not modify the messages it steps (the simulator may deliver one twice)', () => {
    const { rn, storage } = node()
    rn.campaign()
    drain(rn, storage)
    const prop = message({
      type: 'MsgProp',
      from: 2,
      to: 1,
      entries: [{ term: 0, index: 0, type: 'normal', data: enc.encode('x') }],
    })
    rn.step(prop)
    rn.step(prop)
    expect(prop.entries[0]).toEqual({ term: 0, index: 0, type: 'normal', data: enc.encode('x') })
    drain(rn, storage)
    expect(rn.logEntries().map((e) => `${e.term}/${e.index}`)).toEqual(['1/1', '1/2', '1/3'])
  })

  it('throws typed errors on the proposal paths', () => {
    const follower = node(2, [1, 2, 3])
    expect(() => follower.rn.propose(enc.encode('x'))).toThrow(ProposalDroppedError)
    expect(() => follower.rn.readIndex(enc.encode('r'))).toThrow(ReadIndexDroppedError)
    expect(() => follower.rn.transferLeadership(2)).toThrow(TransferRefusedError)
    const small = node(1, [1], { maxProposalBytes: 4 })
    expect(() => small.rn.propose(new Uint8Array(5))).toThrow(ProposalTooLargeError)
    expect(() =>
      small.rn.proposeConfChange({ type: 'addVoter', nodeId: 2, context: new Uint8Array(100) }),
    ).toThrow(ProposalTooLargeError)
    expect(() => small.rn.proposeBatch([])).toThrow(ValidationError)
    const leader = node()
    leader.rn.campaign()
    drain(leader.rn, leader.storage)
    // Every refusal of a proposal shares a base class, so a server can tell it from a bug.
    try {
      leader.rn.proposeConfChange({ type: 'removeNode', nodeId: 1, context: new Uint8Array() })
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(ConfChangeInvalidError)
      expect(err).toBeInstanceOf(ProposalError)
      expect((err as ConfChangeInvalidError).code).toBe('RAFT_CONF_CHANGE_INVALID')
    }
  })

  it('refuses a forwarded conf change whose encoding is malformed', () => {
    const { rn, storage } = node()
    rn.campaign()
    drain(rn, storage)
    const bad = message({
      type: 'MsgProp',
      from: 2,
      to: 1,
      entries: [{ term: 0, index: 0, type: 'confChange', data: new Uint8Array([1, 9]) }],
    })
    expect(() => rn.step(bad)).toThrow(ConfChangeInvalidError)
  })

  it('reports status with the stable and applied indexes', () => {
    const { rn, storage } = node()
    rn.campaign()
    const rd = rn.ready()
    expect(rn.status()).toMatchObject({ role: 'leader', lastIndex: 1, stableIndex: 0, commit: 0 })
    storage.append(rd.entries)
    rn.advance(rd)
    expect(rn.status()).toMatchObject({ stableIndex: 1, commit: 1, applied: 0 })
    drain(rn, storage)
    expect(rn.status()).toMatchObject({ commit: 1, applied: 1, firstIndex: 1, leadTransferee: 0 })
  })

  it('restarts from storage: term, vote, commit, membership; applied from the config', () => {
    const storage = new MemoryStorage({ confState: { voters: [1, 2, 3], learners: [] } })
    storage.append([
      { term: 1, index: 1, type: 'normal', data: new Uint8Array() },
      { term: 2, index: 2, type: 'normal', data: enc.encode('a') },
    ])
    storage.setHardState({ term: 3, vote: 2, commit: 2 })
    const rn = new RawNode({ id: 1, storage, prng: createPrng(1), applied: 1 })
    expect(rn.status()).toMatchObject({ term: 3, vote: 2, commit: 2, applied: 1, role: 'follower' })
    expect(rn.status().confState).toEqual({ voters: [1, 2, 3], learners: [] })
    expect(rn.ready().committedEntries.map((e) => e.index)).toEqual([2])
  })

  it('refuses a persisted commit index beyond the log', () => {
    const storage = new MemoryStorage({ confState: { voters: [1], learners: [] } })
    storage.setHardState({ term: 1, vote: 1, commit: 5 })
    expect(() => new RawNode({ id: 1, storage, prng: createPrng(1) })).toThrow(
      /state.commit 5 is out of range \[0, 0\]/,
    )
  })
})

describe('small codecs and formats', () => {
  it('describes entries, messages and bytes compactly', () => {
    expect(describeBytes(enc.encode('foo'))).toBe('"foo"')
    expect(describeBytes(new Uint8Array([0, 255]))).toBe('0x00ff')
    expect(describeBytes(new Uint8Array(40).fill(0x61))).toBe(`"${'a'.repeat(32)}"...(40 bytes)`)
    expect(describeEntry({ term: 1, index: 4, type: 'normal', data: enc.encode('foo') })).toBe(
      '1/4 EntryNormal "foo"',
    )
    const cc = encodeConfChange({ type: 'addLearner', nodeId: 4, context: new Uint8Array() })
    expect(describeEntry({ term: 2, index: 5, type: 'confChange', data: cc })).toBe(
      '2/5 EntryConfChange addLearner 4',
    )
    expect(
      describeMessage(
        message({
          type: 'MsgApp',
          from: 1,
          to: 2,
          term: 1,
          logTerm: 1,
          index: 3,
          commit: 3,
          entries: [{ term: 1, index: 4, type: 'normal', data: enc.encode('foo') }],
        }),
      ),
    ).toBe('1->2 MsgApp Term:1 Log:1/3 Commit:3 Entries:[1/4 EntryNormal "foo"]')
    expect(
      describeMessage(
        message({
          type: 'MsgAppResp',
          from: 2,
          to: 1,
          term: 1,
          logTerm: 1,
          index: 5,
          reject: true,
          rejectHint: 3,
        }),
      ),
    ).toBe('2->1 MsgAppResp Term:1 Log:1/5 Rejected (Hint: 3)')
  })

  it('reads back only well-formed read batch contexts', () => {
    expect(decodeBatchCtx(enc.encode('r12'))).toBe(12)
    expect(decodeBatchCtx(enc.encode('r'))).toBe(0)
    expect(decodeBatchCtx(enc.encode('x12'))).toBe(0)
    expect(decodeBatchCtx(enc.encode('r1a'))).toBe(0)
    expect(decodeBatchCtx(undefined)).toBe(0)
  })

  it('builds messages with every field set and optional ones only when given', () => {
    const m = message({ type: 'MsgHeartbeat', from: 1, to: 2 })
    expect(m).toStrictEqual({
      type: 'MsgHeartbeat',
      from: 1,
      to: 2,
      term: 0,
      logTerm: 0,
      index: 0,
      entries: [],
      commit: 0,
      reject: false,
      rejectHint: 0,
    })
    expect('context' in m).toBe(false)
    expect(
      message({ type: 'MsgReadIndex', from: 1, to: 2, context: enc.encode('c') }).context,
    ).toEqual(enc.encode('c'))
  })
})

describe('RawNode with a snapshot not yet applied', () => {
  // Found by the simulator (seed 19553): a follower that has received a snapshot and not yet
  // advanced past it was asked to campaign; counting its unapplied conf changes sliced the
  // compacted log and threw. It must refuse to campaign until the snapshot is applied.
  it('does not campaign, and does not throw, until the snapshot is applied', () => {
    const storage = new MemoryStorage({ confState: { voters: [1, 2], learners: [] } })
    const rn = new RawNode({ id: 2, storage, prng: createPrng(2) })
    rn.step(
      message({
        type: 'MsgSnap',
        from: 1,
        to: 2,
        term: 3,
        snapshot: {
          metadata: { index: 50, term: 3, confState: { voters: [1, 2], learners: [] } },
          data: new Uint8Array(0),
        },
      }),
    )
    const rd = rn.ready()
    expect(rd.snapshot?.metadata.index).toBe(50)
    expect(() => rn.campaign()).not.toThrow()
    expect(rn.status().role).toBe('follower')
    storage.applySnapshot(rd.snapshot!)
    if (rd.hardState) storage.setHardState(rd.hardState)
    storage.append(rd.entries)
    rn.advance(rd)
    drain(rn, storage)
    rn.campaign()
    expect(['preCandidate', 'candidate']).toContain(rn.status().role)
  })
})

describe('RawNode receiving a snapshot while committed entries are being applied', () => {
  // Found by the simulator (seeds 2162, 4011, 14577): a Ready handing out a committed removal
  // was outstanding when a snapshot arrived; restoring switched the configuration first, and
  // applying the older removal afterwards found the member already gone.
  it('postpones the snapshot until the outstanding Ready is advanced', () => {
    const storage = new MemoryStorage({ confState: { voters: [1, 2, 3], learners: [] } })
    const rn = new RawNode({ id: 2, storage, prng: createPrng(2) })
    const entries = [1, 2, 3].map((index) => ({
      term: 1,
      index,
      type: 'normal' as const,
      data: enc.encode(`e${index}`),
    }))
    rn.step(
      message({
        type: 'MsgApp',
        from: 1,
        to: 2,
        term: 1,
        logTerm: 0,
        index: 0,
        entries,
        commit: 3,
      }),
    )
    const rd = rn.ready()
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1, 2, 3])
    storage.append(rd.entries)
    if (rd.hardState) storage.setHardState(rd.hardState)
    const snapshot = {
      metadata: { index: 50, term: 1, confState: { voters: [1, 2], learners: [] } },
      data: new Uint8Array(0),
    }
    // Entries 1-3 are being applied: the snapshot must not take effect under them.
    rn.step(message({ type: 'MsgSnap', from: 1, to: 2, term: 1, snapshot }))
    expect(rn.status().firstIndex).toBe(1)
    expect(rn.status().confState.voters).toEqual([1, 2, 3])
    rn.advance(rd)
    const refusal = rn.ready()
    expect(refusal.snapshot).toBeUndefined()
    expect(refusal.messages).toContainEqual(
      expect.objectContaining({ type: 'MsgAppResp', to: 1, index: 3, reject: false }),
    )
    rn.advance(refusal)
    // Once they are applied, the same snapshot is taken.
    rn.step(message({ type: 'MsgSnap', from: 1, to: 2, term: 1, snapshot }))
    const rd2 = rn.ready()
    expect(rd2.snapshot?.metadata.index).toBe(50)
    expect(rn.status().confState.voters).toEqual([1, 2])
  })
})

describe('updateNode conf changes (etcd ConfChangeUpdateNode)', () => {
  it('round-trips, needs a member, and leaves voters and learners as they are', () => {
    const cc = { type: 'updateNode' as const, nodeId: 2, context: new Uint8Array([1, 2]) }
    expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc)
    const cs = { voters: [1, 2], learners: [3] }
    expect(applyToConfState(cs, cc)).toEqual(cs)
    expect(applyToConfState(cs, { ...cc, nodeId: 3 })).toEqual(cs)
    expect(confChangeProblem(cs, { ...cc, nodeId: 9 })).toMatch(/node 9 is not a member/)
  })
})
