/**
 * The simulator's agenda: events ordered by virtual time, ties broken by insertion order so that
 * a run is a pure function of its seed. A binary min-heap over (atMs, seq).
 */
export interface Scheduled<T> {
  atMs: number
  seq: number
  event: T
}

export class EventQueue<T> {
  private heap: Scheduled<T>[] = []
  private seq = 0

  get size(): number {
    return this.heap.length
  }

  push(atMs: number, event: T): void {
    const item = { atMs, seq: this.seq++, event }
    const heap = this.heap
    heap.push(item)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(heap[i]!, heap[parent]!)) break
      ;[heap[i], heap[parent]] = [heap[parent]!, heap[i]!]
      i = parent
    }
  }

  pop(): Scheduled<T> | undefined {
    const heap = this.heap
    const top = heap[0]
    const last = heap.pop()
    if (heap.length > 0 && last) {
      heap[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r
        if (m === i) break
        ;[heap[i], heap[m]] = [heap[m]!, heap[i]!]
        i = m
      }
    }
    return top
  }
}

function before<T>(a: Scheduled<T>, b: Scheduled<T>): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq)
}
