/** Test helpers for the mvcc store: temp stores, byte shorthands, an applier with raft indexes. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { openStore, type MvccStore, type StoreOptions } from '../../../node-core/mvcc/store'
import type { KeyValue, WriteOp, WriteResult } from '../../../node-core/mvcc/types'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** UTF-8 bytes of a string. */
export const b = (s: string): Uint8Array => encoder.encode(s)
/** A byte array as a string (UTF-8). */
export const str = (u: Uint8Array): string => decoder.decode(u)

/** A fresh directory for a store's database; removed by cleanup(). */
export function tempDbDir(): { dir: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'mvcc-test-'))
  return { dir: join(root, 'db'), cleanup: () => rmSync(root, { recursive: true, force: true }) }
}

/**
 * A store plus the raft index of the next entry, so tests apply ops one by one or in batches
 * without counting indexes themselves.
 */
export class TestStore {
  nextIndex = 1
  constructor(
    public store: MvccStore,
    readonly dir: string,
  ) {}

  static async open(dir: string, opts?: StoreOptions): Promise<TestStore> {
    const store = await openStore(dir, opts)
    const t = new TestStore(store, dir)
    t.nextIndex = store.consistentIndex + 1
    return t
  }

  /** Applies one op as its own batch and returns its result. */
  async apply(op: WriteOp): Promise<WriteResult> {
    const [result] = await this.store.applyBatch([{ index: this.nextIndex++, op }])
    if (result === null || result === undefined) throw new Error('applied op gave no result')
    return result
  }

  /** Applies ops as one batch. */
  async applyAll(ops: Array<WriteOp | null>): Promise<Array<WriteResult | null>> {
    return this.store.applyBatch(ops.map((op) => ({ index: this.nextIndex++, op })))
  }

  async put(key: string, value: string, extra: { lease?: bigint } = {}): Promise<number> {
    const r = await this.apply({ type: 'put', put: { key: b(key), value: b(value), ...extra } })
    if (!('put' in r)) throw new Error(`put ${key} failed: ${JSON.stringify(r)}`)
    return r.put.revision
  }

  async del(key: string, rangeEnd?: string): Promise<number> {
    const r = await this.apply({
      type: 'deleteRange',
      deleteRange: { key: b(key), ...(rangeEnd === undefined ? {} : { rangeEnd: b(rangeEnd) }) },
    })
    if (!('deleteRange' in r)) throw new Error(`delete ${key} failed: ${JSON.stringify(r)}`)
    return r.deleteRange.deleted
  }

  /** Restores from an image as of raft index `index`; the next entry is index + 1. */
  async restore(stream: AsyncIterable<Uint8Array>, index: number): Promise<void> {
    await this.store.restoreFromImage(stream, index)
    this.nextIndex = index + 1
  }

  async reopen(opts?: StoreOptions): Promise<void> {
    await this.store.close()
    this.store = await openStore(this.dir, opts)
    this.nextIndex = this.store.consistentIndex + 1
  }

  /** Reopens as after a crash: the database closes under the store, no checkpoint is written. */
  async crashReopen(opts?: StoreOptions): Promise<void> {
    await (this.store as unknown as { db: ClassicLevel }).db.close()
    this.store = await openStore(this.dir, opts)
    this.nextIndex = this.store.consistentIndex + 1
  }

  /** Current value of a key as a string, or undefined. */
  get(key: string, revision?: number): string | undefined {
    const r = this.store.range({ key: b(key), ...(revision === undefined ? {} : { revision }) })
    return r.kvs[0] === undefined ? undefined : str(r.kvs[0].value)
  }
}

/** A KeyValue in readable form, for expectations. */
export interface Kv {
  key: string
  value: string
  create: number
  mod: number
  version: number
  lease: number
}

export function kv(k: KeyValue): Kv {
  return {
    key: str(k.key),
    value: str(k.value),
    create: k.createRevision,
    mod: k.modRevision,
    version: k.version,
    lease: Number(k.lease),
  }
}

/** The error code of a WriteResult, or undefined if it succeeded. */
export function errorCode(r: WriteResult | null): string | undefined {
  return r !== null && 'error' in r ? r.error.code : undefined
}

/** Number of entries in each key space of a closed store's database ('r', 'l', 'm'). */
export async function countSpaces(dir: string): Promise<Record<string, number>> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, {
    keyEncoding: 'view',
    valueEncoding: 'view',
  })
  await db.open()
  const counts: Record<string, number> = {}
  for await (const key of db.keys()) {
    const space = String.fromCharCode(key[0]!)
    counts[space] = (counts[space] ?? 0) + 1
  }
  await db.close()
  return counts
}
