/**
 * Benchmark of the mvcc store (not a test; prints figures). Run with
 *
 *   npx tsx test/bench/mvcc.ts            (KEYS=1000000 by default; KEYS=200000 for a quick run)
 *
 * Measures, on a fresh store in a temp dir:
 *   1. put throughput: KEYS puts of 10-byte keys and 256-byte values, 100 puts per applyBatch
 *      (as a ready loop would apply a batch of committed entries), one LevelDB batch each;
 *   2. range throughput: single-key gets of random keys, and 100-key prefix ranges;
 *   3. key index memory per key: heapUsed before/after building a KeyIndex of KEYS keys (one put
 *      each), after a full GC, divided by KEYS;
 *   4. reopen time: openStore() after a clean close (the index comes from the checkpoint written
 *      on close) and as after a crash (one ordered scan of the records), with the CPU time of all
 *      threads beside the wall time (the machine may be shared) and the heap the store holds.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { KeyIndex } from '../../node-core/mvcc/key-index'
import { keyString, prefixRangeEnd } from '../../node-core/mvcc/keys'
import { openStore, type MvccStore, type StoreOptions } from '../../node-core/mvcc/store'
import { createPrng } from '../../node-core/raft/prng'

const KEYS = Number(process.env['KEYS'] ?? 1_000_000)
const BATCH = 100
const GROUP = 100 // keys per prefix
const VALUE_BYTES = 256

// A full GC on demand without requiring --expose-gc on the command line.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const enc = new TextEncoder()
/** Key i: "p" + group (6 digits) + "/" + index in group (2 digits), 10 bytes; 100 per prefix. */
function key(i: number): Uint8Array {
  const group = Math.floor(i / GROUP)
  return enc.encode(`p${String(group).padStart(6, '0')}/${String(i % GROUP).padStart(2, '0')}`)
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
}

function heapMiB(): number {
  gc()
  return process.memoryUsage().heapUsed / (1024 * 1024)
}

/** heapUsed delta of a KeyIndex of KEYS keys (one put each), after full GCs, per key. */
function indexMemory(): void {
  const before = heapMiB()
  const idx = new KeyIndex()
  for (let i = 0; i < KEYS; i++) idx.put(keyString(key(i)), i + 1, 0)
  const after = heapMiB()
  const perKey = ((after - before) * 1024 * 1024) / idx.size
  console.log(
    `index memory: ${fmt(perKey, 1)} bytes/key (${fmt(after - before, 1)} MiB for ${fmt(idx.size)} keys of 10 bytes)`,
  )
}

/** Opens the store, printing wall and CPU time, how the index was rebuilt, and the heap. */
async function reopen(dir: string, label: string, opts: StoreOptions): Promise<MvccStore> {
  const heapBefore = heapMiB()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const store = await openStore(dir, opts)
  const ms = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  const heapAfter = heapMiB()
  if (store.indexedKeys !== KEYS) {
    throw new Error(`reopened with ${store.indexedKeys} keys, want ${KEYS}`)
  }
  const { source, scanMs, buildMs } = store.loadStats
  console.log(
    `reopen (${label}): ${fmt(ms)} ms wall, ${fmt((cpu.user + cpu.system) / 1000)} ms CPU (all threads), ${fmt(store.indexedKeys)} keys from the ${source}: read ${fmt(scanMs)} ms, build ${fmt(buildMs)} ms; heap +${fmt(heapAfter - heapBefore, 1)} MiB`,
  )
  return store
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'mvcc-bench-'))
  const dir = join(root, 'db')
  const prng = createPrng(1)
  const value = new Uint8Array(VALUE_BYTES).map(() => prng.int(0, 256))
  console.log(
    `mvcc bench: ${fmt(KEYS)} keys, ${VALUE_BYTES}-byte values, ${BATCH} puts per applyBatch`,
  )
  console.log(`node ${process.version}, data in ${root}`)

  // 1. Puts.
  let store = await openStore(dir)
  let index = 0
  let t0 = performance.now()
  for (let i = 0; i < KEYS; i += BATCH) {
    const items = []
    for (let j = i; j < Math.min(KEYS, i + BATCH); j++) {
      items.push({ index: ++index, op: { type: 'put' as const, put: { key: key(j), value } } })
    }
    await store.applyBatch(items)
  }
  let ms = performance.now() - t0
  console.log(`put:          ${fmt(KEYS / (ms / 1000))} puts/s (${fmt(ms)} ms for ${fmt(KEYS)})`)

  // 2. Ranges.
  const gets = 200_000
  t0 = performance.now()
  let found = 0
  for (let i = 0; i < gets; i++) found += store.range({ key: key(prng.int(0, KEYS)) }).count
  ms = performance.now() - t0
  if (found !== gets) throw new Error(`gets found ${found} of ${gets} keys`)
  console.log(`get:          ${fmt(gets / (ms / 1000))} single-key ranges/s`)
  const groups = Math.ceil(KEYS / GROUP)
  const prefixRanges = 5_000
  t0 = performance.now()
  let kvs = 0
  for (let i = 0; i < prefixRanges; i++) {
    const prefix = enc.encode(`p${String(prng.int(0, groups)).padStart(6, '0')}/`)
    kvs += store.range({ key: prefix, rangeEnd: prefixRangeEnd(prefix) }).kvs.length
  }
  ms = performance.now() - t0
  console.log(
    `prefix range: ${fmt(prefixRanges / (ms / 1000))} ranges/s of ~${fmt(kvs / prefixRanges)} keys (${fmt(kvs / (ms / 1000))} kvs/s)`,
  )

  // 3. Index memory per key, measured on an index built alone.
  indexMemory()

  // 4. Reopen: after a clean close (index checkpoint), then as after a crash (ordered scan).
  await store.close()
  store = await reopen(dir, 'clean close', { checkpointOnClose: false })
  // One batch deletes the checkpoint; closing without writing one leaves what a crash leaves.
  await store.applyBatch([{ index: store.consistentIndex + 1, op: null }])
  await store.close()
  store = await reopen(dir, 'after crash', {})
  await store.close()
  rmSync(root, { recursive: true, force: true })
}

await main()
