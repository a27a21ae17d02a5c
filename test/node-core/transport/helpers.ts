/**
 * Test helpers for the transport: seeded random messages, a logger that records what it is told,
 * polling until a condition holds, and a free-port-free way to build TCP transports.
 */
import type { Prng } from '../../../node-core/raft/prng'
import {
  message,
  type Entry,
  type Message,
  type MessageType,
  type Snapshot,
} from '../../../node-core/raft/types'
import { MESSAGE_TYPE_CODES } from '../../../node-core/transport/codec'
import {
  TcpTransport,
  type TcpLimits,
  type TcpTransportOptions,
} from '../../../node-core/transport/tcp'
import type { Logger, PeerStats } from '../../../node-core/transport/types'
import { loggerFrom } from '../../../node-core/kernel/logger'

export const ALL_MESSAGE_TYPES = Object.keys(MESSAGE_TYPE_CODES) as MessageType[]

/** The seed of a randomised test: SEED from the environment, or a fresh one (printed). */
export function testSeed(name: string): number {
  const env = process.env.SEED
  const seed = env !== undefined ? Number(env) : Math.floor(Math.random() * 0x1_0000_0000)
  console.log(`${name}: seed ${seed} (reproduce with SEED=${seed})`)
  return seed
}

function bytes(p: Prng, max: number): Uint8Array {
  const n = p.chance(0.2) ? 0 : p.int(0, max + 1)
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = p.int(0, 256)
  return b
}

/** A number spread over every varint width, up to 2^53 - 1. */
function num(p: Prng): number {
  switch (p.int(0, 4)) {
    case 0:
      return 0
    case 1:
      return p.int(0, 200)
    case 2:
      return p.nextUint32()
    default:
      return p.int(0, 0x20_0000) * 0x1_0000_0000 + p.nextUint32()
  }
}

function ids(p: Prng): number[] {
  return Array.from({ length: p.int(0, 6) }, () => p.int(1, 1000))
}

export function randomEntry(p: Prng): Entry {
  return {
    term: num(p),
    index: num(p),
    type: p.chance(0.8) ? 'normal' : 'confChange',
    data: bytes(p, 300),
  }
}

export function randomSnapshot(p: Prng): Snapshot {
  return {
    metadata: { index: num(p), term: num(p), confState: { voters: ids(p), learners: ids(p) } },
    data: bytes(p, 2000),
  }
}

export function randomMessage(p: Prng, type?: MessageType): Message {
  const t = type ?? ALL_MESSAGE_TYPES[p.int(0, ALL_MESSAGE_TYPES.length)]!
  const m = message({
    type: t,
    from: num(p),
    to: num(p),
    term: num(p),
    logTerm: num(p),
    index: num(p),
    commit: num(p),
    reject: p.chance(0.5),
    rejectHint: num(p),
    entries: Array.from({ length: p.chance(0.5) ? 0 : p.int(1, 20) }, () => randomEntry(p)),
  })
  if (t === 'MsgSnap') m.snapshot = randomSnapshot(p)
  if (p.chance(0.3)) m.context = bytes(p, 64)
  return m
}

/** A MsgApp of `count` entries of `dataBytes` bytes each (the benchmark's shape). */
export function msgApp(from: number, to: number, count: number, dataBytes: number): Message {
  const entries: Entry[] = []
  for (let i = 0; i < count; i++) {
    const data = new Uint8Array(dataBytes)
    for (let j = 0; j < dataBytes; j++) data[j] = (i * 31 + j) & 0xff
    entries.push({ term: 7, index: 1000 + i, type: 'normal', data })
  }
  return message({
    type: 'MsgApp',
    from,
    to,
    term: 7,
    logTerm: 7,
    index: 999,
    commit: 990,
    entries,
  })
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error'
  msg: string
  fields: Record<string, unknown>
}

export class RecordingLogger implements Logger {
  readonly lines: LogLine[] = []
  constructor(private readonly echo = process.env.TRANSPORT_LOG === '1') {}
  private add(level: LogLine['level'], msg: string, fields: Record<string, unknown> = {}): void {
    this.lines.push({ level, msg, fields })
    if (this.echo) console.log(level, msg, fields)
  }
  debug(msg: string, fields?: Record<string, unknown>): void {
    this.add('debug', msg, fields)
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.add('info', msg, fields)
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.add('warn', msg, fields)
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.add('error', msg, fields)
  }
  /** Children record into the same lines, their messages prefixed. */
  child(prefix: string): Logger {
    return loggerFrom((level, msg, fields) => this.add(level, `${prefix}: ${msg}`, fields))
  }
  find(pred: (l: LogLine) => boolean): LogLine | undefined {
    return this.lines.find(pred)
  }
  withCode(code: string): LogLine[] {
    return this.lines.filter((l) => l.fields.code === code)
  }
}

/** Polls until cond() is true (every few ms), failing with `what` after timeoutMs. */
export async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/** One TCP transport under test, with what it received and reported. */
export interface TcpNode {
  id: number
  t: TcpTransport
  log: RecordingLogger
  received: Message[]
  unreachable: number[]
}

export const FAST_LIMITS: Partial<TcpLimits> = {
  backoffBaseMs: 20,
  backoffMaxMs: 100,
  handshakeTimeoutMs: 1000,
}

export async function startTcpNode(
  id: number,
  options: Partial<TcpTransportOptions> = {},
  nodes?: TcpNode[],
): Promise<TcpNode> {
  const log = new RecordingLogger()
  const t = new TcpTransport({
    id,
    clusterId: 'cluster-a',
    token: 'secret-token',
    logger: log,
    ...options,
    limits: { ...FAST_LIMITS, ...options.limits },
  })
  const node: TcpNode = { id, t, log, received: [], unreachable: [] }
  t.onMessage((m) => node.received.push(m))
  t.onUnreachable((peer) => node.unreachable.push(peer))
  await t.start()
  nodes?.push(node)
  return node
}

/** Makes every node a peer of every other. */
export function meshPeers(nodes: TcpNode[]): void {
  for (const a of nodes) {
    for (const b of nodes) if (a !== b) a.t.addPeer(b.id, b.t.address())
  }
}

export function peerStats(node: TcpNode, peer: number): PeerStats {
  const s = node.t.stats().peers.find((p) => p.id === peer)
  if (!s) throw new Error(`node ${node.id} has no peer ${peer}`)
  return s
}

export async function waitConnected(node: TcpNode, peer: number): Promise<void> {
  await waitFor(`link ${node.id}->${peer}`, () => peerStats(node, peer).connected)
}

export async function stopAll(nodes: TcpNode[]): Promise<void> {
  await Promise.all(nodes.splice(0).map((n) => n.t.stop()))
}

export function hb(from: number, to: number, term: number): Message {
  return message({ type: 'MsgHeartbeat', from, to, term, commit: term })
}
