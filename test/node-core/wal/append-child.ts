/**
 * Child process of crash.test.ts: appends to a WAL as fast as it can, several saves in flight,
 * and prints `ack <index>` on stdout each time a save resolves (its fsync returned), until the
 * parent kills it with SIGKILL.
 *
 *   node --import tsx append-child.ts <dir> <term> <seed> <segmentBytes>
 *
 * Entry i of term t carries dataFor(i, t, sizeFor(i)), so the parent can check the bytes.
 */
import { createPrng } from '../../../node-core/raft/prng'
import type { Entry } from '../../../node-core/raft/types'
import { createWal, openWal, walExists } from '../../../node-core/wal'
import { dataFor, sizeFor } from './helpers'

async function main(): Promise<void> {
  const [dir, termArg, seedArg, segmentArg] = process.argv.slice(2)
  const term = Number(termArg)
  const prng = createPrng(Number(seedArg))
  const opts = { segmentBytes: Number(segmentArg) }
  let lastIndex: number
  let wal
  if (await walExists(dir!)) {
    const opened = await openWal(dir!, opts)
    wal = opened.wal
    lastIndex = opened.entries.at(-1)?.index ?? 0
  } else {
    wal = await createWal(dir!, new TextEncoder().encode('crash test'), opts)
    lastIndex = 0
  }
  process.stdout.write(`ready ${lastIndex}\n`)
  const inflightMax = prng.int(1, 9)
  let inflight = 0
  const pump = () => {
    while (inflight < inflightMax) {
      const count = prng.int(1, 20)
      const batch: Entry[] = []
      for (let i = 1; i <= count; i++) {
        const index = lastIndex + i
        batch.push({ index, term, type: 'normal', data: dataFor(index, term, sizeFor(index)) })
      }
      lastIndex += count
      const last = lastIndex
      inflight++
      wal.save({ term, vote: 1, commit: last }, batch).then(
        () => {
          process.stdout.write(`ack ${last}\n`)
          inflight--
          pump()
        },
        (err: unknown) => {
          process.stderr.write(`save failed: ${String(err)}\n`)
          process.exit(2)
        },
      )
    }
  }
  pump()
}

main().catch((err: unknown) => {
  process.stderr.write(`child failed: ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(1)
})
