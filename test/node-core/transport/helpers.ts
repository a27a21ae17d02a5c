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
import type { Logger } from '../../../node-core/transport/types'

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
  level: 'info' | 'warn' | 'error'
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
  info(msg: string, fields?: Record<string, unknown>): void {
    this.add('info', msg, fields)
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.add('warn', msg, fields)
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.add('error', msg, fields)
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
