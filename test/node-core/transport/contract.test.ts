/**
 * The same behaviour from both transports (TCP on loopback, and the in-memory hub): delivery both
 * ways, unknown peers reported, and link faults (cut one way, delay, deterministic loss, heal).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createPrng } from '../../../node-core/raft/prng'
import type { Message } from '../../../node-core/raft/types'
import { MemoryNetwork } from '../../../node-core/transport/memory'
import type { PeerTransport } from '../../../node-core/transport/types'
import {
  hb,
  meshPeers,
  sleep,
  startTcpNode,
  stopAll,
  testSeed,
  waitConnected,
  waitFor,
  type TcpNode,
} from './helpers'

interface Node {
  id: number
  t: PeerTransport
  received: Message[]
  unreachable: number[]
}

interface Harness {
  name: string
  /** Nodes 1..n, all peers of each other and ready; `random` feeds loss (and TCP's backoff). */
  make(n: number, random?: () => number): Promise<Node[]>
  cleanup(): Promise<void>
}

function tcpHarness(): Harness {
  const nodes: TcpNode[] = []
  return {
    name: 'tcp',
    async make(n, random) {
      const ns: TcpNode[] = []
      for (let id = 1; id <= n; id++)
        ns.push(await startTcpNode(id, random ? { random } : {}, nodes))
      meshPeers(ns)
      for (const a of ns) for (const b of ns) if (a !== b) await waitConnected(a, b.id)
      return ns
    },
    cleanup: () => stopAll(nodes),
  }
}

function memoryHarness(): Harness {
  let all: Node[] = []
  return {
    name: 'memory',
    async make(n, random) {
      const net = new MemoryNetwork(random ? { random } : {})
      const ns: Node[] = []
      for (let id = 1; id <= n; id++) {
        const node: Node = { id, t: net.endpoint(id), received: [], unreachable: [] }
        node.t.onMessage((m) => node.received.push(m))
        node.t.onUnreachable((p) => node.unreachable.push(p))
        ns.push(node)
      }
      for (const a of ns) for (const b of ns) if (a !== b) a.t.addPeer(b.id, `mem://${b.id}`)
      for (const a of ns) await a.t.start()
      all = all.concat(ns)
      return ns
    },
    async cleanup() {
      await Promise.all(all.splice(0).map((n) => n.t.stop()))
    },
  }
}

const terms = (n: Node) => n.received.map((m) => m.term)

/** Sends a marker from a to b after healing and waits for it: what was cut is gone for good. */
async function flushWithMarker(a: Node, b: Node, term: number): Promise<void> {
  a.t.send([hb(a.id, b.id, term)])
  await waitFor(`marker ${term}`, () => terms(b).includes(term))
}

for (const make of [tcpHarness, memoryHarness]) {
  const h = make()
  describe(`link faults and delivery (${h.name})`, () => {
    afterEach(() => h.cleanup())

    it('delivers both ways, decoded copies, asynchronously', async () => {
      const [a, b] = await h.make(2)
      const m = hb(1, 2, 5)
      a.t.send([m])
      b.t.send([hb(2, 1, 6)])
      expect(b.received).toEqual([]) // never inside send()
      await waitFor('both ways', () => b.received.length === 1 && a.received.length === 1)
      expect(b.received[0]).toEqual(m)
      expect(b.received[0]).not.toBe(m)
      expect(terms(a)).toEqual([6])
    })

    it('cuts one direction, then heals', async () => {
      const [a, b] = await h.make(2)
      a.t.setLinkFault(2, { drop: true }, 'send')
      a.t.send([hb(1, 2, 1), hb(1, 2, 2)])
      b.t.send([hb(2, 1, 3)])
      await waitFor('the other way still works', () => terms(a).includes(3))
      a.t.healLink(2)
      await flushWithMarker(a, b, 4)
      expect(terms(b)).toEqual([4])
      expect(a.t.stats().peers[0]!.faultDropped).toBe(2)
      expect(a.unreachable).toEqual([]) // a fault is not a transport failure

      // Cut on the receiving side, both directions, on one node only.
      b.t.setLinkFault(1, { drop: true }) // 'both'
      a.t.send([hb(1, 2, 5)])
      b.t.send([hb(2, 1, 6)])
      // b dropped one on the way in and one on the way out.
      await waitFor('both cut at b', () => b.t.stats().peers[0]!.faultDropped === 2)
      b.t.healLink()
      await flushWithMarker(a, b, 7)
      await flushWithMarker(b, a, 8)
      expect(terms(b)).toEqual([4, 7])
      expect(terms(a)).toEqual([3, 8])
    })

    it('tells a removed member so, and takes no more of its messages', async () => {
      const [a, b, c] = await h.make(3)
      const told = new Map<number, number[]>([
        [1, []],
        [2, []],
      ])
      a.t.onRemoved((by) => told.get(1)!.push(by))
      b.t.onRemoved((by) => told.get(2)!.push(by))
      c.t.refuseRemoved((id) => id === 1)
      c.t.removePeer(1)
      a.t.send([hb(1, 3, 1)])
      b.t.send([hb(2, 3, 2)])
      await waitFor('a is told it was removed', () => told.get(1)!.includes(3))
      await waitFor('b still gets through', () => terms(c).includes(2))
      expect(terms(c)).toEqual([2])
      expect(told.get(2)).toEqual([]) // a member c does not refuse is never told so
    })

    it('delays messages on a link (others overtake them)', async () => {
      const [a, b, c] = await h.make(3)
      const delayMs = 150
      a.t.setLinkFault(2, { delayMs }, 'send')
      const t0 = Date.now()
      a.t.send([hb(1, 2, 1), hb(1, 2, 2)])
      a.t.send([hb(1, 3, 3)])
      a.t.healLink(2)
      a.t.send([hb(1, 2, 4)])
      await waitFor('delayed messages', () => b.received.length === 3)
      const elapsed = Date.now() - t0
      expect(terms(b)).toEqual([4, 1, 2]) // the undelayed one overtook, the delayed kept their order
      expect(terms(c)).toEqual([3])
      expect(elapsed).toBeGreaterThanOrEqual(delayMs - 2) // held at least the delay (lower bound)
    })

    it('loses messages at the given rate, deterministically from the injected random', async () => {
      const seed = testSeed(`loss (${h.name})`)
      const [a, b] = await h.make(2, createPrng(seed).float)
      a.t.setLinkFault(2, { lossRate: 0.3 }, 'send')
      const n = 300
      a.t.send(Array.from({ length: n }, (_, i) => hb(1, 2, i + 1)))
      a.t.healLink()
      await flushWithMarker(a, b, n + 1)
      // The same draws, replayed: exactly those with draw >= 0.3 arrive.
      const replay = createPrng(seed)
      const expected = Array.from({ length: n }, (_, i) => i + 1).filter(
        () => replay.float() >= 0.3,
      )
      expect(terms(b)).toEqual([...expected, n + 1])
      expect(a.t.stats().peers[0]!.faultDropped).toBe(n - expected.length)
      expect(expected.length).toBeGreaterThan(n * 0.5)
      expect(expected.length).toBeLessThan(n * 0.9)
    })

    it('reports an unknown peer unreachable, once per burst, never from inside send()', async () => {
      const [a] = await h.make(2)
      a.t.send([hb(1, 9, 1), hb(1, 9, 2)])
      expect(a.unreachable).toEqual([])
      await sleep(0)
      expect(a.unreachable).toEqual([9])
    })

    it('refuses an out-of-range fault', async () => {
      const [a] = await h.make(2)
      expect(() => a.t.setLinkFault(2, { lossRate: 1.5 })).toThrow(/lossRate/)
      expect(() => a.t.setLinkFault(2, { delayMs: -1 })).toThrow(/delayMs/)
      expect(() => a.t.setLinkFault(2, { delayMs: 3_600_000 })).toThrow(/delayMs/)
    })
  })
}
