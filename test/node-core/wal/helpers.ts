/** Shared helpers of the WAL tests: temp directories, deterministic entries, seeds. */
import { randomInt } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Entry } from '../../../node-core/raft/types'

export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `raftdesk-${prefix}-`))
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
}

/** Payload bytes that depend on (index, term) and are never zero, so tests can check them. */
export function dataFor(index: number, term: number, bytes: number): Uint8Array {
  const data = new Uint8Array(bytes)
  for (let i = 0; i < bytes; i++) data[i] = ((index * 131 + term * 17 + i * 7) % 255) + 1
  return data
}

/** The data size of entry `index` in the crash test (0..1023 bytes, spread by a hash). */
export function sizeFor(index: number): number {
  return Math.imul(index, 0x9e3779b1) >>> 22
}

export function entry(index: number, term: number, bytes = 32): Entry {
  return { index, term, type: 'normal', data: dataFor(index, term, bytes) }
}

export function entries(from: number, to: number, term: number, bytes = 32): Entry[] {
  const out: Entry[] = []
  for (let i = from; i <= to; i++) out.push(entry(i, term, bytes))
  return out
}

/** Entries as plain comparable values (Uint8Array views compare by content this way). */
export function plain(
  list: readonly Entry[],
): { index: number; term: number; type: string; data: number[] }[] {
  return list.map((e) => ({ index: e.index, term: e.term, type: e.type, data: Array.from(e.data) }))
}

/** The seed of a randomised test: SEED from the environment, else a fresh one; printed. */
export function testSeed(name: string): number {
  const fromEnv = process.env.SEED
  const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : randomInt(1, 2 ** 31)
  console.log(`${name}: seed ${seed} (reproduce with SEED=${seed})`)
  return seed
}

export const textEncoder = new TextEncoder()

/** The first difference between two entry lists, or undefined: cheap enough for hot loops. */
export function entriesDiff(
  actual: readonly Entry[],
  expected: readonly Entry[],
): string | undefined {
  if (actual.length !== expected.length) {
    return `${actual.length} entries (last ${actual.at(-1)?.index}), expected ${expected.length} (last ${expected.at(-1)?.index})`
  }
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!
    const e = expected[i]!
    if (a.index !== e.index || a.term !== e.term || a.type !== e.type) {
      return `entry ${i}: ${a.index}/${a.term}/${a.type}, expected ${e.index}/${e.term}/${e.type}`
    }
    if (Buffer.compare(a.data, e.data) !== 0) return `entry ${a.index}: data differs`
  }
  return undefined
}
