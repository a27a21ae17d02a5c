/**
 * What the simulator's parts share (world.ts runs the nodes and the network, nemesis.ts the
 * faults, clients.ts the clients): a simulated node, the events of the agenda, a member's answer
 * to a client, and the world's port, which the nemesis and the clients act through.
 */
import {
  ProposalError,
  ReadIndexDroppedError,
  TransferRefusedError,
  type ConfState,
  type Message,
  type NodeId,
  type RawNode,
  type Ready,
  type Role,
} from '../raft'
import type { MemoryStorage } from '../raft/storage'
import type { Prng } from '../raft/prng'
import type { EtcdErrorCode } from '../kernel/etcd-errors'
import type { KvMachine } from './kv'
import type { KvInput, KvOutput } from './lin-types'
import type { SimOptions } from './world'

export interface SimNode {
  id: NodeId
  disk: MemoryStorage
  raft: RawNode | null
  sm: KvMachine
  confState: ConfState
  incarnation: number
  up: boolean
  removed: boolean
  busy: boolean
  role: Role
  term: number
  lead: NodeId
  slowFactor: number
  pendingWrites: Map<string, { client: number; reqId: string }>
  pendingReads: Map<string, { client: number; reqId: string; key: string }>
  readyReads: Array<{ index: number; ctx: string }>
  prng: Prng
}

export type SimEvent =
  | { type: 'tick'; node: NodeId; incarnation: number }
  | { type: 'deliver'; msg: Message }
  | { type: 'persisted'; node: NodeId; incarnation: number; ready: Ready; later: Message[] }
  | { type: 'clientStart'; client: number }
  | { type: 'authChange' }
  | { type: 'clientTimeout'; client: number; reqId: string }
  | { type: 'reply'; client: number; reqId: string; reply: Reply }
  | { type: 'nemesis' }
  | { type: 'restart'; node: NodeId }
  | { type: 'endFault'; fault: number }
  | { type: 'snapStatus'; node: NodeId; incarnation: number; to: NodeId; ok: boolean }

/** A member's answer to one client call, with the leader it knows (the client's next hint). */
export type Reply =
  { ok: true; output: KvOutput; lead: NodeId } | { ok: false; error: EtcdErrorCode; lead: NodeId }

/** The world as the nemesis and the clients see it: one PRNG, one agenda, the nodes. */
export interface SimWorld {
  readonly options: SimOptions
  readonly prng: Prng
  readonly nodes: ReadonlyMap<NodeId, SimNode>
  /** The fault phase is over. */
  readonly healed: boolean
  now(): number
  schedule(atMs: number, event: SimEvent): void
  log(line: string): void
  /** Members up and not removed. */
  liveMembers(): SimNode[]
  /** The member up and leading with the highest term, if any. */
  currentLeader(): SimNode | undefined
  /** Takes the node's next Ready, if any. */
  process(node: SimNode): void
  crash(node: SimNode, why: string): void
  /** A fresh node, booted with an empty disk (to be added as a learner). */
  addNode(id: NodeId): SimNode
  /** A member receives one client call. */
  submit(node: SimNode, clientId: number, reqId: string, input: KvInput): void
}

/** The refusals a client or the nemesis can meet; anything else is a bug and ends the run. */
export function isRaftRefusal(err: unknown): boolean {
  return (
    err instanceof ProposalError ||
    err instanceof ReadIndexDroppedError ||
    err instanceof TransferRefusedError
  )
}

/** A client operation's id from the id of one of its attempts (`c1-5.3` -> `c1-5`). */
export function baseRequestId(attemptId: string): string {
  const dot = attemptId.indexOf('.')
  return dot < 0 ? attemptId : attemptId.slice(0, dot)
}
