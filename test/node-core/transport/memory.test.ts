import { describe, expect, it } from 'vitest'
import { message, type Message } from '../../../node-core/raft/types'
import { SnapshotTransferError } from '../../../node-core/transport/errors'
import { MemoryNetwork, type MemoryTransport } from '../../../node-core/transport/memory'
import { hb, sleep, waitFor } from './helpers'

interface Node {
  t: MemoryTransport
  received: Message[]
  unreachable: number[]
}

function node(net: MemoryNetwork, id: number, peers: number[]): Node {
  const n: Node = { t: net.endpoint(id), received: [], unreachable: [] }
  n.t.onMessage((m) => n.received.push(m))
  n.t.onUnreachable((p) => n.unreachable.push(p))
  for (const p of peers) n.t.addPeer(p, `mem://${p}`)
  return n
}

const snap = (from: number, to: number) =>
  message({
    type: 'MsgSnap',
    from,
    to,
    term: 2,
    snapshot: {
      metadata: { index: 5, term: 2, confState: { voters: [1, 2], learners: [] } },
      data: new Uint8Array(),
    },
  })

describe('MemoryNetwork', () => {
  it('drops and reports when the target is not started or does not know the sender', async () => {
    const net = new MemoryNetwork()
    const a = node(net, 1, [2, 3])
    const b = node(net, 2, [1])
    const c = node(net, 3, []) // does not know member 1
    await a.t.start()
    await c.t.start()
    a.t.send([hb(1, 2, 1), hb(1, 3, 2)])
    await waitFor('reports', () => a.unreachable.length === 2)
    expect(a.unreachable.sort()).toEqual([2, 3])
    const stats = a.t.stats().peers
    expect(stats.map((p) => [p.id, p.dropped, p.connected])).toEqual([
      [2, 1, false],
      [3, 1, false],
    ])
    expect(stats[0]!.lastError?.message).toMatch(/member 2 is not on the network/)
    expect(stats[1]!.lastError?.message).toMatch(/member 3 does not accept member 1/)

    await b.t.start()
    expect(a.t.stats().peers[0]!.connected).toBe(true)
    a.t.send([hb(1, 2, 3)])
    await waitFor('delivery once started', () => b.received.length === 1)
    await b.t.stop()
    a.t.send([hb(1, 2, 4)])
    await waitFor('report after stop', () => a.unreachable.length === 3)
    expect(b.received.map((m) => m.term)).toEqual([3])
    await a.t.stop()
    await c.t.stop()
  })

  it('bounds the messages in flight per link', async () => {
    const net = new MemoryNetwork({ queueMessagesMax: 5 })
    const a = node(net, 1, [2])
    const b = node(net, 2, [1])
    await a.t.start()
    await b.t.start()
    a.t.send(Array.from({ length: 8 }, (_, i) => hb(1, 2, i + 1)))
    expect(a.t.stats().peers[0]).toMatchObject({ queueMessages: 5, dropped: 3 })
    expect(a.t.stats().peers[0]!.lastError?.code).toBe('TRANSPORT_QUEUE_FULL')
    await waitFor('five delivered', () => b.received.length === 5)
    expect(a.unreachable).toEqual([2])
    await a.t.stop()
    await b.t.stop()
  })

  it('refuses a second endpoint with the same id and a start without a message handler', async () => {
    const net = new MemoryNetwork()
    const a = node(net, 1, [])
    await a.t.start()
    const again = node(net, 1, [])
    await expect(again.t.start()).rejects.toThrow(/already on this network/)
    await expect(net.endpoint(2).start()).rejects.toThrow(/before onMessage/)
    await a.t.stop()
  })

  it('streams a snapshot pull by pull and settles as the receiver does', async () => {
    const net = new MemoryNetwork()
    const a = node(net, 1, [2])
    const b = node(net, 2, [1])
    await a.t.start()
    await b.t.start()
    let produced = 0
    let consumed = 0
    let maxLead = 0
    async function* image() {
      for (let i = 0; i < 50; i++) {
        produced++
        yield new Uint8Array(1000).fill(i)
      }
    }
    b.t.onSnapshot(async (msg, img) => {
      expect(msg).toEqual(snap(1, 2))
      for await (const chunk of img) {
        expect(chunk[0]).toBe(consumed)
        consumed++
        maxLead = Math.max(maxLead, produced - consumed)
        await sleep(0)
      }
    })
    await a.t.sendSnapshot(2, snap(1, 2), image)
    expect(consumed).toBe(50)
    expect(maxLead).toBeLessThanOrEqual(1)
    expect(a.t.stats().peers[0]!.snapshotsSent).toBe(1)
    expect(b.t.stats().peers[0]!.snapshotsReceived).toBe(1)

    b.t.onSnapshot(async (_m, img) => {
      for await (const _c of img) throw new Error('disk full')
    })
    await expect(a.t.sendSnapshot(2, snap(1, 2), image)).rejects.toThrow(
      /failed to save the snapshot: disk full/,
    )
    b.t.onSnapshot(async () => {})
    await expect(a.t.sendSnapshot(2, snap(1, 2), image)).rejects.toThrow(/before the image ended/)
    a.t.setLinkFault(2, { drop: true })
    const err = await a.t.sendSnapshot(2, snap(1, 2), image).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SnapshotTransferError)
    expect((err as Error).message).toMatch(/dropped by an injected link fault/)
    expect(a.t.stats().peers[0]).toMatchObject({ snapshotsSent: 1, snapshotsFailed: 3 })
    await a.t.stop()
    await b.t.stop()
  })
})
