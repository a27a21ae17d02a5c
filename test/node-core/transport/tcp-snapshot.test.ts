import { crc32c } from '@node-rs/crc32'
import { afterEach, describe, expect, it } from 'vitest'
import { message, type Message } from '../../../node-core/raft/types'
import { SnapshotTransferError } from '../../../node-core/transport/errors'
import {
  hb,
  meshPeers,
  peerStats,
  sleep,
  startTcpNode,
  stopAll,
  waitConnected,
  type TcpNode,
} from './helpers'

const nodes: TcpNode[] = []
afterEach(() => stopAll(nodes))

const CHUNK = 64 * 1024
const WINDOW = 256 * 1024
const PIECE = 100 * 1024 // the image's own pieces: not aligned with the transport's chunks

function msgSnap(from: number, to: number): Message {
  return message({
    type: 'MsgSnap',
    from,
    to,
    term: 4,
    snapshot: {
      metadata: { index: 1234, term: 3, confState: { voters: [1, 2, 3], learners: [] } },
      data: new Uint8Array([1, 2, 3]),
    },
  })
}

/** A lazily produced image of `pieces` pieces of PIECE bytes, counting what it has produced. */
function image(pieces: number, counter: { produced: number; crc: number }) {
  return async function* () {
    for (let i = 0; i < pieces; i++) {
      const piece = new Uint8Array(PIECE)
      for (let j = 0; j < PIECE; j += 97) piece[j] = (i * 31 + j) & 0xff
      counter.crc = crc32c(piece, counter.crc)
      counter.produced += PIECE
      yield piece
    }
  }
}

async function pair(): Promise<[TcpNode, TcpNode]> {
  const limits = { snapshotChunkBytes: CHUNK, snapshotWindowBytes: WINDOW }
  const a = await startTcpNode(1, { limits }, nodes)
  const b = await startTcpNode(2, { limits }, nodes)
  meshPeers([a, b])
  await waitConnected(a, 2)
  return [a, b]
}

describe('TcpTransport: snapshot streaming', () => {
  it('streams a multi-MiB image in chunks, never more than a window ahead of the consumer', async () => {
    const [a, b] = await pair()
    const pieces = 84 // 8.2 MiB
    const sent = { produced: 0, crc: 0 }
    let consumed = 0
    let maxLeadBytes = 0
    let crc = 0
    let chunks = 0
    let saved = false
    let got: Message | undefined
    b.t.onSnapshot(async (msg, img) => {
      got = msg
      for await (const chunk of img) {
        expect(chunk.byteLength).toBeLessThanOrEqual(CHUNK)
        consumed += chunk.byteLength
        maxLeadBytes = Math.max(maxLeadBytes, sent.produced - consumed)
        crc = crc32c(chunk, crc)
        if (++chunks % 8 === 0) await sleep(1) // a slow disk
      }
      saved = true
    })
    const snap = msgSnap(1, 2)
    const done = a.t.sendSnapshot(2, snap, image(pieces, sent)).then(() => saved)
    // Messages keep flowing on their own connection meanwhile.
    a.t.send([hb(1, 2, 9)])
    expect(await done).toBe(true) // resolved only once the receiver had saved it all
    expect(got).toEqual(snap)
    expect(consumed).toBe(pieces * PIECE)
    expect(crc).toBe(sent.crc)
    expect(chunks).toBeGreaterThanOrEqual(Math.ceil((pieces * PIECE) / CHUNK))
    // Credit-based flow control: the producer ran at most a window (plus the piece in hand)
    // ahead of the consumer, for an image 30 times the window.
    expect(maxLeadBytes).toBeLessThanOrEqual(WINDOW + PIECE)
    expect(b.received.map((m) => m.term)).toEqual([9])
    expect(peerStats(a, 2)).toMatchObject({ snapshotsSent: 1, snapshotsFailed: 0 })
    expect(peerStats(b, 1).snapshotsReceived).toBe(1)
  })

  it('rejects the send when the receiver fails, and stops pulling the image', async () => {
    const [a, b] = await pair()
    b.t.onSnapshot(async (_msg, img) => {
      let n = 0
      for await (const _chunk of img) {
        if (++n === 2) throw new Error('disk full')
      }
    })
    const sent = { produced: 0, crc: 0 }
    const err = await a.t.sendSnapshot(2, msgSnap(1, 2), image(200, sent)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SnapshotTransferError)
    expect((err as Error).message).toMatch(/member 2 failed to save the snapshot: disk full/)
    expect(sent.produced).toBeLessThan(200 * PIECE)
    expect(peerStats(a, 2).snapshotsFailed).toBe(1)
    expect(peerStats(a, 2).lastError?.code).toBe('TRANSPORT_SNAPSHOT_FAILED')
    expect(b.log.withCode('TRANSPORT_SNAPSHOT_FAILED')[0]!.fields.detail).toBe('disk full')
  })

  it('fails a transfer whose handler returns before the end, or that has no handler', async () => {
    const [a, b] = await pair()
    await expect(
      a.t.sendSnapshot(2, msgSnap(1, 2), image(2, { produced: 0, crc: 0 })),
    ).rejects.toThrow(/has no snapshot handler/)
    b.t.onSnapshot(async () => {})
    await expect(
      a.t.sendSnapshot(2, msgSnap(1, 2), image(20, { produced: 0, crc: 0 })),
    ).rejects.toThrow(/returned after reading 0 bytes, before the image ended/)
  })

  it('breaks the receiver iteration when the sender image fails midway', async () => {
    const [a, b] = await pair()
    let seen: unknown
    b.t.onSnapshot(async (_msg, img) => {
      try {
        for await (const _chunk of img) {
          // consume
        }
      } catch (err) {
        seen = err
        throw err
      }
    })
    async function* broken() {
      yield new Uint8Array(CHUNK)
      yield new Uint8Array(CHUNK)
      throw new Error('snap file unreadable')
    }
    await expect(a.t.sendSnapshot(2, msgSnap(1, 2), broken)).rejects.toThrow(/snap file unreadable/)
    await expect.poll(() => seen).toBeInstanceOf(SnapshotTransferError)
    expect((seen as Error).message).toMatch(/closed|broke/)
  })

  it('allows one snapshot at a time per peer', async () => {
    const [a, b] = await pair()
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => (release = r))
    b.t.onSnapshot(async (_msg, img) => {
      await gate
      for await (const _chunk of img) {
        // consume
      }
    })
    const first = a.t.sendSnapshot(2, msgSnap(1, 2), image(4, { produced: 0, crc: 0 }))
    await expect(
      a.t.sendSnapshot(2, msgSnap(1, 2), image(1, { produced: 0, crc: 0 })),
    ).rejects.toThrow(/already under way/)
    release()
    await first
    expect(peerStats(a, 2)).toMatchObject({ snapshotsSent: 1, snapshotsFailed: 1 })
  })
})

describe('TcpTransport: snapshot limits and faults', () => {
  it('refuses a snapshot beyond the inbound stream limit (busy)', async () => {
    const limits = { snapshotChunkBytes: CHUNK, snapshotWindowBytes: WINDOW }
    const a = await startTcpNode(1, { limits }, nodes)
    const b = await startTcpNode(2, { limits: { ...limits, snapshotsInboundMax: 1 } }, nodes)
    const c = await startTcpNode(3, { limits }, nodes)
    meshPeers([a, b, c])
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => (release = r))
    let started = 0
    b.t.onSnapshot(async (_m, img) => {
      started++
      await gate
      for await (const _chunk of img) {
        // consume
      }
    })
    const first = a.t.sendSnapshot(2, msgSnap(1, 2), image(2, { produced: 0, crc: 0 }))
    await expect.poll(() => started).toBe(1)
    await expect(
      c.t.sendSnapshot(2, msgSnap(3, 2), image(2, { produced: 0, crc: 0 })),
    ).rejects.toThrow(/handshake refused \(busy\)/)
    release()
    await first
    expect(b.log.find((l) => l.fields.reason === 'busy')).toBeDefined()
  })

  it('fails a snapshot on a cut link, and fails both ends when the sender stops midway', async () => {
    const [a, b] = await pair()
    a.t.setLinkFault(2, { drop: true }, 'send')
    await expect(
      a.t.sendSnapshot(2, msgSnap(1, 2), image(1, { produced: 0, crc: 0 })),
    ).rejects.toThrow(/dropped by an injected link fault/)
    a.t.healLink()

    let seen: unknown
    let chunks = 0
    b.t.onSnapshot(async (_m, img) => {
      try {
        for await (const _chunk of img) chunks++
      } catch (err) {
        seen = err
        throw err
      }
    })
    const sending = a.t.sendSnapshot(2, msgSnap(1, 2), image(1000, { produced: 0, crc: 0 }))
    await expect.poll(() => chunks).toBeGreaterThan(3)
    await a.t.stop()
    await expect(sending).rejects.toThrow(/transport is stopped/)
    await expect.poll(() => seen).toBeInstanceOf(SnapshotTransferError)
  })
})
