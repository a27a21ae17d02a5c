/**
 * ReadIndex bookkeeping on the leader (Raft thesis §6.4): linearizable reads without writing to
 * the log.
 *
 * A read request is answered with the leader's commit index at the time it arrived, once a
 * quorum of voters has acknowledged a heartbeat sent after that time (which proves that no other
 * leader had been elected by then). Requests are grouped into batches: every request that
 * arrives while the heartbeats of the newest batch have not left the node yet (they are still
 * in the outbox, i.e. no Ready has taken them) joins that batch, so one heartbeat round serves
 * them all. A batch carries the commit index at the arrival of its last request, which is at
 * least the commit index at the arrival of each of them and is committed: a valid read index
 * for all.
 *
 * Heartbeats of a batch carry its context: "r" followed by the batch number in decimal ASCII.
 * Batch numbers increase for the lifetime of the node (never reused), so an acknowledgement can
 * never be mistaken for one of another batch. A quorum for batch k also confirms every earlier
 * batch, which is released with it, in order.
 */
import type { NodeId } from './types'

export interface ReadRequest {
  /** The node that asked (the leader itself for a local read). */
  from: NodeId
  requestCtx: Uint8Array
}

export interface ReadBatch {
  id: number
  /** Heartbeat context of this batch. */
  ctx: Uint8Array
  /** The read index handed to every request of the batch. */
  index: number
  requests: ReadRequest[]
  /** Nodes that acknowledged a heartbeat carrying ctx (the leader acknowledges at once). */
  acks: Set<NodeId>
}

const CHAR_R = 0x72
const CHAR_0 = 0x30

function encodeBatchCtx(id: number): Uint8Array {
  const digits = String(id)
  const out = new Uint8Array(digits.length + 1)
  out[0] = CHAR_R
  for (let i = 0; i < digits.length; i++) out[i + 1] = digits.charCodeAt(i)
  return out
}

/** The batch number a heartbeat context names, or 0 when it is not a batch context. */
export function decodeBatchCtx(ctx: Uint8Array | undefined): number {
  if (ctx === undefined || ctx.byteLength < 2 || ctx.byteLength > 17 || ctx[0] !== CHAR_R) return 0
  let id = 0
  for (let i = 1; i < ctx.byteLength; i++) {
    const d = ctx[i]! - CHAR_0
    if (d < 0 || d > 9) return 0
    id = id * 10 + d
  }
  return Number.isSafeInteger(id) ? id : 0
}

export class ReadOnly {
  private batches: ReadBatch[] = []
  private nextId = 1
  /** The newest batch while its heartbeats are still in the outbox. */
  private open: ReadBatch | undefined = undefined
  private requestCount = 0

  /** Requests waiting for their quorum. */
  get pendingRequests(): number {
    return this.requestCount
  }

  /**
   * Adds a request with read index `index`. Returns the batch it joined and whether the batch is
   * new (then the caller broadcasts heartbeats carrying batch.ctx).
   */
  add(index: number, request: ReadRequest, selfId: NodeId): { batch: ReadBatch; opened: boolean } {
    this.requestCount++
    const open = this.open
    if (open !== undefined) {
      open.requests.push(request)
      if (index > open.index) open.index = index
      return { batch: open, opened: false }
    }
    const id = this.nextId++
    const batch: ReadBatch = {
      id,
      ctx: encodeBatchCtx(id),
      index,
      requests: [request],
      acks: new Set([selfId]),
    }
    this.batches.push(batch)
    this.open = batch
    return { batch, opened: true }
  }

  /** The outbox was handed out: later requests need a new heartbeat round. */
  closeOpenBatch(): void {
    this.open = undefined
  }

  /** Context of the newest pending batch (periodic heartbeats carry it too). */
  lastPendingCtx(): Uint8Array | undefined {
    return this.batches.length > 0 ? this.batches[this.batches.length - 1]!.ctx : undefined
  }

  /** Records an acknowledgement; returns the batch or undefined when it is unknown or gone. */
  recvAck(from: NodeId, ctx: Uint8Array | undefined): ReadBatch | undefined {
    const id = decodeBatchCtx(ctx)
    if (id === 0) return undefined
    for (const b of this.batches) {
      if (b.id === id) {
        b.acks.add(from)
        return b
      }
      if (b.id > id) return undefined
    }
    return undefined
  }

  /** Removes and returns every batch up to and including `batch`, oldest first. */
  release(batch: ReadBatch): ReadBatch[] {
    const pos = this.batches.indexOf(batch)
    if (pos < 0) return []
    const released = this.batches.splice(0, pos + 1)
    for (const b of released) this.requestCount -= b.requests.length
    if (this.open !== undefined && this.batches.indexOf(this.open) < 0) this.open = undefined
    return released
  }

  /** Drops everything (the node stopped being leader). Batch numbers keep increasing. */
  reset(): void {
    this.batches = []
    this.open = undefined
    this.requestCount = 0
  }
}
