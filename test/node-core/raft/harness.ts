/**
 * The interaction harness: drives a few RawNodes over MemoryStorage and an in-memory network
 * from a script, and prints what happens (messages, Ready contents, log lines) so that the
 * script files under testdata/ can hold the expected trace next to each command.
 *
 * Script format (one file per rule):
 *
 *   # comment lines and blank lines are kept as they are
 *   command arg arg key=value key=(1,2,3)
 *   ----
 *   expected output, one or more lines (never blank; "ok" when there is nothing to print)
 *   <blank line or end of file>
 *
 * The network is one FIFO queue of messages sent by process-ready. deliver-msgs and stabilize
 * step them into their recipients; a partition drops the messages that cross it at delivery.
 * Nodes are numbered from 1 in the order add-nodes creates them.
 *
 * Commands:
 *   add-nodes N [voters=(..)] [learners=(..)] [index=I] [content=X] [prevote=bool]
 *             [checkquorum=bool] [max-inflight=N] [max-size-per-msg=N] [max-uncommitted-size=N]
 *             [max-proposal-size=N] [max-committed-size-per-ready=N] [max-pending-reads=N]
 *             [election=MIN-MAX] [heartbeat=N] [seed=S]
 *       Without voters and learners the new nodes are the voters. With index=I each storage
 *       starts from a snapshot at I (term 1) holding `content` as the state machine.
 *   campaign ID | propose ID DATA | propose-batch ID DATA... |
 *   propose-conf-change ID (add-voter|add-learner|promote-learner|remove-node) NODE
 *   transfer-leadership from=ID to=ID | read-index ID CTX
 *   process-ready [ID...]            persist, send, apply, advance (all nodes when none given)
 *   ready ID | advance ID            a leader's overlap: send the Ready's messages now, persist,
 *                                    apply and advance it later
 *   deliver-msgs [ID...] [drop=(..)] [type=MsgX]
 *   stabilize [ID...]                process-ready and deliver-msgs until nothing moves
 *   tick ID N | tick-election ID | tick-heartbeat ID
 *   partition (1) (2,3) | heal
 *   compact ID INDEX                 snapshot the state machine at INDEX and compact the log
 *   snapshot ID                      snapshot at the applied index (no compaction)
 *   snapshot-unavailable ID true|false   make storage.snapshot() throw (temporarily)
 *   report-unreachable ID PEER | report-snapshot ID PEER finish|failure
 *   restart ID                       rebuild the node from its storage (unpersisted state lost)
 *   status ID | raft-log ID | raft-state | app-state ID | log-level (debug|info|warn|error|none)
 */
import { createPrng } from '../../../node-core/raft/prng'
import type { RaftConfig } from '../../../node-core/raft/config'
import { loggerFrom, type Logger } from '../../../node-core/kernel/logger'
import { decodeConfChange } from '../../../node-core/raft/confchange'
import {
  describeEntry,
  describeMessage,
  describeReady,
  describeSnapshot,
} from '../../../node-core/raft/describe'
import { SnapshotTemporarilyUnavailableError } from '../../../node-core/raft/errors'
import { RawNode } from '../../../node-core/raft/rawnode'
import { MemoryStorage } from '../../../node-core/raft/storage'
import type {
  ConfChangeType,
  ConfState,
  Message,
  NodeId,
  Ready,
  Snapshot,
} from '../../../node-core/raft/types'
import { RaftdeskError } from '../../../node-core/errors'

// ---------------------------------------------------------------------------------------------
// Script files

export interface Command {
  /** The command line as written. */
  line: string
  name: string
  args: string[]
  kv: Map<string, string>
}

export type Block = { kind: 'text'; text: string } | { kind: 'cmd'; cmd: Command; expected: string }

export function parseCommand(line: string): Command {
  const tokens = line.trim().match(/(?:[^\s(]+=\([^)]*\)|\([^)]*\)|[^\s]+)/g) ?? []
  const [name, ...rest] = tokens
  const args: string[] = []
  const kv = new Map<string, string>()
  for (const t of rest) {
    const eq = t.indexOf('=')
    if (eq > 0 && !t.startsWith('(')) kv.set(t.slice(0, eq), t.slice(eq + 1))
    else args.push(t)
  }
  return { line, name: name ?? '', args, kv }
}

export function parseScript(text: string, file = 'script'): Block[] {
  const lines = text.split('\n')
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()
  const blocks: Block[] = []
  let i = 0
  while (i < lines.length) {
    const line = lines[i]!
    if (line.trim() === '' || line.startsWith('#')) {
      blocks.push({ kind: 'text', text: line })
      i++
      continue
    }
    if (lines[i + 1] !== '----') {
      throw new Error(`${file}:${i + 2}: expected ---- after command "${line}"`)
    }
    i += 2
    const out: string[] = []
    while (i < lines.length && lines[i]!.trim() !== '') out.push(lines[i++]!)
    if (i < lines.length) i++ // the blank line that ends the output
    blocks.push({ kind: 'cmd', cmd: parseCommand(line), expected: out.join('\n') })
  }
  return blocks
}

/** The script with each command's output replaced by `outputs[k]` (k-th command). */
export function renderScript(blocks: Block[], outputs: string[]): string {
  const parts: string[] = []
  let k = 0
  for (let b = 0; b < blocks.length; b++) {
    const block = blocks[b]!
    if (block.kind === 'text') {
      parts.push(block.text)
      continue
    }
    parts.push(block.cmd.line, '----', outputs[k++]!)
    const next = blocks[b + 1]
    // Keep exactly one blank line between a command's output and what follows.
    if (next !== undefined && !(next.kind === 'text' && next.text.trim() === '')) parts.push('')
  }
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop()
  return parts.join('\n') + '\n'
}

// ---------------------------------------------------------------------------------------------
// The environment

const LEVELS = ['debug', 'info', 'warn', 'error', 'none'] as const
type Level = (typeof LEVELS)[number]

const enc = new TextEncoder()
const dec = new TextDecoder()

/** A storage whose snapshot() can be made to fail (the server is producing one). */
class TestStorage extends MemoryStorage {
  snapshotUnavailable = false
  override snapshot(): Snapshot {
    if (this.snapshotUnavailable) throw new SnapshotTemporarilyUnavailableError()
    return super.snapshot()
  }
}

interface AppliedEntry {
  index: number
  data: string
}

interface Node {
  id: NodeId
  rn: RawNode
  storage: TestStorage
  config: Omit<RaftConfig, 'id' | 'storage' | 'prng' | 'logger' | 'applied'>
  seed: number
  /** The state machine: the data of every applied normal entry (and of the snapshot). */
  app: AppliedEntry[]
  /** Membership as of each applied conf change (to snapshot at any applied index). */
  confHistory: { index: number; cs: ConfState }[]
  appliedIndex: number
  /** A Ready taken by `ready` and not yet advanced. */
  pending?: Ready
}

function encodeApp(app: AppliedEntry[]): Uint8Array {
  return enc.encode(JSON.stringify(app))
}

function decodeApp(data: Uint8Array): AppliedEntry[] {
  if (data.byteLength === 0) return []
  return JSON.parse(dec.decode(data)) as AppliedEntry[]
}

function parseIdList(s: string | undefined): NodeId[] {
  if (s === undefined) return []
  const inner = s.replace(/^\(/, '').replace(/\)$/, '').trim()
  if (inner === '') return []
  return inner.split(/[,\s]+/).map((x) => {
    const n = Number(x)
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`bad node id "${x}" in ${s}`)
    return n
  })
}

function intArg(cmd: Command, pos: number): number {
  const s = cmd.args[pos]
  const n = Number(s)
  if (s === undefined || !Number.isSafeInteger(n)) {
    throw new Error(`${cmd.name}: argument ${pos + 1} must be an integer, got ${s}`)
  }
  return n
}

function intKv(cmd: Command, key: string): number | undefined {
  const s = cmd.kv.get(key)
  if (s === undefined) return undefined
  const n = Number(s)
  if (!Number.isSafeInteger(n)) throw new Error(`${cmd.name}: ${key} must be an integer, got ${s}`)
  return n
}

function boolKv(cmd: Command, key: string): boolean | undefined {
  const s = cmd.kv.get(key)
  if (s === undefined) return undefined
  if (s !== 'true' && s !== 'false') throw new Error(`${cmd.name}: ${key} must be true or false`)
  return s === 'true'
}

const CONF_CHANGE_NAMES: Record<string, ConfChangeType> = {
  'add-voter': 'addVoter',
  'add-learner': 'addLearner',
  'promote-learner': 'promoteLearner',
  promote: 'promoteLearner',
  'remove-node': 'removeNode',
  remove: 'removeNode',
}

export class InteractionEnv {
  readonly nodes = new Map<NodeId, Node>()
  /** Messages sent and not yet delivered, in send order. */
  network: Message[] = []
  /** Partition groups; empty means a healed network. */
  private groups: NodeId[][] = []
  private level: Level = 'info'
  private out: string[] = []
  private indent = ''

  /** Runs one command and returns its output ("ok" when it printed nothing). */
  handle(cmd: Command): string {
    this.out = []
    this.indent = ''
    try {
      this.dispatch(cmd)
    } catch (err) {
      if (err instanceof RaftdeskError) this.print(`error: ${err.name} ${err.code}: ${err.message}`)
      else throw err
    }
    return this.out.length === 0 ? 'ok' : this.out.join('\n')
  }

  private print(line: string): void {
    for (const l of line.split('\n')) this.out.push(this.indent + l)
  }

  private loggerFor(): Logger {
    return loggerFrom((level, message) => {
      if (LEVELS.indexOf(level) >= LEVELS.indexOf(this.level)) {
        this.print(`${level.toUpperCase()} ${message}`)
      }
    })
  }

  node(id: NodeId): Node {
    const n = this.nodes.get(id)
    if (n === undefined) throw new Error(`no node ${id}`)
    return n
  }

  private idsOrAll(cmd: Command): NodeId[] {
    const ids = cmd.args.map((_, i) => intArg(cmd, i))
    return ids.length > 0 ? ids : [...this.nodes.keys()]
  }

  private dispatch(cmd: Command): void {
    switch (cmd.name) {
      case 'add-nodes':
        return this.addNodes(cmd)
      case 'campaign':
        return this.node(intArg(cmd, 0)).rn.campaign({ force: cmd.kv.get('force') === 'true' })
      case 'propose':
        return this.node(intArg(cmd, 0)).rn.propose(enc.encode(cmd.args[1] ?? ''))
      case 'propose-batch':
        return this.node(intArg(cmd, 0)).rn.proposeBatch(
          cmd.args.slice(1).map((a) => enc.encode(a)),
        )
      case 'propose-conf-change':
        return this.proposeConfChange(cmd)
      case 'transfer-leadership': {
        const from = intKv(cmd, 'from')
        const to = intKv(cmd, 'to')
        if (from === undefined || to === undefined)
          throw new Error('transfer-leadership from=ID to=ID')
        return this.node(from).rn.transferLeadership(to)
      }
      case 'read-index':
        return this.node(intArg(cmd, 0)).rn.readIndex(enc.encode(cmd.args[1] ?? ''))
      case 'process-ready':
        for (const id of this.idsOrAll(cmd)) this.processReady(id, true)
        return
      case 'ready':
        return this.readyOnly(intArg(cmd, 0))
      case 'advance':
        return this.advancePending(intArg(cmd, 0))
      case 'deliver-msgs':
        return this.deliverCommand(cmd)
      case 'stabilize':
        return this.stabilize(this.idsOrAll(cmd))
      case 'tick':
        return this.tick(intArg(cmd, 0), intArg(cmd, 1))
      case 'tick-election':
        return this.tickElection(intArg(cmd, 0))
      case 'tick-heartbeat':
        return this.tickHeartbeat(intArg(cmd, 0))
      case 'partition':
        this.groups = cmd.args.map((a) => parseIdList(a))
        return
      case 'heal':
        this.groups = []
        return
      case 'compact':
        return this.compact(intArg(cmd, 0), intArg(cmd, 1))
      case 'snapshot': {
        const n = this.node(intArg(cmd, 0))
        const snap = this.createSnapshot(n, n.appliedIndex)
        this.print(describeSnapshot(snap))
        return
      }
      case 'snapshot-unavailable':
        this.node(intArg(cmd, 0)).storage.snapshotUnavailable = cmd.args[1] === 'true'
        return
      case 'report-unreachable':
        return this.node(intArg(cmd, 0)).rn.reportUnreachable(intArg(cmd, 1))
      case 'report-snapshot': {
        const status = cmd.args[2]
        if (status !== 'finish' && status !== 'failure') throw new Error('finish or failure')
        return this.node(intArg(cmd, 0)).rn.reportSnapshot(intArg(cmd, 1), status)
      }
      case 'restart':
        return this.restart(intArg(cmd, 0))
      case 'status':
        return this.printStatus(intArg(cmd, 0))
      case 'raft-log':
        return this.printLog(intArg(cmd, 0))
      case 'raft-state':
        return this.printState()
      case 'app-state': {
        const n = this.node(intArg(cmd, 0))
        this.print(
          `applied=${n.appliedIndex} [${n.app.map((a) => `${a.index}:${a.data}`).join(' ')}]`,
        )
        return
      }
      case 'log-level': {
        const level = cmd.args[0] as Level
        if (!LEVELS.includes(level)) throw new Error(`unknown log level ${cmd.args[0]}`)
        this.level = level
        return
      }
      default:
        throw new Error(`unknown command ${cmd.name}`)
    }
  }

  // -------------------------------------------------------------------------------------------

  private addNodes(cmd: Command): void {
    const count = intArg(cmd, 0)
    const first = this.nodes.size + 1
    const newIds = Array.from({ length: count }, (_, i) => first + i)
    let voters = parseIdList(cmd.kv.get('voters'))
    const learners = parseIdList(cmd.kv.get('learners'))
    if (!cmd.kv.has('voters') && !cmd.kv.has('learners')) voters = newIds
    const index = intKv(cmd, 'index') ?? 0
    const content = cmd.kv.get('content')
    const election = cmd.kv.get('election')?.split('-').map(Number)
    const config: Node['config'] = {
      preVote: boolKv(cmd, 'prevote'),
      checkQuorum: boolKv(cmd, 'checkquorum'),
      maxInflightMsgs: intKv(cmd, 'max-inflight'),
      maxSizePerMsgBytes: intKv(cmd, 'max-size-per-msg'),
      maxUncommittedEntriesBytes: intKv(cmd, 'max-uncommitted-size'),
      maxProposalBytes: intKv(cmd, 'max-proposal-size'),
      maxCommittedSizePerReadyBytes: intKv(cmd, 'max-committed-size-per-ready'),
      maxPendingReadRequests: intKv(cmd, 'max-pending-reads'),
      electionTicksMin: election?.[0],
      electionTicksMax: election?.[1],
      heartbeatTicks: intKv(cmd, 'heartbeat'),
    }
    const seed = intKv(cmd, 'seed') ?? 1
    for (const id of newIds) {
      const confState = { voters, learners }
      const storage = new TestStorage({ confState })
      let app: AppliedEntry[] = []
      if (index > 0) {
        app = content !== undefined ? [{ index, data: content }] : []
        storage.applySnapshot({
          metadata: { index, term: 1, confState },
          data: encodeApp(app),
        })
        storage.setHardState({ term: 1, vote: 0, commit: index })
      }
      const node: Node = {
        id,
        rn: undefined as unknown as RawNode,
        storage,
        config,
        seed,
        app,
        confHistory: [{ index, cs: confState }],
        appliedIndex: index,
      }
      node.rn = this.newRawNode(node)
      this.nodes.set(id, node)
    }
  }

  private newRawNode(node: Node): RawNode {
    const defined = Object.fromEntries(
      Object.entries(node.config).filter(([, v]) => v !== undefined),
    ) as Node['config']
    return new RawNode({
      ...defined,
      id: node.id,
      storage: node.storage,
      prng: createPrng(node.seed * 1000 + node.id),
      applied: node.appliedIndex,
      logger: this.loggerFor(),
    })
  }

  private proposeConfChange(cmd: Command): void {
    const type = CONF_CHANGE_NAMES[cmd.args[1] ?? '']
    if (type === undefined) {
      throw new Error(`propose-conf-change ID (${Object.keys(CONF_CHANGE_NAMES).join('|')}) NODE`)
    }
    const ctx = cmd.kv.get('ctx') ?? ''
    this.node(intArg(cmd, 0)).rn.proposeConfChange({
      type,
      nodeId: intArg(cmd, 2),
      context: enc.encode(ctx),
    })
  }

  /** Handles one Ready of node `id` the way a server does. Returns whether there was one. */
  processReady(id: NodeId, header: boolean): boolean {
    const n = this.node(id)
    if (n.pending !== undefined || !n.rn.hasReady()) return false
    if (header) {
      this.indent = ''
      this.print(`> ${id} handling Ready`)
      this.indent = '  '
    }
    const rd = n.rn.ready()
    this.print(describeReady(rd))
    for (const m of rd.messages) this.network.push(m)
    this.finishReady(n, rd)
    this.indent = ''
    return true
  }

  /**
   * A leader's overlap of sending and persisting: take the Ready and send its messages now,
   * persist / apply / advance later (advance ID).
   */
  private readyOnly(id: NodeId): void {
    const n = this.node(id)
    if (n.pending !== undefined) throw new Error(`node ${id} has a Ready outstanding already`)
    if (!n.rn.hasReady()) return
    const rd = n.rn.ready()
    this.print(describeReady(rd))
    for (const m of rd.messages) this.network.push(m)
    n.pending = rd
  }

  private advancePending(id: NodeId): void {
    const n = this.node(id)
    const rd = n.pending
    if (rd === undefined) throw new Error(`node ${id} has no Ready outstanding`)
    n.pending = undefined
    this.finishReady(n, rd)
  }

  /** Persist, apply and advance (the messages are sent already). */
  private finishReady(n: Node, rd: Ready): void {
    // 1. persist
    if (rd.snapshot !== undefined) n.storage.applySnapshot(rd.snapshot)
    n.storage.append(rd.entries)
    if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState)
    // 2. (sent by the caller) 3. apply
    if (rd.snapshot !== undefined) {
      n.app = decodeApp(rd.snapshot.data)
      n.appliedIndex = rd.snapshot.metadata.index
      n.confHistory = [{ index: n.appliedIndex, cs: rd.snapshot.metadata.confState }]
    }
    for (const e of rd.committedEntries) {
      if (e.type === 'confChange') {
        const cs = n.rn.applyConfChange(decodeConfChange(e.data))
        n.confHistory.push({ index: e.index, cs })
      } else if (e.data.byteLength > 0) {
        n.app.push({ index: e.index, data: dec.decode(e.data) })
      }
      n.appliedIndex = e.index
    }
    // 4. advance
    n.rn.advance(rd)
  }

  private connected(from: NodeId, to: NodeId): boolean {
    if (this.groups.length === 0) return true
    const groupOf = (id: NodeId) => this.groups.findIndex((g) => g.includes(id))
    return groupOf(from) === groupOf(to)
  }

  private deliverCommand(cmd: Command): void {
    const ids = new Set(cmd.args.map((_, i) => intArg(cmd, i)))
    const drop = new Set(parseIdList(cmd.kv.get('drop')))
    const type = cmd.kv.get('type')
    const keep: Message[] = []
    const deliver: Message[] = []
    for (const m of this.network) {
      if (type !== undefined && m.type !== type) keep.push(m)
      else if (drop.has(m.to)) this.print(`dropped: ${describeMessage(m)}`)
      else if (drop.size > 0 && ids.size === 0) keep.push(m)
      else if (ids.size === 0 || ids.has(m.to)) deliver.push(m)
      else keep.push(m)
    }
    this.network = keep
    this.deliver(deliver, false)
  }

  /** Steps `msgs` into their recipients, in order. Returns whether any was delivered. */
  private deliver(msgs: Message[], grouped: boolean): boolean {
    let current: NodeId = 0
    for (const m of msgs) {
      if (grouped && m.to !== current) {
        current = m.to
        this.indent = ''
        this.print(`> ${m.to} receiving messages`)
        this.indent = '  '
      }
      if (!this.nodes.has(m.to) || !this.connected(m.from, m.to)) {
        this.print(`dropped: ${describeMessage(m)}`)
        continue
      }
      this.print(describeMessage(m))
      try {
        this.node(m.to).rn.step(m)
      } catch (err) {
        if (!(err instanceof RaftdeskError)) throw err
        this.print(`error: ${err.name} ${err.code}: ${err.message}`)
      }
    }
    this.indent = ''
    return msgs.length > 0
  }

  private stabilize(ids: NodeId[]): void {
    const set = new Set(ids)
    for (let round = 0; ; round++) {
      if (round > 1000) throw new Error('stabilize: no quiescence after 1000 rounds')
      let moved = false
      for (const id of ids) moved = this.processReady(id, true) || moved
      const deliver: Message[] = []
      const keep: Message[] = []
      for (const m of this.network) (set.has(m.to) ? deliver : keep).push(m)
      this.network = keep
      // Group by recipient (stable), so that the trace reads node by node.
      deliver.sort((a, b) =>
        set.has(a.to) && set.has(b.to) ? ids.indexOf(a.to) - ids.indexOf(b.to) : 0,
      )
      moved = this.deliver(deliver, true) || moved
      if (!moved) return
    }
  }

  private tick(id: NodeId, count: number): void {
    const rn = this.node(id).rn
    for (let i = 0; i < count; i++) rn.tick()
  }

  /** Ticks until the node's election timer fires (a leader: its check-quorum round). */
  private tickElection(id: NodeId): void {
    const st = this.node(id).rn.status()
    const remaining = (st.electionTimeoutTicks ?? 0) - (st.electionElapsedTicks ?? 0)
    this.tick(id, Math.max(1, remaining))
  }

  /** Ticks until a leader's heartbeat fires (a follower: heartbeatTicks ticks). */
  private tickHeartbeat(id: NodeId): void {
    const raft = this.node(id).rn.internalRaftForTest
    const heartbeatTicks = this.node(id).config.heartbeatTicks ?? 5
    const remaining =
      raft.role === 'leader' ? heartbeatTicks - raft.heartbeatElapsed : heartbeatTicks
    this.tick(id, Math.max(1, remaining))
  }

  private createSnapshot(n: Node, index: number): Snapshot {
    if (index > n.appliedIndex) {
      throw new Error(`cannot snapshot node ${n.id} at ${index}: applied is ${n.appliedIndex}`)
    }
    const app = n.app.filter((a) => a.index <= index)
    let cs = n.confHistory[0]!.cs
    for (const h of n.confHistory) if (h.index <= index) cs = h.cs
    return n.storage.createSnapshot(index, cs, encodeApp(app))
  }

  private compact(id: NodeId, index: number): void {
    const n = this.node(id)
    if (n.storage.snapshot().metadata.index < index) this.createSnapshot(n, index)
    n.storage.compact(index)
    this.printLog(id)
  }

  private restart(id: NodeId): void {
    const n = this.node(id)
    // The state machine restarts from the snapshot; raft replays committed entries after it.
    const snap = n.storage.snapshot()
    n.app = decodeApp(snap.data)
    n.appliedIndex = snap.metadata.index
    n.confHistory = [{ index: n.appliedIndex, cs: snap.metadata.confState }]
    n.pending = undefined
    n.rn = this.newRawNode(n)
  }

  private printStatus(id: NodeId): void {
    const st = this.node(id).rn.status()
    this.print(
      `${st.id} ${st.role} term=${st.term} vote=${st.vote} lead=${st.lead} commit=${st.commit} applied=${st.applied} first=${st.firstIndex} stable=${st.stableIndex} last=${st.lastIndex}`,
    )
    this.print(
      `voters=(${st.confState.voters.join(' ')}) learners=(${st.confState.learners.join(' ')}) election-timer=${st.electionElapsedTicks}/${st.electionTimeoutTicks}`,
    )
    if (st.leadTransferee !== 0) this.print(`leadTransferee=${st.leadTransferee}`)
    for (const [pid, pr] of Object.entries(st.progress)) {
      let s = `${pid}: ${pr.state} match=${pr.match} next=${pr.next}`
      if (pr.isLearner) s += ' learner'
      if (pr.inflight > 0) s += ` inflight=${pr.inflight}`
      if (pr.pendingSnapshot > 0) s += ` pendingSnap=${pr.pendingSnapshot}`
      if (!pr.recentActive) s += ' inactive'
      this.print(s)
    }
  }

  private printLog(id: NodeId): void {
    const n = this.node(id)
    const st = n.rn.status()
    const entries = n.rn.logEntries()
    if (entries.length === 0) {
      this.print(`log is empty: first index=${st.firstIndex}, last index=${st.lastIndex}`)
      return
    }
    for (const e of entries) {
      const tags: string[] = []
      if (e.index > st.stableIndex) tags.push('unstable')
      else if (e.index > st.commit) tags.push('uncommitted')
      else if (e.index > st.applied) tags.push('committed')
      this.print(describeEntry(e) + (tags.length > 0 ? ` (${tags.join(' ')})` : ''))
    }
  }

  private printState(): void {
    for (const n of this.nodes.values()) {
      const st = n.rn.status()
      const kind = st.confState.voters.includes(n.id)
        ? 'voter'
        : st.confState.learners.includes(n.id)
          ? 'learner'
          : 'non-member'
      this.print(
        `${n.id}: ${st.role} (${kind}) term=${st.term} lead=${st.lead} commit=${st.commit}`,
      )
    }
  }
}

/** Runs a script and returns it with every command's actual output. */
export function runScript(text: string, file = 'script'): { actual: string; expected: string } {
  const blocks = parseScript(text, file)
  const env = new InteractionEnv()
  const outputs: string[] = []
  for (const b of blocks) {
    if (b.kind !== 'cmd') continue
    try {
      outputs.push(env.handle(b.cmd))
    } catch (err) {
      throw new Error(`${file}: command "${b.cmd.line}" failed: ${String(err)}`, { cause: err })
    }
  }
  return { actual: renderScript(blocks, outputs), expected: text }
}
