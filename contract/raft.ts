/**
 * The `raft/*` namespace: the local cluster's Raft machinery, live, and the levers on it
 * (elections, faults). Only a host that supervises a local cluster serves it (the desktop app,
 * `raftdesk serve`); `raft/available` says whether this one does.
 *
 * Ids are member ids in hex, as etcdctl prints them. Indexes, terms and sizes are numbers.
 */

/** Raft roles as the core names them; 'preCandidate' is the pre-vote phase. */
export type RaftRole = 'follower' | 'preCandidate' | 'candidate' | 'leader' | 'learner'

/** The node's process as the supervisor sees it. */
export type NodeProcessState =
  'starting' | 'running' | 'paused' | 'stopping' | 'stopped' | 'crashed'

/** The leader's view of one follower (Raft §5.3 nextIndex / matchIndex, and flow control). */
export interface FollowerProgress {
  id: string
  name: string
  match: number
  next: number
  state: 'probe' | 'replicate' | 'snapshot'
  /** Append messages sent and not yet acknowledged. */
  inflight: number
  /** Heard from within the last election timeout. */
  recentActive: boolean
  isLearner: boolean
  /** While in 'snapshot': the index of the snapshot on its way. */
  pendingSnapshot: number
  /** Entries the follower is behind the leader's last index. */
  behind: number
}

/** One node: its process and, while it answers, its Raft state. */
export interface RaftNodeView {
  name: string
  /** Member id in hex ('' until the node first reported). */
  id: string
  process: NodeProcessState
  pid: number | null
  /** host:port of the etcd API, and of the peer listener. */
  endpoint: string
  peer: string
  dataDir: string
  /** Absent when the node has not reported (starting, killed) — the last known values are kept. */
  raft: RaftNodeState | null
  /** The raft state is from before the process stopped answering (killed, paused). */
  stale: boolean
  /** Peers this node's messages cannot reach (links cut from the window). */
  cutTo: string[]
  /**
   * A learner's catch-up as the leader sees it: the share of the leader's log it holds (0..1),
   * null for voters or while no leader reports on it.
   */
  catchUp: number | null
}

export interface RaftNodeState {
  role: RaftRole
  term: number
  /** Who this node voted for in `term` (hex, '' for nobody). */
  vote: string
  /** Who this node believes leads (hex, '' for nobody). */
  leader: string
  firstIndex: number
  lastIndex: number
  /** Highest durable index: entries above it are unstable. */
  stableIndex: number
  commit: number
  applied: number
  snapshotIndex: number
  revision: number
  compactRevision: number
  isLearner: boolean
  walBytes: number
  dbBytes: number
  /** Leader only: every other member. */
  followers: FollowerProgress[]
  /** Election timer: ticks elapsed and the timeout, for a progress ring. */
  electionElapsedTicks: number
  electionTimeoutTicks: number
  /** When the node sampled this (ms since the epoch). */
  atMs: number
}

/** What the dashboard shows above the cards. */
/** A link with a fault applied from the window (messages from `from` to `to`). */
export interface LinkFault {
  from: string
  to: string
  cut: boolean
  delayMs: number
  lossRate: number
}

export interface RaftClusterView {
  nodes: RaftNodeView[]
  /** Links cut, delayed or lossy now. */
  links: LinkFault[]
  /** The leader's name ('' while there is none a majority follows). */
  leader: string
  term: number
  voters: number
  /** Voters that must be up for writes to go on. */
  quorum: number
  /** Voters running and following the leader. */
  healthyVoters: number
  /** How many more voters can fail before writes stop (negative: writes stopped). */
  canFail: number
  /** The timeouts the nodes run with (the local cluster's settings). */
  timeouts: RaftTimeouts
  /** Members the local cluster may have at most (addNode refuses beyond). */
  maxMembers: number
  /**
   * A cluster on other machines, seen through its admin ports: processes, links and timeouts
   * are its hosts', so the window offers only elections, snapshots and membership.
   */
  remote: boolean
  atMs: number
}

/** Which cluster the raft views show: the local one (absent, '' or 'local'), or another. */
export interface RaftSource {
  source?: string
}

export interface RaftSourceInfo {
  /** 'local', or 'joined:<member name>' for a cluster this machine is a member of. */
  id: string
  /** What a person picks it by ("cluster 9ca6… (as visitor)"). */
  label: string
  remote: boolean
}

export interface RaftTimeouts {
  /** Each election timeout is drawn from [min, max) ms. */
  electionMsMin: number
  electionMsMax: number
  heartbeatMs: number
}

export type RaftEventKind =
  | 'started'
  | 'role'
  | 'leader'
  | 'vote'
  | 'voted'
  | 'confChange'
  | 'snapshotSent'
  | 'snapshotReceived'
  | 'snapshotTaken'
  | 'unreachable'
  | 'fault'
  | 'action'
  | 'process'

/** One thing that happened in the cluster, as a node or the supervisor recorded it. */
export interface RaftEvent {
  /** Order in the host's ring (increasing). */
  seq: number
  atMs: number
  /** The node it happened on ('' for the whole cluster). */
  node: string
  kind: RaftEventKind
  term: number
  /** One sentence a person reads ("became leader", "granted vote to n2"...). */
  text: string
  /**
   * For 'role': the new role; 'leader': the new leader's name; 'vote': the voter's name;
   * 'snapshotReceived': the snapshot's size in bytes.
   */
  detail?: string
  /** For 'vote'/'voted': granted or refused. */
  granted?: boolean
}

export type LogEntryState = 'unstable' | 'stable' | 'committed' | 'applied'

export interface LogEntryView {
  index: number
  term: number
  type: 'normal' | 'confChange' | 'empty'
  /** The decoded operation ("put k = v", "delete [a, b)", "txn 2 compares, 1 success op"...). */
  op: string
  bytes: number
  state: LogEntryState
}

/** One node's log over a window of indexes. */
export interface LogSlice {
  node: string
  firstIndex: number
  lastIndex: number
  stableIndex: number
  commit: number
  applied: number
  entries: LogEntryView[]
  /** The node did not answer (killed, paused): why. */
  error?: string
}

export interface LogWindow {
  /** The last index shown (0: the newest on any node). */
  to: number
  /** At most this many entries per node (1..500). */
  limit: number
}

export type RaftAction =
  | { type: 'kill' | 'restart' | 'pause' | 'resume' | 'start' | 'stop'; node: string }
  /**
   * The node starts an election now, as a leadership transfer's campaign does: its voters set
   * the leader lease aside, so it wins when its log is up to date (and the old leader steps down).
   */
  | { type: 'campaign'; node: string }
  /** The leader hands leadership to `node` (Raft's TimeoutNow). */
  | { type: 'transfer'; node: string }
  | { type: 'snapshot'; node: string }
  /** Every link between nodes of different groups is cut; nodes in no group keep theirs. */
  | { type: 'partition'; groups: string[][] }
  /** The link from `from` to `to` (and back unless oneWay). */
  | { type: 'cutLink'; from: string; to: string; oneWay?: boolean }
  | { type: 'linkFault'; from: string; to: string; delayMs: number; lossRate: number }
  | { type: 'heal' }
  /** The next local node joins as a learner and starts catching up. */
  | { type: 'addNode' }
  /** A caught-up learner becomes a voter (refused while it trails). */
  | { type: 'promote'; node: string }
  /** The member leaves the cluster; its process stops and its data is moved aside. */
  | { type: 'remove'; node: string }
  /** New timeouts: nodes restart one at a time with them, data kept. */
  | ({ type: 'timeouts' } & RaftTimeouts)

/** One node in a once-a-second sample of the cluster (the timeline's data). */
export interface RaftNodeSample {
  name: string
  /** The role, or what the process is when it does not run ('down', 'paused'). */
  role: RaftRole | 'down' | 'paused'
  term: number
  lastIndex: number
  commit: number
  applied: number
  /** Cumulative counters since the node process started (a restart starts them over). */
  proposals: number
  messages: number
  /** This node's writes over the second before the sample: how many, and their latency. */
  writes: number
  latencyP50Ms: number
  latencyP99Ms: number
}

export interface RaftSample {
  atMs: number
  nodes: RaftNodeSample[]
}

export interface RaftLive {
  cluster: RaftClusterView
  /** Events since the last message (the first message carries the recorded history). */
  events: RaftEvent[]
  /** Samples since the last message (the first message carries every one recorded). */
  samples: RaftSample[]
}

export interface RaftCalls {
  /** Whether this host supervises a local cluster (the raft views need one). */
  'raft/available': { args: []; result: boolean }
  /** The clusters the raft views can show: the local one, and those this machine joined. */
  'raft/sources': { args: []; result: RaftSourceInfo[] }
  'raft/cluster': { args: [source?: RaftSource]; result: RaftClusterView }
  'raft/log': { args: [LogWindow & RaftSource]; result: LogSlice[] }
  /** Recorded events after `afterSeq` (0: all kept), oldest first. */
  'raft/events': { args: [{ afterSeq: number } & RaftSource]; result: RaftEvent[] }
  /** The once-a-second samples recorded after `afterMs` (0: all kept, about 15 minutes). */
  'raft/history': { args: [{ afterMs: number } & RaftSource]; result: RaftSample[] }
  'raft/act': { args: [action: RaftAction, source?: RaftSource]; result: null }
}

export interface RaftTopics {
  /** The cluster about ten times a second while anything changes, with the events. */
  'raft/live': { args: [source?: RaftSource]; event: RaftLive }
}
