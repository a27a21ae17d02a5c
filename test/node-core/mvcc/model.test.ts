// Randomised differential test: the store and the simple model (model.ts) get the same random
// puts, deletes, txns, compactions, lease grants and revokes, in random batches, and must give
// the same result for every op and every range. Now and then the store is closed and reopened,
// reopened as after a crash, or replaced by a restore from its own snapshot image. Reproduce a
// failure with SEED=<seed> (STEPS=<n> for a longer history).
import { describe, expect, it } from 'vitest'
import type { Prng } from '../../../node-core/raft/prng'
import { createPrng } from '../../../node-core/raft/prng'
import { CompactedError } from '../../../node-core/mvcc/errors'
import type { MvccStore } from '../../../node-core/mvcc/store'
import type { Watcher } from '../../../node-core/mvcc/watch'
import type {
  Compare,
  Event,
  CompareResult,
  CompareTarget,
  RangeRequest,
  RequestOp,
  SortOrder,
  SortTarget,
  TxnRequest,
  WriteOp,
} from '../../../node-core/mvcc/types'
import { Model } from './model'
import { b, tempDbDir, TestStore } from './helpers'

const KEYS = ['a', 'b', 'c', 'd', 'p/1', 'p/2', 'p/3', 'q']

/** Results in comparable form: bytes as strings, errors by code only. */
function plain(x: unknown): unknown {
  if (x instanceof Uint8Array) return Buffer.from(x).toString('latin1')
  if (typeof x === 'bigint') return `${x}n`
  if (Array.isArray(x)) return x.map(plain)
  if (x !== null && typeof x === 'object') {
    if ('error' in x) return { error: (x as { error: { code: string } }).error.code }
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v)]))
  }
  return x
}

class Generator {
  leases: bigint[] = []
  constructor(
    readonly prng: Prng,
    readonly model: Model,
  ) {}

  pick<T>(xs: readonly T[]): T {
    return xs[this.prng.int(0, xs.length)]!
  }

  key(): string {
    return this.pick(KEYS)
  }

  value(): Uint8Array {
    return b(this.prng.chance(0.1) ? '' : `v${this.prng.int(0, 1000)}`)
  }

  lease(): bigint {
    if (this.leases.length > 0 && this.prng.chance(0.3)) return this.pick(this.leases)
    return this.prng.chance(0.05) ? 999n : 0n
  }

  /** A lease id to grant or revoke: small ones collide often, 63-bit ones exercise the width. */
  leaseId(): bigint {
    const p = this.prng
    if (p.chance(0.7)) return BigInt(p.int(1, 20))
    return (BigInt(p.int(0, 2 ** 31)) << 32n) | BigInt(p.int(0, 2 ** 32)) || 1n
  }

  keyRange(): { key: Uint8Array; rangeEnd?: Uint8Array } {
    const r = this.prng.int(0, 4)
    if (r === 0) return { key: b(this.key()) }
    if (r === 1) return { key: b('p/'), rangeEnd: b('p0') }
    if (r === 2) return { key: b(this.key()), rangeEnd: new Uint8Array([0]) }
    const [x, y] = [this.key(), this.key()].sort()
    return { key: b(x!), rangeEnd: b(y!) }
  }

  range(): RangeRequest {
    const p = this.prng
    const req: RangeRequest = { ...this.keyRange() }
    if (p.chance(0.3)) req.limit = p.int(0, 4)
    if (p.chance(0.3)) req.revision = p.int(0, this.model.rev + 2)
    if (p.chance(0.3)) req.sortOrder = this.pick<SortOrder>(['none', 'ascend', 'descend'])
    if (p.chance(0.3)) req.sortTarget = this.pick<SortTarget>(['key', 'create', 'mod', 'value'])
    if (p.chance(0.1)) req.countOnly = true
    if (p.chance(0.1)) req.keysOnly = true
    if (p.chance(0.1)) req.minModRevision = p.int(0, this.model.rev + 1)
    if (p.chance(0.1)) req.maxModRevision = p.int(0, this.model.rev + 1)
    if (p.chance(0.1)) req.minCreateRevision = p.int(0, this.model.rev + 1)
    if (p.chance(0.1)) req.maxCreateRevision = p.int(0, this.model.rev + 1)
    return req
  }

  compare(): Compare {
    const p = this.prng
    const target = this.pick<CompareTarget>(['version', 'create', 'mod', 'value', 'lease'])
    const result = this.pick<CompareResult>(['equal', 'notEqual', 'greater', 'less'])
    const c: Compare = {
      ...(p.chance(0.8) ? { key: b(this.key()) } : this.keyRange()),
      target,
      result,
    }
    const n = p.int(0, this.model.rev + 2)
    if (target === 'value') c.value = b(`v${p.int(0, 1000)}`)
    else if (target === 'version') c.version = p.int(0, 4)
    else if (target === 'create') c.createRevision = n
    else if (target === 'mod') c.modRevision = n
    else c.lease = this.lease()
    return c
  }

  /** Txn ops that never write one key twice anywhere in the txn (`used` spans all levels). */
  txn(depth: number, used: Set<string>): TxnRequest {
    const branch = (): RequestOp[] => {
      const ops: RequestOp[] = []
      for (let i = this.prng.int(0, 4); i > 0; i--) {
        const kind = this.prng.int(0, depth < 2 ? 4 : 3)
        const free = KEYS.filter((k) => !used.has(k))
        if (kind === 0 && free.length > 0) {
          const key = this.pick(free)
          used.add(key)
          ops.push({
            requestPut: {
              key: b(key),
              value: this.value(),
              lease: this.lease(),
              prevKv: this.prng.chance(0.3),
            },
          })
        } else if (kind === 1 && free.length > 0) {
          const key = this.pick(free)
          used.add(key)
          ops.push({ requestDeleteRange: { key: b(key), prevKv: this.prng.chance(0.5) } })
        } else if (kind === 2) {
          ops.push({ requestRange: { ...this.range(), revision: 0 } })
        } else if (kind === 3) {
          ops.push({ requestTxn: this.txn(depth + 1, used) })
        }
      }
      return ops
    }
    const compare = Array.from({ length: this.prng.int(0, 3) }, () => this.compare())
    return { compare, success: branch(), failure: branch() }
  }

  op(): WriteOp {
    const p = this.prng
    const r = p.float()
    if (r < 0.35) {
      const ignore = p.chance(0.1)
      return {
        type: 'put',
        put: {
          key: b(this.key()),
          value: ignore ? new Uint8Array(0) : this.value(),
          ...(ignore ? { ignoreValue: true } : { lease: this.lease() }),
          ...(p.chance(0.05) ? { ignoreLease: true, lease: 0n } : {}),
          prevKv: p.chance(0.3),
        },
      }
    }
    if (r < 0.5)
      return { type: 'deleteRange', deleteRange: { ...this.keyRange(), prevKv: p.chance(0.5) } }
    if (r < 0.8) return { type: 'txn', txn: this.txn(0, new Set()) }
    if (r < 0.85)
      return {
        type: 'compaction',
        compaction: { revision: p.int(this.model.compacted, this.model.rev + 2) },
      }
    if (r < 0.93)
      return {
        type: 'leaseGrant',
        leaseGrant: { id: p.chance(0.5) ? 0n : this.leaseId(), ttlSeconds: p.int(0, 100) },
      }
    return {
      type: 'leaseRevoke',
      leaseRevoke: {
        id: this.leases.length > 0 && p.chance(0.8) ? this.pick(this.leases) : this.leaseId(),
      },
    }
  }
}

/**
 * A watcher on every key, from the first revision on, recording what it receives. It follows the
 * store across reopens and restores by re-watching from the first revision it has not seen (a
 * catch-up from history); when that revision has been compacted meanwhile it notes the gap and
 * re-watches from the compacted revision itself, as etcd clients do, and must then miss nothing
 * from there on (deletions at exactly that revision included).
 */
class Follower {
  seen: Event[] = []
  /** Revision ranges [from, to) lost to compaction. */
  gaps: Array<[number, number]> = []
  next = 2
  failure: unknown = null
  private watcher: Watcher | null = null
  private done: Promise<void> = Promise.resolve()

  follow(store: MvccStore): void {
    const all = { key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) }
    this.done = (async () => {
      for (;;) {
        const w = store.watch({ ...all, startRevision: this.next })
        this.watcher = w
        try {
          for await (const r of w) {
            for (const ev of r.events) {
              if (ev.kv.modRevision < this.next - 1)
                throw new Error(`event ${ev.kv.modRevision} out of order`)
              this.seen.push(ev)
              this.next = ev.kv.modRevision + 1
            }
          }
          return // cancelled
        } catch (err) {
          if (!(err instanceof CompactedError)) throw err
          this.gaps.push([this.next, err.compactedRevision])
          this.next = err.compactedRevision
        }
      }
    })().catch((err: unknown) => {
      this.failure = err
    })
  }

  async stop(): Promise<void> {
    this.watcher?.cancel()
    await this.done
  }

  /** What it should have seen: every write of the model, minus the gaps. */
  expected(model: Model): unknown {
    const lost = (rev: number) => this.gaps.some(([from, to]) => rev >= from && rev < to)
    return model
      .events()
      .filter((ev) => !lost(ev.kv.modRevision))
      .map(plain)
  }
}

describe('store vs model', () => {
  it('agree on every result of a random history', async () => {
    const seed = Number(process.env['SEED'] ?? Date.now() % 1_000_000)
    const steps = Number(process.env['STEPS'] ?? 1500)
    console.log(`store vs model: SEED=${seed} STEPS=${steps}`)
    const prng = createPrng(seed)
    const model = new Model()
    const gen = new Generator(prng, model)
    const tmp = tempDbDir()
    let t = await TestStore.open(tmp.dir)
    const extra: Array<() => void> = []
    const follower = new Follower()
    follower.follow(t.store)
    /** The step at which the follower, stopped for a reopen or restore, watches again. */
    let followAt: number | null = null
    let index = 0
    try {
      for (let step = 0; step < steps;) {
        // A batch of committed entries, some of them empty.
        const items = Array.from({ length: prng.int(1, 6) }, () => ({
          index: ++index,
          op: prng.chance(0.05) ? null : gen.op(),
        }))
        step += items.length
        const got = await t.store.applyBatch(items)
        for (const [i, { index: idx, op }] of items.entries()) {
          const expected = op === null ? null : model.apply(op, idx)
          const where = `seed ${seed} step ${step} entry ${idx}: ${JSON.stringify(plain(op))}`
          expect(plain(got[i]), where).toEqual(plain(expected))
          if (expected !== null && 'leaseGrant' in expected) gen.leases.push(expected.leaseGrant.id)
          if (op !== null && 'leaseRevoke' in op)
            gen.leases = gen.leases.filter((id) => id !== op.leaseRevoke.id)
        }
        expect(t.store.revision, `seed ${seed} step ${step}`).toBe(model.rev)
        // Reads of the published state.
        for (let i = prng.int(0, 3); i > 0; i--) {
          const req = gen.range()
          let got: unknown
          let expected: unknown
          try {
            got = plain(t.store.range(req))
          } catch (err) {
            got = { error: (err as { code: string }).code }
          }
          try {
            expected = plain(model.range(req))
          } catch (err) {
            expected = { error: (err as { code: string }).code }
          }
          expect(got, `seed ${seed} step ${step} range ${JSON.stringify(plain(req))}`).toEqual(
            expected,
          )
        }
        const roll = prng.float()
        if (roll < 0.025 && followAt === null) await follower.stop()
        if (roll < 0.01) {
          await t.reopen()
          expect(t.store.loadStats.source).toBe('checkpoint')
          expect(t.store.consistentIndex).toBe(index)
        } else if (roll < 0.015) {
          await t.crashReopen()
          expect(t.store.loadStats.source).toBe('scan')
          expect(t.store.consistentIndex).toBe(index)
        } else if (roll < 0.025) {
          // Swap in a store restored from this one's image.
          const image = t.store.snapshotImage()
          const other = tempDbDir()
          const restored = await TestStore.open(other.dir)
          await restored.restore(image, index)
          await t.store.close()
          t = restored
          extra.push(other.cleanup)
        }
        // Back after a while: a catch-up over a longer history, maybe past a compaction.
        if (roll < 0.025 && followAt === null) followAt = step + prng.int(0, 200)
        if (followAt !== null && step >= followAt) {
          follower.follow(t.store)
          followAt = null
        }
        expect(follower.failure, `seed ${seed} step ${step}: watcher failed`).toBeNull()
      }
      // The watcher has seen every revision, each event once, in order.
      if (followAt !== null) follower.follow(t.store)
      for (let waited = 0; follower.next <= model.rev && waited < 5000; waited += 10) {
        await new Promise((r) => setTimeout(r, 10))
      }
      expect(follower.failure).toBeNull()
      expect(follower.seen.map(plain), `seed ${seed}: watched events`).toEqual(
        follower.expected(model),
      )
      // Every readable revision, at the end.
      const all = { key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) }
      for (let rev = Math.max(1, model.compacted); rev <= model.rev; rev++) {
        expect(
          plain(t.store.range({ ...all, revision: rev })),
          `seed ${seed} final rev ${rev}`,
        ).toEqual(plain(model.range({ ...all, revision: rev })))
      }
    } finally {
      await follower.stop()
      await t.store.close()
      tmp.cleanup()
      for (const cleanup of extra) cleanup()
    }
  })
})
