/**
 * What a client hears when a request of its cannot end with a result, and at which moment.
 *
 * Clients decide from the answer whether to call again: the etcd3 npm client retries every call
 * on the codes of kernel/etcd-errors.ts clientsRetry() (UNAVAILABLE, UNKNOWN, DEADLINE_EXCEEDED,
 * RESOURCE_EXHAUSTED, ...) as if the first had not happened, and opens a per-host circuit breaker
 * after three in a row. So the rule is etcd's: a write that may still commit is answered by its
 * outcome when this member applies it (whatever this member's role by then), or when its request
 * deadline passes; never early with an error a client retries into a second copy of the write.
 *
 * | situation                                   | etcd 3.4.23                                   | raftdesk                         |
 * |---------------------------------------------|-----------------------------------------------|----------------------------------|
 * | write proposed, leader lost or changed       | waits for apply here, or its deadline         | the same                          |
 * |   before this member applied it              | (ReqTimeout: 5 s + 2 election timeouts)       | (requestTimeoutMs, 7 s)           |
 * | deadline passed, proposal started at most 2  | UNAVAILABLE "etcdserver: request timed out,   | the same                          |
 * |   election timeouts before this member       |   possibly due to previous leader failure"    |                                   |
 * |   itself became leader                       |   (leadElectedTime is set on the leader only) |                                   |
 * | deadline passed, leader (or, on the leader,  | UNAVAILABLE "etcdserver: request timed out,   | the same, judged on the links'    |
 * |   a quorum) unreachable                      |   possibly due to connection lost"            |   state at the deadline           |
 * | deadline passed otherwise                    | UNAVAILABLE "etcdserver: request timed out"   | the same                          |
 * | write arrives while no leader is known       | held by raft until a leader is known, then    | the same                          |
 * |                                              |   proposed; at the deadline DEADLINE_EXCEEDED |                                   |
 * |                                              |   "context deadline exceeded" (never proposed)|                                   |
 * | the client goes away (cancel, its own        | the write is not proposed if it was not yet   | the same (the gRPC call's         |
 * |   deadline) while the write waits to be      |   (raft's Propose returns with the context);  |   'cancelled' aborts it)          |
 * |   proposed                                   |   once proposed it may still commit           |                                   |
 * | raft drops the proposal at once (leader      | UNKNOWN "raft proposal dropped"               | the same                          |
 * |   transferring, leader removed)              |                                               |                                   |
 * | proposal forwarded, dropped at the leader    | nothing: waits for its deadline               | the same                          |
 * | committed but not applied > 5,000 entries    | RESOURCE_EXHAUSTED "etcdserver: too many      | the same, and also beyond         |
 * |                                              |   requests", before proposing                 |   pendingRequestsMax waiting      |
 * | raftdesk's bound on uncommitted bytes        | (no bound in etcd 3.4's server)               | RESOURCE_EXHAUSTED "too many      |
 * |                                              |                                               |   requests", never proposed       |
 * | member stopping with requests waiting        | UNAVAILABLE "etcdserver: server stopped"      | the same                          |
 * | linearizable read, leader changed meanwhile  | UNAVAILABLE "etcdserver: leader changed"      | asks the new leader again (a read |
 * |                                              |   (the client retries: reads are safe)        |   is safe to repeat) until its    |
 * |                                              |                                               |   deadline: one error fewer       |
 * | linearizable read, deadline passed           | UNAVAILABLE "etcdserver: request timed out"   | the same, with or without leader  |
 * | request sent to a learner (anything but a    | UNAVAILABLE "etcdserver: rpc not supported    | the same                          |
 * |   serializable Range or Status)              |   for learner"                                |                                   |
 * | request needs a leader (hasleader metadata)  | UNAVAILABLE "etcdserver: no leader"           | the same                          |
 * |   and none is known                          |                                               |                                   |
 * | lease keep-alive / time-to-live on a member  | waits for a leader, forwards, tries again on  | the same (a wrong cluster token,  |
 * |   that is not the leader                     |   any error but lease-not-found until its     |   or any answer of the leader's   |
 * |                                              |   deadline: UNAVAILABLE "etcdserver: no       |   own, is not tried again)        |
 * |                                              |   leader" if none is known then, else         |                                   |
 * |                                              |   "etcdserver: request timed out"             |                                   |
 */
import { EtcdServerError, type EtcdErrorCode } from '../kernel/etcd-errors'
import { ProposalDroppedError, ProposalError, TransferRefusedError } from '../raft'

/** etcd's maxGapBetweenApplyAndCommitIndex: beyond it new proposals are refused. */
export const APPLY_LAG_ENTRIES_MAX = 5_000

/** What a write's deadline is judged against (etcd's parseProposeCtxErr). */
export interface WriteDeadlineContext {
  /** When the request arrived. */
  startMs: number
  /** Whether it reached raft (false: it was still waiting for a leader). */
  proposed: boolean
  /** When this member last became leader (0: never), as etcd's leadElectedTime. */
  leaderElectedAtMs: number
  /** The configured (base) election timeout. */
  electionTimeoutMs: number
  /** Whether the leader is reachable now: on the leader, a quorum of voters; else the leader. */
  leaderReachable: () => boolean
}

/** The answer to a write whose deadline passed before this member applied it. */
export function writeDeadlineAnswer(ctx: WriteDeadlineContext): EtcdErrorCode {
  if (!ctx.proposed) return 'DEADLINE_EXCEEDED'
  const prevLeaderLostMs = ctx.leaderElectedAtMs - 2 * ctx.electionTimeoutMs
  if (ctx.startMs > prevLeaderLostMs && ctx.startMs < ctx.leaderElectedAtMs) {
    return 'TIMEOUT_DUE_TO_LEADER_FAIL'
  }
  if (!ctx.leaderReachable()) return 'TIMEOUT_DUE_TO_CONNECTION_LOST'
  return 'TIMEOUT'
}

/**
 * The answer to a proposal raft refused on the spot (nothing was appended anywhere, so a client
 * may retry it safely), or null when the error is not a refusal.
 */
export function raftRefusalAnswer(err: unknown): EtcdServerError | null {
  if (err instanceof ProposalDroppedError)
    return new EtcdServerError('PROPOSAL_DROPPED', err.message)
  if (err instanceof TransferRefusedError) {
    return new EtcdServerError('BAD_LEADER_TRANSFEREE', err.message)
  }
  if (err instanceof ProposalError && err.code === 'RAFT_PROPOSAL_TOO_LARGE') {
    return new EtcdServerError('REQUEST_TOO_LARGE', err.message)
  }
  if (err instanceof ProposalError && err.code === 'RAFT_UNCOMMITTED_LIMIT') {
    return new EtcdServerError('TOO_MANY_REQUESTS', err.message)
  }
  return null
}
