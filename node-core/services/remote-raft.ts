/**
 * A raftdesk cluster on other machines, seen through its members' admin ports (Admin.Call, the
 * cluster token checked on every call), shaped like the local supervisor for the raft views:
 * the dashboard, the log, the timeline and the events work the same on it. What belongs to the
 * host that runs a member (its process, its links, the cluster's timeouts) is refused in one
 * sentence; elections, leadership transfer, snapshots, promote and remove go through the admin
 * port.
 *
 * It asks every member for its status every POLL_MS and for its new events every EVENTS_MS,
 * starting from one member's client endpoint and following the membership it reports.
 */
import { EventEmitter } from 'node:events'
import type { LinkFault, RaftTimeouts } from '../../contract'
import { AdminClient } from '../client/admin-client'
import { ValidationError } from '../errors'
import type { AdminCall, AdminArgs, AdminResult } from '../server/admin-port'
import { EventRing } from '../server/events'
import type { LocalClusterPort, SupervisedNode } from './raft'

const POLL_MS = 300
const EVENTS_MS = 1_000
const CALL_MS = 2_000

/** raftdesk's defaults: a remote cluster's timeouts are its hosts' and are not reported. */
const UNKNOWN_TIMEOUTS: RaftTimeouts = { electionMsMin: 150, electionMsMax: 300, heartbeatMs: 50 }

function notHere(what: string): never {
  throw new ValidationError(
    'REMOTE_CLUSTER',
    `${what} belongs to the machine that runs the member: this window sees a remote cluster through its admin port`,
  )
}

interface RemoteMember {
  id: number
  name: string
  endpoint: string
  peer: string
  status: SupervisedNode['status']
  error?: string
  eventsSeq: number
}

export class RemoteCluster implements LocalClusterPort {
  readonly events = new EventRing('')
  readonly maxMembers = 0
  readonly remote = true
  private readonly members = new Map<number, RemoteMember>()
  private readonly clients = new Map<string, AdminClient>()
  private readonly changed = new EventEmitter<{ changed: []; closed: [] }>()
  private timer: NodeJS.Timeout | null = null
  private eventsTimer: NodeJS.Timeout | null = null
  private polling = false
  private closed = false
  /** Live streams open on it, and when it was last asked anything (for closing it when idle). */
  private subscribers = 0
  private lastUsedMs = Date.now()

  constructor(
    /** A member's client endpoint to start from (host:port). */
    private readonly entry: string,
    readonly clusterToken: string,
  ) {}

  /** Starts asking; resolves after the first round (members known, or the reason why not). */
  async start(): Promise<this> {
    await this.poll()
    this.timer = setInterval(() => void this.poll(), POLL_MS)
    this.eventsTimer = setInterval(() => void this.pollEvents(), EVENTS_MS)
    this.timer.unref()
    this.eventsTimer.unref()
    return this
  }

  /** Stops asking; a live stream on it is told (onClosed) rather than left frozen. */
  close(): void {
    if (this.closed) return
    this.closed = true
    if (this.timer) clearInterval(this.timer)
    if (this.eventsTimer) clearInterval(this.eventsTimer)
    for (const c of this.clients.values()) c.close()
    this.clients.clear()
    this.changed.emit('closed')
  }

  onClosed(listener: () => void): () => void {
    this.changed.on('closed', listener)
    return () => void this.changed.off('closed', listener)
  }

  /** Nobody watches it and nobody asked for a while. */
  idleFor(ms: number): boolean {
    return this.subscribers === 0 && Date.now() - this.lastUsedMs > ms
  }

  private client(endpoint: string): AdminClient {
    this.lastUsedMs = Date.now()
    let c = this.clients.get(endpoint)
    if (!c) {
      c = new AdminClient(endpoint, this.clusterToken)
      this.clients.set(endpoint, c)
    }
    return c
  }

  private call<K extends AdminCall>(
    endpoint: string,
    call: K,
    args: AdminArgs<K>,
    ms = CALL_MS,
  ): Promise<AdminResult<K>> {
    return this.client(endpoint).call(call, args, Date.now() + ms)
  }

  private async poll(): Promise<void> {
    if (this.polling) return
    this.polling = true
    try {
      // The membership as any member that answers reports it: the entry first, then the others.
      const endpoints = [this.entry, ...[...this.members.values()].map((m) => m.endpoint)]
      let known = false
      for (const e of new Set(endpoints)) {
        try {
          const s = await this.call(e, 'status', {})
          this.learn(s.members)
          known = true
          break
        } catch {
          // try the next member
        }
      }
      if (!known && this.members.size === 0) return
      await Promise.all(
        [...this.members.values()].map(async (m) => {
          try {
            const s = await this.call(m.endpoint, 'status', {})
            // Counters that went back: a new process, whose event ring numbers from 1 again.
            const sent = (x: NonNullable<RemoteMember['status']>) =>
              x.messagesSent + x.messagesReceived + x.proposals
            if (m.status && sent(s) < sent(m.status)) m.eventsSeq = 0
            m.status = s
            delete m.error
          } catch (err) {
            m.error = (err as Error).message
          }
        }),
      )
      this.changed.emit('changed')
    } finally {
      this.polling = false
    }
  }

  private learn(
    list: Array<{ id: number; name: string; clientUrls: string[]; peerUrls: string[] }>,
  ): void {
    const ids = new Set(list.map((m) => m.id))
    for (const [id, m] of this.members) {
      if (ids.has(id)) continue
      // A member that left: forget it, and close its connection.
      this.members.delete(id)
      if (m.endpoint !== this.entry) {
        this.clients.get(m.endpoint)?.close()
        this.clients.delete(m.endpoint)
      }
    }
    for (const m of list) {
      const endpoint = (m.clientUrls[0] ?? '').replace(/^https?:\/\//, '')
      const peer = (m.peerUrls[0] ?? '').replace(/^https?:\/\//, '')
      const known = this.members.get(m.id)
      if (known) {
        known.name = m.name || known.name
        known.endpoint = endpoint || known.endpoint
        known.peer = peer || known.peer
      } else if (endpoint) {
        this.members.set(m.id, {
          id: m.id,
          name: m.name || m.id.toString(16),
          endpoint,
          peer,
          status: null,
          eventsSeq: 0,
        })
      }
    }
  }

  private async pollEvents(): Promise<void> {
    let added = false
    await Promise.all(
      [...this.members.values()].map(async (m) => {
        if (m.error) return
        try {
          const events = await this.call(m.endpoint, 'events', { afterSeq: m.eventsSeq })
          for (const e of events) {
            m.eventsSeq = Math.max(m.eventsSeq, e.seq)
            const { seq: _seq, ...rest } = e
            this.events.add({ ...rest, node: m.name })
            added = true
          }
        } catch {
          // the status poll reports the member down
        }
      }),
    )
    if (added) this.changed.emit('changed')
  }

  list(): SupervisedNode[] {
    return [...this.members.values()]
      .map((m): SupervisedNode => ({
        name: m.name,
        id: m.id,
        endpoint: m.endpoint,
        peer: m.peer,
        dataDir: '',
        pid: null,
        state: m.error ? 'crashed' : m.status ? 'running' : 'starting',
        status: m.status,
      }))
      .sort((a, b) => a.name.localeCompare(b.name))
  }

  linkFaults(): LinkFault[] {
    return []
  }

  subscribe(listener: () => void): () => void {
    this.subscribers++
    this.lastUsedMs = Date.now()
    this.changed.on('changed', listener)
    return () => {
      this.subscribers--
      this.lastUsedMs = Date.now()
      this.changed.off('changed', listener)
    }
  }

  private member(name: string): RemoteMember {
    const m = [...this.members.values()].find((x) => x.name === name)
    if (!m) {
      throw new ValidationError(
        'UNKNOWN_NODE',
        `no member named ${JSON.stringify(name)} (have ${[...this.members.values()].map((x) => x.name).join(', ')})`,
      )
    }
    return m
  }

  private leader(): RemoteMember {
    const lead = [...this.members.values()].find((m) => m.status?.role === 'leader' && !m.error)
    if (!lead) throw new ValidationError('NO_LEADER', 'the remote cluster has no leader now')
    return lead
  }

  async nodeLog(name: string, args: { to: number; limit: number }) {
    return this.call(this.member(name).endpoint, 'log', args)
  }

  async campaign(name: string): Promise<void> {
    await this.call(this.member(name).endpoint, 'campaign', { force: true })
  }

  async transferLeadership(name: string): Promise<void> {
    const to = this.member(name)
    const leader = this.leader()
    if (leader.id === to.id) return
    await this.call(leader.endpoint, 'transferLeadership', { to: to.id })
  }

  async snapshot(name: string): Promise<number> {
    return (await this.call(this.member(name).endpoint, 'snapshot', {}, 30_000)).index
  }

  async promote(name: string): Promise<void> {
    await this.call(this.leader().endpoint, 'memberPromote', { id: this.member(name).id }, 15_000)
  }

  async removeNode(name: string): Promise<void> {
    await this.call(this.leader().endpoint, 'memberRemove', { id: this.member(name).id }, 15_000)
  }

  timeouts(): RaftTimeouts {
    return UNKNOWN_TIMEOUTS
  }

  kill(): Promise<void> {
    return notHere('Killing a member')
  }
  restart(): Promise<void> {
    return notHere('Restarting a member')
  }
  pause(): void {
    notHere('Pausing a member')
  }
  resume(): void {
    notHere('Resuming a member')
  }
  startNode(): Promise<void> {
    return notHere('Starting a member')
  }
  stopNode(): Promise<void> {
    return notHere('Stopping a member')
  }
  partitionGroups(): Promise<void> {
    return notHere('A partition')
  }
  cutLink(): Promise<void> {
    return notHere('Cutting a link')
  }
  setLinkFault(): Promise<void> {
    return notHere('A link fault')
  }
  heal(): Promise<void> {
    return notHere('Healing links')
  }
  addNode(): Promise<string> {
    return notHere('Adding a local node')
  }
  setTimeouts(): Promise<void> {
    return notHere('Changing timeouts')
  }
}
