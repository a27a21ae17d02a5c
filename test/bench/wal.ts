/**
 * WAL benchmark (not a test): `npx tsx test/bench/wal.ts [--quick]`
 *
 * 1. Appends with fsync: one save() per Ready batch of 1, 16 or 256 entries of 256 bytes,
 *    awaited one after the other (the Ready loop), and the same with many saves in flight at
 *    once (group commit coalescing separate callers into one write + fsync).
 * 2. Reopen: time for openWal() (and readSnapshotMarkers()) on a WAL of 1,000,000 entries.
 * 3. Raw file system: fdatasync'd appends to a growing file versus a preallocated one, to
 *    judge whether segment preallocation would pay.
 * Works in a directory under os.tmpdir() and removes it.
 */
import { mkdtemp, open, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { Entry } from '../../node-core/raft/types'
import { createWal, openWal, readSnapshotMarkers } from '../../node-core/wal'

const ENTRY_BYTES = 256
const quick = process.argv.includes('--quick')
const SECONDS_PER_CASE = quick ? 1 : 3
const REOPEN_ENTRIES = quick ? 200_000 : 1_000_000

function makeEntries(from: number, count: number, term: number): Entry[] {
  const data = new Uint8Array(ENTRY_BYTES).fill(0x61)
  const out: Entry[] = []
  for (let i = 0; i < count; i++) out.push({ index: from + i, term, type: 'normal', data })
  return out
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

async function sequential(root: string, batch: number): Promise<void> {
  const dir = join(root, `seq-${batch}`)
  const wal = await createWal(dir, new Uint8Array(8))
  let index = 1
  let saves = 0
  const latencies: number[] = []
  const t0 = performance.now()
  while (performance.now() - t0 < SECONDS_PER_CASE * 1000) {
    const s = performance.now()
    await wal.save({ term: 1, vote: 1, commit: index - 1 }, makeEntries(index, batch, 1))
    latencies.push(performance.now() - s)
    index += batch
    saves++
  }
  const seconds = (performance.now() - t0) / 1000
  await wal.close()
  latencies.sort((a, b) => a - b)
  const p = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!
  console.log(
    `  batch ${String(batch).padStart(3)}: ${fmt((index - 1) / seconds)} entries/s, ` +
      `${fmt(saves / seconds)} saves (fsyncs)/s, save latency p50 ${p(0.5).toFixed(3)} ms p99 ${p(0.99).toFixed(3)} ms`,
  )
  await rm(dir, { recursive: true, force: true })
}

async function concurrent(root: string, inflight: number, batch: number): Promise<void> {
  const dir = join(root, `conc-${inflight}-${batch}`)
  const wal = await createWal(dir, new Uint8Array(8))
  let index = 1
  let saves = 0
  const t0 = performance.now()
  const deadline = t0 + SECONDS_PER_CASE * 1000
  const worker = async () => {
    while (performance.now() < deadline) {
      const ents = makeEntries(index, batch, 1)
      index += batch
      await wal.save(undefined, ents)
      saves++
    }
  }
  await Promise.all(Array.from({ length: inflight }, worker))
  const seconds = (performance.now() - t0) / 1000
  await wal.close()
  console.log(
    `  ${String(inflight).padStart(3)} saves in flight of ${batch} entr${batch === 1 ? 'y' : 'ies'}: ` +
      `${fmt((index - 1) / seconds)} entries/s, ${fmt(saves / seconds)} saves/s`,
  )
  await rm(dir, { recursive: true, force: true })
}

async function reopen(root: string): Promise<void> {
  const dir = join(root, 'reopen')
  const wal = await createWal(dir, new Uint8Array(8))
  const tw = performance.now()
  for (let i = 1; i <= REOPEN_ENTRIES; i += 1000) {
    await wal.save({ term: 1, vote: 1, commit: i - 1 }, makeEntries(i, 1000, 1))
  }
  await wal.close()
  const writeSeconds = (performance.now() - tw) / 1000
  const segments = wal.status().segments.length
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const opened = await openWal(dir)
  const openSeconds = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  const openCpuSeconds = (cpu.user + cpu.system) / 1e6
  if (opened.entries.length !== REOPEN_ENTRIES) {
    throw new Error(`replayed ${opened.entries.length} entries, wrote ${REOPEN_ENTRIES}`)
  }
  await opened.wal.close()
  const t1 = performance.now()
  await readSnapshotMarkers(dir)
  const markerSeconds = (performance.now() - t1) / 1000
  const load = loadavg()[0]!.toFixed(1)
  console.log(
    `  ${fmt(REOPEN_ENTRIES)} entries of ${ENTRY_BYTES} bytes in ${segments} segments ` +
      `(written in ${writeSeconds.toFixed(2)} s): openWal ${openSeconds.toFixed(2)} s ` +
      `(${openCpuSeconds.toFixed(2)} s CPU), ` +
      `readSnapshotMarkers ${markerSeconds.toFixed(2)} s (target: openWal under 5 s; load average ${load})`,
  )
  await rm(dir, { recursive: true, force: true })
}

async function rawAppends(root: string, preallocate: boolean, writeBytes: number): Promise<void> {
  const path = join(root, `raw-${preallocate}-${writeBytes}`)
  const fh = await open(path, 'w+')
  const fileBytes = 64 * 1024 * 1024
  if (preallocate) {
    const zeros = Buffer.alloc(1024 * 1024)
    for (let off = 0; off < fileBytes; off += zeros.length)
      await fh.write(zeros, 0, zeros.length, off)
    await fh.sync()
  }
  const buf = Buffer.alloc(writeBytes, 0x61)
  let pos = 0
  let n = 0
  const t0 = performance.now()
  while (performance.now() - t0 < SECONDS_PER_CASE * 500 && pos + writeBytes <= fileBytes) {
    await fh.write(buf, 0, writeBytes, pos)
    await fh.datasync()
    pos += writeBytes
    n++
  }
  const seconds = (performance.now() - t0) / 1000
  await fh.close()
  console.log(
    `  ${preallocate ? 'preallocated' : 'growing     '} file, ${String(writeBytes).padStart(6)}-byte writes: ` +
      `${fmt(n / seconds)} write+fdatasync/s`,
  )
  await rm(path, { force: true })
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'raftdesk-bench-wal-'))
  try {
    console.log(
      `WAL benchmark in ${root}${quick ? ' (quick)' : ''}, load average ${loadavg()[0]!.toFixed(1)}`,
    )
    console.log('Ready loop: one save per batch, awaited, hard state + entries, fdatasync each:')
    for (const batch of [1, 16, 256]) await sequential(root, batch)
    console.log('Group commit across callers (saves queued while a flush runs share its fsync):')
    for (const [inflight, batch] of [
      [16, 1],
      [64, 1],
      [16, 16],
    ] as const) {
      await concurrent(root, inflight, batch)
    }
    console.log('Reopen:')
    await reopen(root)
    console.log('Raw file system (does preallocating segments pay?):')
    for (const bytes of [304, 4864]) {
      await rawAppends(root, false, bytes)
      await rawAppends(root, true, bytes)
    }
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

await main()
