/**
 * Durability under SIGKILL: a child process appends with several saves in flight and reports
 * every index whose save resolved (fsync returned); the parent kills it at a seeded random
 * moment, reopens the WAL and checks that every acknowledged entry is there, byte for byte.
 * Several rounds run on the same WAL, each child continuing where replay left off.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { createPrng } from '../../../node-core/raft/prng'
import { openWal } from '../../../node-core/wal'
import { dataFor, makeTempDir, removeDir, sizeFor, testSeed } from './helpers'

const CHILD = join(import.meta.dirname, 'append-child.ts')
const SEGMENT_BYTES = 256 * 1024
const ROUNDS = 4

let root: string
beforeEach(async () => {
  root = await makeTempDir('wal-crash')
})
afterEach(async () => {
  await removeDir(root)
})

interface Round {
  ready: number
  acked: number
  stderr: string
  signal: NodeJS.Signals | null
}

function runChild(dir: string, term: number, seed: number, killAfterMs: number): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CHILD, dir, String(term), String(seed), String(SEGMENT_BYTES)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    const round: Round = { ready: -1, acked: 0, stderr: '', signal: null }
    let pending = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      pending += chunk
      const lines = pending.split('\n')
      pending = lines.pop()!
      for (const line of lines) {
        const [what, n] = line.split(' ')
        if (what === 'ready') {
          round.ready = Number(n)
          setTimeout(() => child.kill('SIGKILL'), killAfterMs)
        } else if (what === 'ack') {
          round.acked = Math.max(round.acked, Number(n))
        }
      }
    })
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk: string) => (round.stderr += chunk))
    child.on('error', reject)
    child.on('exit', (_code, signal) => {
      round.signal = signal
      resolve(round)
    })
  })
}

it('never loses an entry whose save resolved when the writer is SIGKILLed', async () => {
  const seed = testSeed('wal SIGKILL')
  const prng = createPrng(seed)
  const dir = join(root, 'wal')
  let ackedEver = 0
  const ackedTerm: number[] = [] // ackedTerm[i]: term of acknowledged entry i
  for (let term = 1; term <= ROUNDS; term++) {
    const killAfterMs = prng.int(5, 250)
    const round = await runChild(dir, term, prng.nextUint32(), killAfterMs)
    const where = `seed ${seed} round ${term} (kill after ${killAfterMs} ms)`
    expect(round.stderr, where).toBe('')
    expect(round.signal, where).toBe('SIGKILL')
    expect(round.ready, where).toBeGreaterThanOrEqual(ackedEver)
    for (let i = round.ready + 1; i <= round.acked; i++) ackedTerm[i] = term
    ackedEver = Math.max(ackedEver, round.acked)

    const opened = await openWal(dir, { segmentBytes: SEGMENT_BYTES })
    try {
      const byIndex = opened.entries
      expect(byIndex.length, where).toBeGreaterThanOrEqual(ackedEver)
      for (let i = 1; i <= ackedEver; i++) {
        const e = byIndex[i - 1]!
        const t = ackedTerm[i]
        if (t === undefined) continue // written by an earlier round but not acknowledged then
        if (
          e.index !== i ||
          e.term !== t ||
          Buffer.compare(e.data, dataFor(i, t, sizeFor(i))) !== 0
        ) {
          expect.fail(
            `${where}: acknowledged entry ${i} (term ${t}) came back as ${e.index}/${e.term}`,
          )
        }
      }
      // The hard state saved with the last acknowledged batch (or a later one) is there too.
      expect(opened.hardState.commit, where).toBeGreaterThanOrEqual(round.acked)
    } finally {
      await opened.wal.close()
    }
    const acked = Math.max(0, round.acked - round.ready)
    console.log(`${where}: replayed ${round.ready}, ${acked} more acknowledged, all present`)
  }
  expect(ackedEver).toBeGreaterThan(0)
}, 60_000)
