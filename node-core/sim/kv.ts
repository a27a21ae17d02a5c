/**
 * The simulator's state machine: a string -> string map driven by committed raft entries, plus
 * the encoding of client operations into entry data.
 *
 * Each operation carries a unique id. The machine applies an id at most once: the simulated
 * network duplicates messages, a duplicated MsgProp makes the leader append the same proposal
 * twice, and without this rule the second copy would be a write no client issued. (Real peers
 * talk over TCP, which does not duplicate; the server has its own request ids.)
 *
 * Auth runs through the machine as it does through the store (mvcc/auth.ts, the same class): the
 * machine starts with auth on, a user `w` whose role `rw` may read and write each of the keys the
 * clients use (k0, k1, ...), and 'grant'
 * and 'revoke' entries change that permission key by key. Every client write carries the auth
 * revision of the member that proposed it and is checked at apply, as the store checks it: a
 * write refused there (permission denied, an auth revision that moved on) is refused on every
 * member alike, which the simulator checks entry by entry.
 */
import { Buffer } from 'node:buffer'
import { AuthState, type AuthOp } from '../mvcc/auth'
import { EtcdServerError } from '../kernel/etcd-errors'

export type SimOpKind = 'put' | 'delete' | 'cas' | 'grant' | 'revoke'

export interface SimWrite {
  id: string
  kind: SimOpKind
  key: string
  value?: string
  expected?: string | null
  /** The proposing member's auth revision (etcd's RequestHeader.auth_revision) for user `w`. */
  authRevision?: number
}

/** The user every simulated client writes as, and the keys its role starts with. */
export const SIM_USER = 'w'
const SIM_ROLE = 'rw'
const ROOT = { user: 'root', revision: Number.MAX_SAFE_INTEGER }

export type SimWriteResult =
  | { kind: 'put' }
  | { kind: 'delete'; deleted: boolean }
  | { kind: 'cas'; succeeded: boolean }
  | { kind: 'auth' }
  /** Refused at apply with this etcd error code; nothing changed. */
  | { kind: 'refused'; code: string }

const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'))

const initialRecords = new Map<number, Array<{ key: Uint8Array; value: Uint8Array }>>()

/** The auth state every machine starts from (auth on, `w` may use k0..k{keys - 1}). */
function initialAuth(keys: number): Array<{ key: Uint8Array; value: Uint8Array }> {
  const cached = initialRecords.get(keys)
  if (cached) return cached
  const auth = new AuthState()
  const ops: AuthOp[] = [
    { type: 'userAdd', name: 'root', password: null },
    { type: 'userGrantRole', user: 'root', role: 'root' },
    { type: 'roleAdd', name: SIM_ROLE },
    { type: 'userAdd', name: SIM_USER, password: null },
    { type: 'userGrantRole', user: SIM_USER, role: SIM_ROLE },
  ]
  for (let i = 0; i < keys; i++) {
    ops.push({
      type: 'roleGrantPermission',
      name: SIM_ROLE,
      perm: { type: 'readwrite', key: bytes(`k${i}`), rangeEnd: new Uint8Array(0) },
    })
  }
  ops.push({ type: 'authEnable' })
  for (const op of ops) auth.prepare(op, ROOT, 0)()
  const records = auth.records()
  initialRecords.set(keys, records)
  return records
}

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
  readonly auth = new AuthState()
  private readonly appliedIds = new Set<string>()
  appliedIndex = 0

  /** `keys`: how many keys (k0, k1, ...) the clients' role may use at the start. */
  constructor(keys: number) {
    this.auth.load(initialAuth(keys))
  }

  /** Applies one write; null when the id was applied before (a duplicate proposal). */
  apply(index: number, op: SimWrite | null): SimWriteResult | null {
    if (index !== this.appliedIndex + 1) {
      throw new Error(`sim kv: applying index ${index} after ${this.appliedIndex}`)
    }
    this.appliedIndex = index
    if (!op || this.appliedIds.has(op.id)) return null
    this.appliedIds.add(op.id)
    try {
      return this.applyChecked(op)
    } catch (err) {
      if (err instanceof EtcdServerError) return { kind: 'refused', code: err.code }
      throw err
    }
  }

  private applyChecked(op: SimWrite): SimWriteResult {
    const who = { user: SIM_USER, revision: op.authRevision ?? 0 }
    const key = bytes(op.key)
    if (op.kind === 'put' || op.kind === 'delete') this.auth.checkWrite(who, key)
    if (op.kind === 'cas') {
      this.auth.checkRead(who, key)
      this.auth.checkWrite(who, key)
    }
    switch (op.kind) {
      case 'grant':
      case 'revoke': {
        const change: AuthOp =
          op.kind === 'grant'
            ? {
                type: 'roleGrantPermission',
                name: SIM_ROLE,
                perm: { type: 'readwrite', key, rangeEnd: new Uint8Array(0) },
              }
            : { type: 'roleRevokePermission', role: SIM_ROLE, key, rangeEnd: new Uint8Array(0) }
        this.auth.prepare(change, ROOT, this.appliedIndex)()
        return { kind: 'auth' }
      }
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
      JSON.stringify({
        index: this.appliedIndex,
        data: [...this.data],
        ids: [...this.appliedIds],
        auth: this.auth.records().map((r) => [b64(r.key), b64(r.value)]),
      }),
    )
  }

  restore(image: Uint8Array): void {
    const parsed = JSON.parse(decoder.decode(image)) as {
      index: number
      data: [string, string][]
      ids: string[]
      auth: [string, string][]
    }
    this.auth.load(parsed.auth.map(([k, v]) => ({ key: unb64(k), value: unb64(v) })))
    this.data.clear()
    for (const [k, v] of parsed.data) this.data.set(k, v)
    this.appliedIds.clear()
    for (const id of parsed.ids) this.appliedIds.add(id)
    this.appliedIndex = parsed.index
  }
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64')
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'))
