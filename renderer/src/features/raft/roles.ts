/**
 * What the raft views show for a node's role and process: one CSS class per state, mapped to
 * the palette's variables (style.css --role-*), so the dashboard, the log and the events agree.
 */
import type { RaftNodeView } from '../../../../contract'

export type RoleClass =
  'leader' | 'follower' | 'candidate' | 'precandidate' | 'learner' | 'down' | 'paused'

/** A node's class: its role while it runs, else what happened to its process. */
export function roleClass(n: RaftNodeView): RoleClass {
  if (n.process === 'paused') return 'paused'
  if (n.process !== 'running' || !n.raft) return 'down'
  if (n.raft.isLearner) return 'learner'
  switch (n.raft.role) {
    case 'leader':
      return 'leader'
    case 'candidate':
      return 'candidate'
    case 'preCandidate':
      return 'precandidate'
    case 'learner':
      return 'learner'
    default:
      return 'follower'
  }
}
