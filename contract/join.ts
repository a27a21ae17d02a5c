/**
 * The `join/*` namespace: this machine's members of other raftdesk clusters. The window joins a
 * remote cluster with a peer address and its token (or an invite link that carries both), follows
 * the new member from learner to voter, and leaves again. `join/invite` gives the link that lets
 * another machine join the local cluster.
 *
 * Ids are in hex, as etcdctl prints them.
 */

/** Where a joined member is on its way: see JoinedMember.phase. */
export type JoinPhase =
  'joining' | 'snapshot' | 'catchingUp' | 'caughtUp' | 'voter' | 'stopped' | 'failed'

export interface JoinedMember {
  name: string
  /** The peer address the join went through. */
  peer: string
  clusterId: string
  memberId: string
  /** Where this member serves etcd clients on this machine. */
  endpoint: string
  /**
   * joining: asking the cluster; snapshot: waiting for its first image; catchingUp / caughtUp:
   * a learner applying the log (caughtUp: ready to promote); voter; stopped or failed: its process
   * does not run (error says why).
   */
  phase: JoinPhase
  /** Share of the cluster's committed log applied here (0..1), null when unknown. */
  catchUp: number | null
  applied: number
  clusterCommit: number
  /** Size of the last snapshot received (0: none yet). */
  snapshotBytes: number
  error?: string
}

export interface JoinForm {
  /** host:port of any member's peer listener. */
  peer: string
  token: string
  /** The member's name there (empty: this host's name and a number). */
  name?: string
  /** The address the cluster reaches this machine at (empty: chosen from the peer address). */
  advertiseHost?: string
  /** From an invite link: the cluster's id in hex, so another cluster is refused. */
  clusterId?: string
}

/** How another machine joins the local cluster: `raftdesk://join?peer=…&token=…&cluster=…`. */
export interface JoinInvite {
  link: string
  peer: string
  token: string
  clusterId: string
  /** The cluster listens on a loopback address: only this machine can use the link. */
  loopback: boolean
}

export interface JoinCalls {
  'join/list': { args: []; result: JoinedMember[] }
  /** Joins as a learner; resolves once the member runs (or with its failure kept on it). */
  'join/start': { args: [JoinForm]; result: JoinedMember }
  'join/promote': { args: [{ name: string }]; result: null }
  /** Starts a stopped or failed member's process again. */
  'join/retry': { args: [{ name: string }]; result: null }
  'join/leave': { args: [{ name: string }]; result: null }
  'join/invite': { args: []; result: JoinInvite }
}

export interface JoinTopics {
  /** The members, whenever one changes (about once a second while any runs). */
  'join/live': { args: []; event: JoinedMember[] }
}
