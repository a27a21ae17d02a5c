/**
 * Linearizable reads by ReadIndex, batched (etcd's linearizableReadLoop): reads that arrive
 * while a round is out wait for the next one, so any number of reads cost one round each.
 *
 * One queue of batches, each in one of three stages, oldest first:
 *   waiting  reads that arrived while the round before was out (at most one such batch, last);
 *   issued   the round is out, under a context that names it (at most one, before `waiting`);
 *   ready    the leader answered with a read index; served once this member has applied it.
 * A round lost to a leader change gets no answer: it is asked again, under a new context, once
 * an election timeout has passed; while no leader is known, every retry delay.
 */
import type { Clock } from '../kernel/clock'

/** What the queue needs from its node. */
export interface ReadIndexPort {
  /** Asks raft for a read index under `ctx`; throws when raft cannot now (no leader). */
  readIndex(ctx: Uint8Array): void
  /** Reads the time and runs retries (the system clock: retries are network waits). */
  clock: Clock
  /** A round unanswered for this long is asked again (an election timeout). */
  reissueAfterMs: number
  /** How long to wait before asking again when raft refused (no leader yet). */
  retryMs: number
}

type Stage = 'waiting' | 'issued' | 'ready'

interface ReadBatch {
  stage: Stage
  /** The context of the round (issued), 0 before. */
  ctx: number
  reads: Array<() => void>
  /** The read index the leader answered (ready). */
  index: number
  issuedAtMs: number
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export class ReadIndexQueue {
  private batches: ReadBatch[] = []
  private nextCtx = 1
  private stopped = false

  constructor(private readonly port: ReadIndexPort) {}

  /** Reads waiting in any stage. */
  get size(): number {
    let n = 0
    for (const b of this.batches) n += b.reads.length
    return n
  }

  /** Queues a read; `serve` runs once this member has applied the read index of its round. */
  add(serve: () => void): void {
    const last = this.batches.at(-1)
    if (last?.stage === 'waiting') last.reads.push(serve)
    else this.batches.push({ stage: 'waiting', ctx: 0, reads: [serve], index: 0, issuedAtMs: 0 })
    this.issue()
  }

  /** Forgets a read (it timed out); its batch's round goes on for the others. */
  remove(serve: () => void): void {
    for (const b of this.batches) b.reads = b.reads.filter((r) => r !== serve)
  }

  /** raft answered a round: its batch waits for the index to be applied. */
  onReadState(requestCtx: Uint8Array, index: number): void {
    const ctx = Number(decoder.decode(requestCtx))
    const batch = this.issued()
    if (!batch || batch.ctx !== ctx) return
    batch.stage = 'ready'
    batch.index = index
    this.issue()
  }

  /** Serves every ready batch this member has applied up to; asks again for a stale round. */
  serve(appliedIndex: number): void {
    while (this.batches[0]?.stage === 'ready' && this.batches[0].index <= appliedIndex) {
      for (const serve of this.batches.shift()!.reads) serve()
    }
    const batch = this.issued()
    const now = this.port.clock.now()
    if (batch && now - batch.issuedAtMs > this.port.reissueAfterMs) {
      batch.issuedAtMs = now
      this.retry(batch.ctx)
    }
  }

  /** No more rounds (the node stops); reads still queued time out with their callers. */
  stop(): void {
    this.stopped = true
  }

  private issued(): ReadBatch | undefined {
    return this.batches.find((b) => b.stage === 'issued')
  }

  /** Sends the waiting batch's round, unless one is already out. */
  private issue(): void {
    if (this.stopped || this.issued()) return
    const batch = this.batches.find((b) => b.stage === 'waiting')
    if (!batch || batch.reads.length === 0) return
    batch.stage = 'issued'
    batch.ctx = this.nextCtx++
    batch.issuedAtMs = this.port.clock.now()
    this.request(batch.ctx)
  }

  private request(ctx: number): void {
    try {
      this.port.readIndex(encoder.encode(String(ctx)))
    } catch {
      // No leader yet: try again shortly, until the reads time out.
      this.port.clock.after(this.port.retryMs, () => this.retry(ctx))
    }
  }

  private retry(ctx: number): void {
    const batch = this.issued()
    if (!batch || batch.ctx !== ctx || this.stopped) return
    if (batch.reads.length === 0) {
      this.batches = this.batches.filter((b) => b !== batch)
      this.issue()
      return
    }
    // A read index request can be lost with a leader change; ask again under a new context.
    batch.ctx = this.nextCtx++
    this.request(batch.ctx)
  }
}
