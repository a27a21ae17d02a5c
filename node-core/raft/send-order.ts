/**
 * Persist before you send, and the one exception to it: which messages of a Ready may leave
 * before its hard state and entries are durable. The server's Ready loop and the simulator both
 * ask here, so the simulator checks the rule production runs.
 *
 * A message that depends on durable state waits for the disk: a vote or a vote response (the
 * term and vote must survive a crash), an append response (the entries must be on disk before
 * the leader counts them). A leader's appends, heartbeats and snapshots may go at once, in
 * parallel with its own write (raft thesis 10.2.1, as etcd does): the leader counts itself
 * toward a commit only once advance() says its entries are durable. But not in a Ready that
 * changes the leader's term or vote: a new term must be durable before anyone hears of it.
 */
import type { HardState, Message, Ready, Role } from './types'

export interface SendOrder {
  /** May be sent before the Ready's hard state and entries are written. */
  early: Message[]
  /** Sent only once they are durable. */
  later: Message[]
}

const LEADER_SENDS_EARLY = new Set<Message['type']>(['MsgApp', 'MsgHeartbeat', 'MsgSnap'])

/** Splits a Ready's messages; `durable` is the hard state already on disk. */
export function sendOrder(rd: Ready, role: Role, durable: HardState): SendOrder {
  const leaderEarly =
    role === 'leader' &&
    (!rd.hardState || (rd.hardState.term === durable.term && rd.hardState.vote === durable.vote))
  if (!leaderEarly) return { early: [], later: rd.messages }
  const early: Message[] = []
  const later: Message[] = []
  for (const m of rd.messages) (LEADER_SENDS_EARLY.has(m.type) ? early : later).push(m)
  return { early, later }
}
