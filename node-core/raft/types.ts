/**
 * The vocabulary of the raft core: entries, hard state, snapshots, messages and the Ready batch.
 *
 * Everything here is plain data (no classes with behaviour) so that it can be persisted by the
 * WAL, encoded by the transport and compared in tests without ceremony. Byte payloads are
 * Uint8Array; node ids, terms and indexes are non-negative integers below 2^53.
 *
 * Index and term 0 mean "none": the first real log entry has index 1, the first term is 1.
 */

/** A member id. 0 is "no node" (no leader, no vote). */
export type NodeId = number

export const NONE: NodeId = 0

export type EntryType = 'normal' | 'confChange'

export interface Entry {
  term: number
  index: number
  type: EntryType
  /**
   * Opaque to raft for 'normal' entries (the server's encoded request). For 'confChange' entries
   * it is encodeConfChange(change). An empty normal entry is what a new leader appends to commit
   * entries of earlier terms (Raft §5.4.2).
   */
  data: Uint8Array
}

/** What must be durable before any message that depends on it leaves the node. */
export interface HardState {
  term: number
  /** Whom this node voted for in `term`, or NONE. */
  vote: NodeId
  commit: number
}

/** The membership: voters decide elections and commits; learners only receive the log. */
export interface ConfState {
  voters: NodeId[]
  learners: NodeId[]
}

/**
 * Single-server membership changes (Raft §4.1 of Ongaro's thesis): one member at a time, so the
 * old and new majorities always overlap and no joint consensus is needed.
 */
export type ConfChangeType =
  | 'addVoter'
  | 'addLearner'
  | 'promoteLearner'
  | 'removeNode'
  /** etcd's ConfChangeUpdateNode: the member's record (its context) changes, not the quorum. */
  | 'updateNode'

export interface ConfChange {
  type: ConfChangeType
  nodeId: NodeId
  /** Opaque to raft; the server puts the member's name and peer URLs here. */
  context: Uint8Array
}

export interface SnapshotMetadata {
  /** The last log index the snapshot covers, and its term. */
  index: number
  term: number
  /** Membership as of `index`. */
  confState: ConfState
}

export interface Snapshot {
  metadata: SnapshotMetadata
  /**
   * Opaque to raft. In the simulator it is the whole state machine image; in a real node the
   * image is streamed from the snap file by the transport, and this holds only what the server
   * needs to find it (it may be empty).
   */
  data: Uint8Array
}

export type MessageType =
  // Local messages: never sent over the network, only stepped into the local node.
  | 'MsgHup' // election timeout or campaign(): start an election
  | 'MsgBeat' // heartbeat timeout on the leader: send heartbeats
  | 'MsgCheckQuorum' // election timeout on the leader: step down without a live quorum
  | 'MsgUnreachable' // the transport could not reach msg.from
  | 'MsgSnapStatus' // the transport finished (or failed, reject=true) sending a snapshot
  // Messages between nodes.
  | 'MsgProp' // a proposal, forwarded from a follower to the leader
  | 'MsgApp'
  | 'MsgAppResp'
  | 'MsgVote'
  | 'MsgVoteResp'
  | 'MsgPreVote'
  | 'MsgPreVoteResp'
  | 'MsgSnap'
  | 'MsgHeartbeat'
  | 'MsgHeartbeatResp'
  | 'MsgTransferLeader' // ask the leader to hand leadership to msg.from
  | 'MsgTimeoutNow' // leader to transferee: campaign now, ignoring the election timeout
  | 'MsgReadIndex'
  | 'MsgReadIndexResp'

export interface Message {
  type: MessageType
  from: NodeId
  to: NodeId
  term: number
  /** MsgApp: term of the entry at `index` (the consistency check). Votes: candidate's last term. */
  logTerm: number
  /** MsgApp: index preceding `entries`. MsgAppResp: last index matched (or rejected). Votes: last index. */
  index: number
  entries: Entry[]
  commit: number
  /** MsgSnap only. */
  snapshot?: Snapshot
  reject: boolean
  /** MsgAppResp with reject: the follower's hint for fast backtracking (Raft §5.3 optimisation). */
  rejectHint: number
  /** ReadIndex request context; for MsgHup/MsgVote a campaign kind (see CAMPAIGN_TRANSFER). */
  context?: Uint8Array
}

/** A linearizable read that may proceed once the local node has applied up to `index`. */
export interface ReadState {
  index: number
  requestCtx: Uint8Array
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader' | 'learner'

/** Volatile state that the UI and the server want to know about but need not persist. */
export interface SoftState {
  lead: NodeId
  role: Role
}

/**
 * One batch of work for the server, returned by RawNode.ready() and acknowledged by advance().
 *
 * The server handles it in this order (etcd's), and raft's safety depends on it:
 *   1. persist `snapshot` (if any), then `entries` and `hardState`, with one fsync;
 *   2. send `messages` (they may rely on what step 1 made durable: a vote, an appended entry);
 *      a leader may send its MsgApp/MsgHeartbeat/MsgSnap messages while step 1 runs, because
 *      the leader counts its own log in the quorum only after advance() says it is durable;
 *   3. apply `snapshot` then `committedEntries` to the state machine, in order;
 *   4. call advance(ready).
 */
export interface Ready {
  /** Present when lead or role changed since the last Ready. */
  softState?: SoftState
  /** Present when term, vote or commit changed since the last Ready. */
  hardState?: HardState
  /** Entries to append to stable storage; they may overwrite a conflicting suffix. */
  entries: Entry[]
  /** A snapshot to persist and then apply; present only when one arrived from the leader. */
  snapshot?: Snapshot
  /** Committed entries not yet handed out for applying, in index order. */
  committedEntries: Entry[]
  messages: Message[]
  readStates: ReadState[]
  /** True when hardState or entries must be fsync'd before messages are sent. */
  mustSync: boolean
}

export type ProgressState = 'probe' | 'replicate' | 'snapshot'

/** The leader's view of one follower (Raft §5.3: nextIndex and matchIndex, plus flow control). */
export interface ProgressStatus {
  match: number
  next: number
  state: ProgressState
  /** Append messages in flight, bounded by maxInflightMsgs. */
  inflight: number
  /** Whether the follower has been heard from within the last election timeout. */
  recentActive: boolean
  isLearner: boolean
  /** While in 'snapshot': the index of the snapshot being sent. */
  pendingSnapshot: number
}

/**
 * What status() reports: the live picture the UI draws. Entry states follow from the indexes:
 * (applied, committed] committed not applied, (committed, lastIndex] uncommitted, and
 * (stableIndex, lastIndex] not yet durable ("unstable").
 */
export interface Status {
  id: NodeId
  role: Role
  term: number
  vote: NodeId
  lead: NodeId
  commit: number
  applied: number
  lastIndex: number
  /** Highest index known durable on this node; entries above it are unstable. */
  stableIndex: number
  firstIndex: number
  confState: ConfState
  /** Leader only: progress of every other member, keyed by id. */
  progress: Record<NodeId, ProgressStatus>
  /** Non-zero while a leadership transfer to this node is under way. */
  leadTransferee: NodeId
  /**
   * Ticks since the election timer was last reset (a leader: since its last check-quorum
   * round), and the ticks at which it fires (a follower's randomized timeout, a leader's
   * electionTicksMin). Added for the UI's timers; optional so that hand-made values stay valid.
   */
  electionElapsedTicks?: number
  electionTimeoutTicks?: number
}

/** Context value of a MsgHup/MsgVote that comes from a leader transfer (skips pre-vote, lease). */
export const CAMPAIGN_TRANSFER = new Uint8Array([0x74, 0x72, 0x61, 0x6e, 0x73, 0x66, 0x65, 0x72])

/** Messages that exist only inside one node and must never be sent to another. */
export function isLocalMessage(type: MessageType): boolean {
  return (
    type === 'MsgHup' ||
    type === 'MsgBeat' ||
    type === 'MsgCheckQuorum' ||
    type === 'MsgUnreachable' ||
    type === 'MsgSnapStatus'
  )
}

/** Responses a node must accept regardless of its role (they never start anything). */
export function isResponseMessage(type: MessageType): boolean {
  return (
    type === 'MsgAppResp' ||
    type === 'MsgVoteResp' ||
    type === 'MsgPreVoteResp' ||
    type === 'MsgHeartbeatResp' ||
    type === 'MsgReadIndexResp'
  )
}

/**
 * A blank message: every field set, so that codecs and comparisons see one shape. `snapshot` and
 * `context` are present only when given. Built field by field in a fixed order rather than by
 * object spread: messages are created on the hot path, and one property order keeps them one
 * hidden class for the JIT.
 */
export function message(fields: Partial<Message> & Pick<Message, 'type' | 'from' | 'to'>): Message {
  const m: Message = {
    type: fields.type,
    from: fields.from,
    to: fields.to,
    term: fields.term ?? 0,
    logTerm: fields.logTerm ?? 0,
    index: fields.index ?? 0,
    entries: fields.entries ?? [],
    commit: fields.commit ?? 0,
    reject: fields.reject ?? false,
    rejectHint: fields.rejectHint ?? 0,
  }
  if (fields.snapshot !== undefined) m.snapshot = fields.snapshot
  if (fields.context !== undefined) m.context = fields.context
  return m
}

/** Bytes an entry counts for in size limits (payload plus a fixed header allowance). */
export function entrySizeBytes(entry: Entry): number {
  return entry.data.byteLength + 24
}
