/**
 * The simulator's clients: each runs one operation at a time (put / get / delete / cas on a few
 * keys) against a member, with a timeout after which its outcome is unknown, and records it in
 * the history the linearizability check reads. They take answers as etcd clients do: an error
 * the etcd3 client retries (kernel/etcd-errors.ts clientsRetry) is taken to mean "not applied",
 * and the same operation is sent again inside the same history entry, since the library's retry
 * is invisible to the application.
 */
import { clientsRetry } from '../kernel/etcd-errors'
import type { NodeId } from '../raft'
import type { KvInput, KvOperation } from './lin-types'
import { UNKNOWN_OUTPUT } from './lin-types'
import { baseRequestId, type Reply, type SimNode, type SimWorld } from './types'

/**
 * Calls of one operation an etcd client makes before it gives its error to the application (the
 * etcd3 client's default retry policy: the call and 3 retries).
 */
const CLIENT_ATTEMPTS_MAX = 4

/** Operations each client completes after the heal (proof of liveness) before it rests. */
const CLIENT_OPS_AFTER_HEAL = 20

interface Client {
  id: number
  seq: number
  leaderHint: NodeId
  outstanding: { reqId: string; historyIndex: number; input: KvInput; attempts: number } | null
  completedSinceHeal: number
  lastSeen: Map<string, string | null>
}

export class SimClients {
  private readonly clients: Client[] = []
  private readonly history: KvOperation[] = []
  /** History entries that constrain nothing (refused, or reads never answered). */
  private readonly droppedOps = new Set<number>()
  /** Writes a client was told succeeded: each must be in the applied history. */
  readonly acknowledgedWrites = new Set<string>()
  opsOk = 0
  opsUnknown = 0

  /** Creates `count` clients, each starting within the first 50 virtual ms. */
  constructor(
    private readonly w: SimWorld,
    count: number,
  ) {
    for (let c = 0; c < count; c++) {
      this.clients.push({
        id: c + 1,
        seq: 0,
        leaderHint: 0,
        outstanding: null,
        completedSinceHeal: 0,
        lastSeen: new Map(),
      })
      w.schedule(w.prng.int(0, 50), { type: 'clientStart', client: c + 1 })
    }
  }

  /** Every client completed an operation since the heal. */
  get allProgressed(): boolean {
    return this.clients.every((c) => c.completedSinceHeal >= 1)
  }

  /** One line per client for a liveness report. */
  progressLines(): string[] {
    return this.clients.map((c) => `  client ${c.id}: ${c.completedSinceHeal} ops since heal`)
  }

  /** The history to check: every operation that constrains the outcome. */
  checkedHistory(): KvOperation[] {
    return this.history.filter((_, i) => !this.droppedOps.has(i))
  }

  onClientStart(clientId: number): void {
    const w = this.w
    const client = this.clients[clientId - 1]!
    if (client.outstanding) return
    // After the heal a client that has shown progress stops, so that the cluster drains and its
    // members can be seen to converge (under a steady load from many clients a follower trails
    // the leader by a few entries at every moment, live as it is).
    if (w.healed && client.completedSinceHeal >= CLIENT_OPS_AFTER_HEAL) return
    const node = this.pickMember(client)
    if (!node) {
      w.schedule(w.now() + 50, { type: 'clientStart', client: clientId })
      return
    }
    client.seq++
    const reqId = `c${clientId}-${client.seq}`
    const input = this.chooseInput(client, reqId)
    const historyIndex = this.history.length
    this.history.push({
      clientId,
      input,
      output: UNKNOWN_OUTPUT,
      invokeMs: w.now(),
      completeMs: Number.POSITIVE_INFINITY,
    })
    client.outstanding = { reqId, historyIndex, input, attempts: 1 }
    this.attempt(node, client, reqId, input)
  }

  onReply(clientId: number, reqId: string, reply: Reply): void {
    const w = this.w
    const client = this.clients[clientId - 1]!
    const out = client.outstanding
    if (!out || out.reqId !== reqId) return
    client.outstanding = null
    client.leaderHint = reply.lead
    const op = this.history[out.historyIndex]!
    if (reply.ok) {
      op.output = reply.output
      op.completeMs = w.now()
      this.opsOk++
      if (w.healed) client.completedSinceHeal++
      if (out.input.kind !== 'get') this.acknowledgedWrites.add(reqId)
      if (reply.output.kind === 'get') client.lastSeen.set(out.input.key, reply.output.value)
      if (out.input.kind === 'put') client.lastSeen.set(out.input.key, out.input.value)
    } else if (clientsRetry(reply.error) && out.attempts < CLIENT_ATTEMPTS_MAX) {
      // The etcd client takes this answer as "not applied" and calls again with the same
      // operation; the application still waits on its one call.
      const node = this.pickMember(client)
      if (node) {
        out.attempts++
        out.reqId = `${baseRequestId(reqId)}.${out.attempts}`
        client.outstanding = out
        this.attempt(node, client, out.reqId, out.input)
        return
      }
      this.giveUp(out)
    } else if (clientsRetry(reply.error)) {
      // Out of attempts: the application gets the error and cannot know what happened.
      this.giveUp(out)
    } else {
      // A definite refusal: the operation never took effect, so it leaves the history.
      this.droppedOps.add(out.historyIndex)
    }
    w.schedule(w.now() + w.prng.int(0, 20), { type: 'clientStart', client: clientId })
  }

  onClientTimeout(clientId: number, reqId: string): void {
    const w = this.w
    const client = this.clients[clientId - 1]!
    const out = client.outstanding
    if (!out || out.reqId !== reqId) return
    client.outstanding = null
    client.leaderHint = 0
    if (out.input.kind === 'get') {
      // A read without an answer constrains nothing.
      this.droppedOps.add(out.historyIndex)
    } else {
      this.opsUnknown++
    }
    w.schedule(w.now() + w.prng.int(0, 20), { type: 'clientStart', client: clientId })
  }

  /** Sends one call of the client's operation, with its own timeout. */
  private attempt(node: SimNode, client: Client, reqId: string, input: KvInput): void {
    const w = this.w
    w.schedule(w.now() + w.options.clientTimeoutMs, {
      type: 'clientTimeout',
      client: client.id,
      reqId,
    })
    w.submit(node, client.id, reqId, input)
  }

  /** A member for the next call: the leader hinted by the last answer, else any live one. */
  private pickMember(client: Client): SimNode | undefined {
    const w = this.w
    const members = w.liveMembers()
    const hinted = w.nodes.get(client.leaderHint)
    if (hinted && hinted.up) return hinted
    return members.length > 0 ? members[w.prng.int(0, members.length)]! : undefined
  }

  private chooseInput(client: Client, reqId: string): KvInput {
    const w = this.w
    const key = `k${w.prng.int(0, w.options.keys)}`
    const r = w.prng.float()
    if (r < 0.35) return { kind: 'get', key }
    if (r < 0.75) return { kind: 'put', key, value: reqId }
    if (r < 0.85) return { kind: 'delete', key }
    return { kind: 'cas', key, expected: client.lastSeen.get(key) ?? null, value: reqId }
  }

  private giveUp(out: NonNullable<Client['outstanding']>): void {
    if (out.input.kind === 'get') this.droppedOps.add(out.historyIndex)
    else this.opsUnknown++
  }
}
