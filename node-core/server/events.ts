/**
 * A node's recent history: a bounded ring of what happened to its Raft state (role and leader
 * changes, elections with their votes, membership changes, snapshots, unreachable peers, faults
 * applied), stamped with the wall time. A window that opens late reads the last minutes from it
 * through the admin port.
 *
 * Sequence numbers increase by one per event and are never reused while the process lives, so a
 * reader asks for "everything after seq N" and learns from the first seq it gets whether the
 * ring dropped events in between (a gap).
 */
import type { RaftEvent } from '../../contract'

/** Events a node keeps: minutes of an eventful cluster, hours of a quiet one. */
export const EVENT_RING_SIZE = 2_000

export type NodeEventInput = Omit<RaftEvent, 'seq' | 'atMs' | 'node'>

export class EventRing {
  private readonly events: RaftEvent[] = []
  private nextSeq = 1
  private readonly listeners = new Set<(e: RaftEvent) => void>()

  constructor(
    private readonly node: string,
    private readonly now: () => number = Date.now,
    private readonly capacity = EVENT_RING_SIZE,
  ) {
    if (!(capacity >= 1))
      throw new RangeError(`event ring capacity must be positive, got ${capacity}`)
  }

  record(input: NodeEventInput): RaftEvent {
    return this.add({ atMs: this.now(), node: this.node, ...input })
  }

  /** Keeps an event recorded elsewhere (a node's, in the supervisor's ring), numbered here. */
  add(event: Omit<RaftEvent, 'seq'>): RaftEvent {
    const e: RaftEvent = { ...event, seq: this.nextSeq++ }
    this.events.push(e)
    if (this.events.length > this.capacity)
      this.events.splice(0, this.events.length - this.capacity)
    for (const l of this.listeners) l(e)
    return e
  }

  /** Events with seq > afterSeq, oldest first, at most `limit` (the oldest ones). */
  after(afterSeq: number, limit = this.capacity): RaftEvent[] {
    const first = this.events.findIndex((e) => e.seq > afterSeq)
    if (first < 0) return []
    return this.events.slice(first, first + limit)
  }

  get lastSeq(): number {
    return this.nextSeq - 1
  }

  onEvent(listener: (e: RaftEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}
