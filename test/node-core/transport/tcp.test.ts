import { createServer, type Server } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { ValidationError } from '../../../node-core/errors'
import { message } from '../../../node-core/raft/types'
import { backoffDelayMs } from '../../../node-core/transport/faults'
import { TcpTransport } from '../../../node-core/transport/tcp'
import {
  hb,
  meshPeers,
  msgApp,
  peerStats,
  sleep,
  startTcpNode,
  stopAll,
  waitConnected,
  waitFor,
  type TcpNode,
} from './helpers'

const nodes: TcpNode[] = []
const servers: Server[] = []
afterEach(async () => {
  await stopAll(nodes)
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))))
})

/** A port that nothing listens on (listened on, then closed). */
async function deadPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as { port: number }).port
  await new Promise((r) => s.close(r))
  return port
}

/** A TCP server that accepts connections and never answers (a handshake that never completes). */
async function silentServer(): Promise<string> {
  const s = createServer((sock) => {
    sock.on('error', () => {})
    sock.resume() // read and ignore, so that the peer's close is seen
  })
  servers.push(s)
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  return `127.0.0.1:${(s.address() as { port: number }).port}`
}

describe('TcpTransport: exchanging messages', () => {
  it('carries messages both ways between two transports, in order and intact', async () => {
    const a = await startTcpNode(1, {}, nodes)
    const b = await startTcpNode(2, {}, nodes)
    meshPeers([a, b])
    const toB = [hb(1, 2, 1), msgApp(1, 2, 3, 100), hb(1, 2, 2)]
    const toA = [
      message({
        type: 'MsgAppResp',
        from: 2,
        to: 1,
        term: 2,
        index: 1002,
        reject: true,
        rejectHint: 9,
      }),
    ]
    a.t.send(toB)
    b.t.send(toA)
    await waitFor('deliveries', () => b.received.length === 3 && a.received.length === 1)
    expect(b.received).toEqual(toB)
    expect(a.received).toEqual(toA)
    const sa = peerStats(a, 2)
    expect(sa).toMatchObject({ connected: true, sentMessages: 3, dropped: 0, queueMessages: 0 })
    expect(peerStats(b, 1)).toMatchObject({ receivedMessages: 3, receivedBytes: sa.sentBytes })
    expect(a.unreachable).toEqual([])
  })

  it('connects three transports in a full mesh', async () => {
    const ns = [
      await startTcpNode(1, {}, nodes),
      await startTcpNode(2, {}, nodes),
      await startTcpNode(3, {}, nodes),
    ]
    meshPeers(ns)
    for (const n of ns) {
      n.t.send(ns.filter((o) => o !== n).map((o) => hb(n.id, o.id, n.id * 10 + o.id)))
    }
    await waitFor('all deliveries', () => ns.every((n) => n.received.length === 2))
    for (const n of ns) {
      const got = n.received.map((m) => `${m.from}->${m.to}:${m.term}`).sort()
      const want = ns
        .filter((o) => o !== n)
        .map((o) => `${o.id}->${n.id}:${o.id * 10 + n.id}`)
        .sort()
      expect(got).toEqual(want)
    }
  })

  it('coalesces many sends into few socket writes', async () => {
    const a = await startTcpNode(1, {}, nodes)
    const b = await startTcpNode(2, {}, nodes)
    meshPeers([a, b])
    await waitConnected(a, 2)
    const writesBefore = peerStats(a, 2).writes
    for (let i = 1; i <= 1000; i++) a.t.send([hb(1, 2, i)])
    await waitFor('1000 deliveries', () => b.received.length === 1000)
    expect(b.received.map((m) => m.term)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1))
    const writes = peerStats(a, 2).writes - writesBefore
    // 1000 heartbeats of ~20 bytes fit in one write of at most writeBytesMax (1 MiB).
    expect(writes).toBeGreaterThanOrEqual(1)
    expect(writes).toBeLessThanOrEqual(2)
  })

  it('refuses programmer errors in send() and reports unknown peers unreachable', async () => {
    const a = await startTcpNode(1, {}, nodes)
    expect(() => a.t.send([message({ type: 'MsgHup', from: 1, to: 2 })])).toThrow(ValidationError)
    expect(() => a.t.send([hb(5, 2, 1)])).toThrow(/from 5 sent by node 1/)
    expect(() => a.t.send([hb(1, 1, 1)])).toThrow(/to itself/)
    expect(() => a.t.addPeer(2, 'no-port')).toThrow(/host:port/)
    a.t.send([hb(1, 9, 1), hb(1, 9, 2)])
    expect(a.unreachable).toEqual([]) // never reported from inside send()
    await sleep(0)
    expect(a.unreachable).toEqual([9])
    expect(a.log.withCode('TRANSPORT_PEER_UNAVAILABLE')).toHaveLength(1)
  })
})

describe('TcpTransport: failures of the link', () => {
  it('reconnects after the peer restarts and reports it unreachable meanwhile', async () => {
    const a = await startTcpNode(1, {}, nodes)
    let b = await startTcpNode(2, {}, nodes)
    meshPeers([a, b])
    a.t.send([hb(1, 2, 1)])
    await waitFor('first delivery', () => b.received.length === 1)
    const port = Number(b.t.address().split(':')[1])
    await b.t.stop()
    nodes.splice(nodes.indexOf(b), 1)
    await waitFor('link down', () => !peerStats(a, 2).connected)
    await waitFor('unreachable report', () => a.unreachable.includes(2))
    expect(
      a.log.find((l) => l.msg === 'peer link failed' && l.fields.wasConnected === true),
    ).toBeDefined()

    b = await startTcpNode(2, { port }, nodes)
    b.t.addPeer(1, a.t.address())
    await waitFor('reconnected', () => peerStats(a, 2).connected && peerStats(a, 2).connects === 2)
    a.t.send([hb(1, 2, 2)])
    await waitFor('delivery after restart', () => b.received.length === 1)
    expect(b.received[0]!.term).toBe(2)
  })

  it('redials at once, not after its backoff, when the restarted peer connects in', async () => {
    const slow = { limits: { backoffBaseMs: 20_000, backoffMaxMs: 20_000 } }
    const a = await startTcpNode(1, slow, nodes)
    let b = await startTcpNode(2, slow, nodes)
    meshPeers([a, b])
    a.t.send([hb(1, 2, 1)])
    await waitFor('first delivery', () => b.received.length === 1)
    const port = Number(b.t.address().split(':')[1])
    await b.t.stop()
    nodes.splice(nodes.indexOf(b), 1)
    await waitFor('link down', () => !peerStats(a, 2).connected)
    // a's link to b now waits 20 s before it dials again.
    b = await startTcpNode(2, { ...slow, port }, nodes)
    b.t.addPeer(1, a.t.address())
    const began = Date.now()
    b.t.send([hb(2, 1, 5)]) // b dials a: proof that b is up
    await waitFor('a reconnected to b', () => peerStats(a, 2).connected, 5000)
    expect(Date.now() - began).toBeLessThan(5000)
    a.t.send([hb(1, 2, 6)])
    await waitFor('delivery to the restarted peer', () => b.received.some((m) => m.term === 6))
  })

  it('backs off exponentially up to the cap, with jitter from the injected random', async () => {
    expect(
      [0, 1, 2, 3, 4, 5].map((n) =>
        backoffDelayMs(n, { baseMs: 10, maxMs: 80, jitterRatio: 0.5 }, () => 0),
      ),
    ).toEqual([10, 20, 40, 80, 80, 80])
    expect(backoffDelayMs(3, { baseMs: 10, maxMs: 80, jitterRatio: 0.5 }, () => 0.5)).toBe(60)
    expect(backoffDelayMs(60, { baseMs: 10, maxMs: 80, jitterRatio: 0.5 }, () => 0.999)).toBe(40)

    const draws: number[] = []
    const a = await startTcpNode(
      1,
      {
        random: () => (draws.push(0.25), 0.25),
        limits: { backoffBaseMs: 8, backoffMaxMs: 64, backoffJitterRatio: 0.5 },
      },
      nodes,
    )
    a.t.addPeer(2, `127.0.0.1:${await deadPort()}`)
    await waitFor(
      'seven failed dials',
      () => a.log.lines.filter((l) => l.msg === 'peer link failed').length >= 7,
    )
    const delays = a.log.lines
      .filter((l) => l.msg === 'peer link failed')
      .slice(0, 7)
      .map((l) => l.fields.retryInMs)
    // 8·2^n capped at 64, times (1 - 0.5·0.25).
    expect(delays).toEqual([7, 14, 28, 56, 56, 56, 56])
    expect(draws.length).toBeGreaterThanOrEqual(7)
    expect(peerStats(a, 2).lastError?.code).toBe('ECONNREFUSED')
  })

  it('drops and reports unreachable when the queue is full, without blocking', async () => {
    const a = await startTcpNode(
      1,
      { limits: { queueMessagesMax: 10, queueBytesMax: 4000 } },
      nodes,
    )
    a.t.addPeer(2, await silentServer()) // accepts, never answers: the link stays 'connecting'
    a.t.send(Array.from({ length: 15 }, (_, i) => hb(1, 2, i + 1)))
    let s = peerStats(a, 2)
    expect(s).toMatchObject({ connected: false, queueMessages: 10, dropped: 5 })
    expect(s.lastError?.code).toBe('TRANSPORT_QUEUE_FULL')
    await sleep(0)
    expect(a.unreachable).toEqual([2]) // five drops in one burst, one report
    expect(a.log.lines.filter((l) => l.msg === 'dropping messages to peer')).toHaveLength(1)

    // The byte bound: a big message does not fit beside what is queued.
    a.t.send([msgApp(1, 2, 16, 256)])
    s = peerStats(a, 2)
    expect(s.dropped).toBe(6)
    expect(s.queueBytes).toBeLessThanOrEqual(4000)
  })

  it('drops sends while backing off after a failure, and counts every one', async () => {
    const a = await startTcpNode(1, { limits: { backoffBaseMs: 5000, backoffMaxMs: 5000 } }, nodes)
    a.t.addPeer(2, `127.0.0.1:${await deadPort()}`)
    a.t.send([hb(1, 2, 1)]) // queued while the first dial is under way, then dropped with it
    await waitFor('first dial failed', () => a.log.lines.some((l) => l.msg === 'peer link failed'))
    a.t.send([hb(1, 2, 2), hb(1, 2, 3)])
    const s = peerStats(a, 2)
    expect(s.dropped).toBe(3)
    expect(s.lastError?.code).toBe('TRANSPORT_PEER_UNAVAILABLE')
    await sleep(0)
    expect(a.unreachable).toContain(2)
  })
})

describe('TcpTransport: membership', () => {
  it('redials at once when a peer address is updated', async () => {
    const a = await startTcpNode(1, { limits: { backoffBaseMs: 5000, backoffMaxMs: 5000 } }, nodes)
    const b = await startTcpNode(2, {}, nodes)
    b.t.addPeer(1, a.t.address())
    a.t.addPeer(2, `127.0.0.1:${await deadPort()}`)
    await waitFor('first dial failed', () => peerStats(a, 2).lastError !== undefined)
    a.t.updatePeer(2, b.t.address()) // no need to wait out the 5 s backoff
    await waitConnected(a, 2)
    a.t.send([hb(1, 2, 1)])
    await waitFor('delivery at the new address', () => b.received.length === 1)
    expect(peerStats(a, 2).address).toBe(b.t.address())
  })

  it('refuses a removed member and stops sending to it', async () => {
    const a = await startTcpNode(1, {}, nodes)
    const b = await startTcpNode(2, {}, nodes)
    meshPeers([a, b])
    await waitConnected(a, 2)
    await waitConnected(b, 1)
    b.t.removePeer(1)
    expect(b.t.stats().peers).toEqual([])
    await waitFor('a refused as unknown-sender', () =>
      a.log.lines.some(
        (l) => l.msg === 'peer refused our handshake' && l.fields.reason === 'unknown-sender',
      ),
    )
    expect(b.log.find((l) => l.fields.reason === 'unknown-sender')?.fields.claimedPeer).toBe(1)
    b.t.send([hb(2, 1, 1)])
    await sleep(0)
    expect(b.unreachable).toEqual([1]) // now an unknown peer
  })
})

describe('TcpTransport: lifecycle', () => {
  it('reports a port in use from start() and can start again', async () => {
    const a = await startTcpNode(1, {}, nodes)
    const port = Number(a.t.address().split(':')[1])
    const b = new TcpTransport({ id: 2, clusterId: 'cluster-a', token: 't', port })
    b.onMessage(() => {})
    await expect(b.start()).rejects.toThrow(/EADDRINUSE/)
    await a.t.stop()
    await b.start()
    expect(b.address()).toBe(`127.0.0.1:${port}`)
    await b.stop()
    await b.stop() // idempotent
  })
})
