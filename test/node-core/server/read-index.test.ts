// The ReadIndex queue in virtual time: rounds batch the reads that arrive while one is out, a
// round lost to a leader change is asked again after an election timeout, and reads are served
// only once the member has applied their round's index.
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../../node-core/kernel/clock'
import { ReadIndexQueue } from '../../../node-core/server/read-index'

function harness() {
  const clock = new ManualClock(0)
  const asked: number[] = []
  let leader = true
  const queue = new ReadIndexQueue({
    readIndex: (ctx) => {
      if (!leader) throw new Error('no leader')
      asked.push(Number(new TextDecoder().decode(ctx)))
    },
    clock,
    reissueAfterMs: 150,
    retryMs: 50,
  })
  const answer = (ctx: number, index: number) =>
    queue.onReadState(new TextEncoder().encode(String(ctx)), index)
  const advance = (ms: number) => clock.advance(ms)
  const served: string[] = []
  const read = (name: string) => {
    const serve = () => served.push(name)
    queue.add(serve)
    return serve
  }
  return { queue, asked, answer, advance, served, read, setLeader: (v: boolean) => (leader = v) }
}

describe('ReadIndex queue', () => {
  it('batches the reads that arrive while a round is out into the next round', () => {
    const h = harness()
    h.read('a')
    h.read('b')
    h.read('c')
    expect(h.asked).toEqual([1]) // a's round is out; b and c wait for the next
    h.answer(1, 10)
    expect(h.asked).toEqual([1, 2]) // b and c go out together
    h.queue.serve(9)
    expect(h.served).toEqual([])
    h.queue.serve(10)
    expect(h.served).toEqual(['a'])
    h.answer(2, 12)
    h.queue.serve(12)
    expect(h.served).toEqual(['a', 'b', 'c'])
    expect(h.queue.size).toBe(0)
  })

  it('asks again under a new context when a round goes unanswered for an election timeout', () => {
    const h = harness()
    h.read('a')
    h.advance(100)
    h.queue.serve(0)
    expect(h.asked).toEqual([1])
    h.advance(100)
    h.queue.serve(0)
    expect(h.asked).toEqual([1, 2])
    h.answer(1, 5) // the lost round's late answer names a context no longer asked for
    h.queue.serve(5)
    expect(h.served).toEqual([])
    h.answer(2, 5)
    h.queue.serve(5)
    expect(h.served).toEqual(['a'])
  })

  it('retries while no leader is known, and stops asking when stopped', () => {
    const h = harness()
    h.setLeader(false)
    h.read('a')
    h.advance(50)
    expect(h.asked).toEqual([])
    h.setLeader(true)
    h.advance(50) // each refused attempt retries under a new context
    expect(h.asked).toEqual([3])
    h.queue.stop()
    h.read('b')
    h.answer(3, 1)
    h.queue.serve(1)
    expect(h.served).toEqual(['a'])
    expect(h.asked).toEqual([3])
  })

  it('drops a round whose reads all timed out, and goes on with the next', () => {
    const h = harness()
    const a = h.read('a')
    h.read('b')
    h.queue.remove(a)
    h.advance(200)
    h.queue.serve(0) // a's round is stale and empty: dropped, b's goes out
    expect(h.asked).toEqual([1, 2])
    h.answer(2, 3)
    h.queue.serve(3)
    expect(h.served).toEqual(['b'])
  })
})
