/**
 * Bad input on the peer port: every case is refused or closed with a clear, logged error, and
 * the transport stays up and keeps talking to its good peers.
 */
import { connect, type Socket } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createPrng } from '../../../node-core/raft/prng'
import { encodeMessage } from '../../../node-core/transport/codec'
import type { RefusalReason } from '../../../node-core/transport/errors'
import {
  decodeRefuse,
  encodeFrame,
  encodeHello,
  FrameKind,
  FrameReader,
  type Frame,
  type Hello,
} from '../../../node-core/transport/protocol'
import {
  hb,
  meshPeers,
  peerStats,
  startTcpNode,
  stopAll,
  testSeed,
  waitConnected,
  waitFor,
  type TcpNode,
} from './helpers'

const nodes: TcpNode[] = []
let a: TcpNode
let b: TcpNode

beforeEach(async () => {
  a = await startTcpNode(1, {}, nodes)
  b = await startTcpNode(2, { limits: { handshakeTimeoutMs: 300 } }, nodes)
  meshPeers([a, b])
  // Member 3 is a known peer of b (nothing listens for it): the raw clients below claim to be it.
  b.t.addPeer(3, '127.0.0.1:9')
  await waitConnected(a, 2)
})
afterEach(() => stopAll(nodes))

interface Raw {
  sock: Socket
  frames: Frame[]
  closed: Promise<void>
}

async function raw(address: string): Promise<Raw> {
  const [host, port] = address.split(':')
  const sock = connect(Number(port), host!)
  const reader = new FrameReader(1 << 20)
  const frames: Frame[] = []
  sock.on('data', (c) => frames.push(...reader.push(c)))
  sock.on('error', () => {})
  const closed = new Promise<void>((r) => sock.on('close', () => r()))
  await new Promise<void>((r) => sock.on('connect', () => r()))
  return { sock, frames, closed }
}

const goodHello: Hello = {
  purpose: 'messages',
  from: 3,
  to: 2,
  clusterId: 'cluster-a',
  token: 'secret-token',
}

/** Sends `bytes`, waits for the server to close, returns the refusal reason it gave (if any). */
async function refusedWith(bytes: Uint8Array | undefined): Promise<RefusalReason | undefined> {
  const r = await raw(b.t.address())
  if (bytes) r.sock.write(bytes)
  await r.closed
  const refuse = r.frames.find((f) => f.kind === FrameKind.Refuse)
  return refuse ? decodeRefuse(refuse.payload).reason : undefined
}

/** b's log line for the refusal with this reason. */
function refusalLogged(reason: RefusalReason) {
  return b.log.find((l) => l.msg === 'peer connection refused' && l.fields.reason === reason)
}

/** Connects as member 3 with a good handshake and returns the accepted raw connection. */
async function acceptedAs3(): Promise<Raw> {
  const r = await raw(b.t.address())
  r.sock.write(encodeHello(goodHello))
  await waitFor('ACCEPT', () => r.frames.some((f) => f.kind === FrameKind.Accept))
  return r
}

async function stillTalking(): Promise<void> {
  const before = b.received.length
  a.t.send([hb(1, 2, 77)])
  b.t.send([hb(2, 1, 78)])
  await waitFor(
    'good peers still talking',
    () => b.received.length === before + 1 && a.received.some((m) => m.term === 78),
  )
  expect(peerStats(a, 2).connects).toBe(1) // the good link was never disturbed
}

describe('TcpTransport: bad input on the peer port', () => {
  it('closes on garbage bytes (frame too large before the handshake, or not a handshake)', async () => {
    expect(
      await refusedWith(new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n')),
    ).toBeUndefined()
    const tooLarge = b.log.withCode('TRANSPORT_FRAME_TOO_LARGE')
    expect(tooLarge).toHaveLength(1)
    expect(tooLarge[0]!.fields.message).toMatch(/exceeds 1024/)

    const seed = testSeed('garbage after a small length')
    const p = createPrng(seed)
    const junk = new Uint8Array(24)
    junk.set([0, 0, 0, 20, 0x77])
    for (let i = 5; i < 24; i++) junk[i] = p.int(0, 256)
    expect(await refusedWith(junk)).toBe('malformed')
    expect(refusalLogged('malformed')!.fields.message).toMatch(/kind 119, not HELLO/)

    // A HELLO frame whose payload is garbage.
    expect(await refusedWith(encodeFrame(FrameKind.Hello, new Uint8Array([1, 2, 3, 4, 5])))).toBe(
      'malformed',
    )
    expect(b.log.find((l) => /bad magic/.test(String(l.fields.message)))).toBeDefined()
    await stillTalking()
    expect(b.t.stats().refusedConnections).toBe(3)
  })

  it('refuses a wrong cluster id, token, target member, unknown sender and protocol version', async () => {
    expect(await refusedWith(encodeHello({ ...goodHello, clusterId: 'cluster-b' }))).toBe(
      'cluster-id',
    )
    expect(refusalLogged('cluster-id')!.fields).toMatchObject({
      code: 'TRANSPORT_HANDSHAKE_REFUSED',
      claimedPeer: 3,
    })
    expect(await refusedWith(encodeHello({ ...goodHello, token: 'guess' }))).toBe('token')
    expect(refusalLogged('token')!.fields.message).toMatch(/wrong cluster token/)
    expect(await refusedWith(encodeHello({ ...goodHello, to: 7 }))).toBe('target')
    expect(refusalLogged('target')!.fields.message).toMatch(/dialled member 7, this is member 2/)
    expect(await refusedWith(encodeHello({ ...goodHello, from: 42 }))).toBe('unknown-sender')
    expect(await refusedWith(encodeHello(goodHello, 2))).toBe('version')
    expect(refusalLogged('version')!.fields.message).toMatch(/version 2/)
    await stillTalking()
    expect(b.t.stats().refusedConnections).toBe(5)
  })

  it('refuses a handshake that never completes, after the timeout', async () => {
    expect(await refusedWith(undefined)).toBe('timeout')
    expect(await refusedWith(new Uint8Array([0, 0, 0]))).toBe('timeout') // a partial header
    expect(refusalLogged('timeout')!.fields.message).toMatch(/no handshake within 300 ms/)
    await stillTalking()
  })

  it('closes an accepted connection on an oversized frame, a corrupt message or a spoofed sender', async () => {
    let r = await acceptedAs3()
    r.sock.write(new Uint8Array([0x7f, 0xff, 0xff, 0xff]))
    await r.closed
    expect(b.log.withCode('TRANSPORT_FRAME_TOO_LARGE')[0]!.fields).toMatchObject({
      peer: 3,
      during: 'messages',
    })

    r = await acceptedAs3()
    const good = encodeMessage(hb(3, 2, 5))
    r.sock.write(encodeFrame(FrameKind.Message, good))
    const bad = good.slice()
    bad[3] = bad[3]! ^ 0x40
    r.sock.write(encodeFrame(FrameKind.Message, bad))
    await r.closed
    expect(b.received.filter((m) => m.from === 3).map((m) => m.term)).toEqual([5]) // the good one only
    expect(b.log.withCode('TRANSPORT_CODEC')[0]!.fields.message).toMatch(/checksum mismatch/)

    r = await acceptedAs3()
    r.sock.write(encodeFrame(FrameKind.Message, encodeMessage(hb(1, 2, 6)))) // claims to be from 1
    await r.closed
    expect(b.log.withCode('TRANSPORT_PROTOCOL')[0]!.fields.message).toMatch(
      /on the connection from member 3/,
    )
    expect(peerStats(b, 3).lastError?.code).toBe('TRANSPORT_PROTOCOL')
    await stillTalking()
  })

  it('logs and backs off when its own handshake is refused', async () => {
    const c = await startTcpNode(3, { token: 'not-the-token' }, nodes)
    c.t.addPeer(2, b.t.address())
    await waitFor('refusal seen by the dialler', () =>
      c.log.lines.some((l) => l.msg === 'peer refused our handshake'),
    )
    const line = c.log.find((l) => l.msg === 'peer refused our handshake')!
    expect(line.level).toBe('error')
    expect(line.fields).toMatchObject({
      code: 'TRANSPORT_HANDSHAKE_REFUSED',
      reason: 'token',
      peer: 2,
    })
    expect(peerStats(c, 2).lastError?.message).toMatch(/handshake refused \(token\)/)
    expect(peerStats(c, 2).connected).toBe(false)
    await stillTalking()
  })
})
