/**
 * Pieces both transports share: peer address parsing, the checks send() makes on each message,
 * fresh stats, and the deferred, de-duplicated unreachable reports.
 */
import { ValidationError } from '../errors'
import { isLocalMessage, type Message, type NodeId } from '../raft/types'
import type { PeerStats } from './types'

export interface PeerAddress {
  host: string
  port: number
}

/** Parses "host:port" or "[v6]:port". Throws ValidationError. */
export function parsePeerAddress(address: string): PeerAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(address)
  const port = m ? Number(m[3]) : NaN
  if (!m || !(port >= 1 && port <= 65535)) {
    throw new ValidationError(
      'BAD_PEER_ADDRESS',
      `peer address ${JSON.stringify(address)} is not host:port with a port in 1..65535`,
    )
  }
  return { host: m[1] ?? m[2]!, port }
}

export function assertMemberId(id: NodeId, what: string): void {
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw new ValidationError(
      'BAD_MEMBER_ID',
      `${what}: member id must be a positive integer, got ${id}`,
    )
  }
}

/** The programmer errors send() refuses loudly (everything else is a network condition). */
export function assertSendable(msg: Message, selfId: NodeId): void {
  if (isLocalMessage(msg.type)) {
    throw new ValidationError('LOCAL_MESSAGE', `${msg.type} is local to a node and is never sent`)
  }
  if (msg.from !== selfId) {
    throw new ValidationError('BAD_SENDER', `${msg.type} from ${msg.from} sent by node ${selfId}`)
  }
  if (msg.to === selfId) {
    throw new ValidationError('BAD_TARGET', `${msg.type} addressed by node ${selfId} to itself`)
  }
}

export function newPeerStats(id: NodeId, address: string): PeerStats {
  return {
    id,
    address,
    connected: false,
    sentMessages: 0,
    sentBytes: 0,
    writes: 0,
    receivedMessages: 0,
    receivedBytes: 0,
    queueMessages: 0,
    queueBytes: 0,
    dropped: 0,
    faultDropped: 0,
    snapshotsSent: 0,
    snapshotsFailed: 0,
    snapshotsReceived: 0,
    connects: 0,
  }
}

/**
 * Collects peers to report (unreachable, or refusing this node as removed) and reports each
 * once per microtask, outside of the caller: many drops in one burst become one report, and the
 * handler never re-enters the caller of send() or a socket handler.
 */
export class PeerReporter {
  private handler: ((id: NodeId) => void) | undefined
  private readonly pending = new Set<NodeId>()
  private scheduled = false

  constructor(private readonly onHandlerError: (err: unknown) => void) {}

  setHandler(handler: (id: NodeId) => void): void {
    this.handler = handler
  }

  report(id: NodeId): void {
    this.pending.add(id)
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      const ids = [...this.pending]
      this.pending.clear()
      for (const peer of ids) {
        try {
          this.handler?.(peer)
        } catch (err) {
          this.onHandlerError(err)
        }
      }
    })
  }
}
