/**
 * The simulator's state machine: a string -> string map driven by committed raft entries, plus
 * the encoding of client operations into entry data.
 *
 * Each operation carries a unique id. The machine applies an id at most once: the simulated
 * network duplicates messages, a duplicated MsgProp makes the leader append the same proposal
 * twice, and without this rule the second copy would be a write no client issued. (Real peers
 * talk over TCP, which does not duplicate; the server has its own request ids.)
 */
export type SimOpKind = 'put' | 'delete' | 'cas'

export interface SimWrite {
  id: string
  kind: SimOpKind
  key: string
  value?: string
  expected?: string | null
}

export type SimWriteResult =
  { kind: 'put' } | { kind: 'delete'; deleted: boolean } | { kind: 'cas'; succeeded: boolean }

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function encodeWrite(op: SimWrite): Uint8Array {
  return encoder.encode(JSON.stringify(op))
}

export function decodeWrite(data: Uint8Array): SimWrite | null {
  if (data.byteLength === 0) return null
  return JSON.parse(decoder.decode(data)) as SimWrite
}

export class KvMachine {
  readonly data = new Map<string, string>()
  private readonly appliedIds = new Set<string>()
  appliedIndex = 0

  /** Applies one write; null when the id was applied before (a duplicate proposal). */
  apply(index: number, op: SimWrite | null): SimWriteResult | null {
    if (index !== this.appliedIndex + 1) {
      throw new Error(`sim kv: applying index ${index} after ${this.appliedIndex}`)
    }
    this.appliedIndex = index
    if (!op || this.appliedIds.has(op.id)) return null
    this.appliedIds.add(op.id)
    switch (op.kind) {
      case 'put':
        this.data.set(op.key, op.value!)
        return { kind: 'put' }
      case 'delete':
        return { kind: 'delete', deleted: this.data.delete(op.key) }
      case 'cas': {
        const current = this.data.get(op.key) ?? null
        if (current !== op.expected) return { kind: 'cas', succeeded: false }
        this.data.set(op.key, op.value!)
        return { kind: 'cas', succeeded: true }
      }
    }
  }

  /** Skips an index that carries no write (a conf change, an empty leader entry). */
  skip(index: number): void {
    this.apply(index, null)
  }

  image(): Uint8Array {
    return encoder.encode(
      JSON.stringify({ index: this.appliedIndex, data: [...this.data], ids: [...this.appliedIds] }),
    )
  }

  restore(image: Uint8Array): void {
    const parsed = JSON.parse(decoder.decode(image)) as {
      index: number
      data: [string, string][]
      ids: string[]
    }
    this.data.clear()
    for (const [k, v] of parsed.data) this.data.set(k, v)
    this.appliedIds.clear()
    for (const id of parsed.ids) this.appliedIds.add(id)
    this.appliedIndex = parsed.index
  }
}
