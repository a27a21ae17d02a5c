/**
 * How long a node takes to come back: reopen a single-member node whose WAL holds N entries
 * (no snapshot), and one whose state is a snapshot of N keys (WAL released), until it has
 * replayed everything and serves a linearizable read. Also the worst case: the store is gone and
 * must be rebuilt from the snapshot file.
 *
 *   npx tsx test/bench/node-reopen.ts [--keys 1000000] [--value-bytes 64]
 *
 * Prints one line per case. The target is under 5 s for 1 million.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { NODE_DEFAULTS, RaftdeskNode } from '../../node-core/server/node'
import { silentLogger } from '../../node-core/kernel/logger'
import { MemoryNetwork } from '../../node-core/transport/memory'

const { values } = parseArgs({
  options: { keys: { type: 'string' }, 'value-bytes': { type: 'string' } },
})
const keys = Number(values.keys ?? 1_000_000)
const valueBytes = Number(values['value-bytes'] ?? 64)

function options(dataDir: string, snapshotCount: number) {
  const net = new MemoryNetwork()
  return {
    ...NODE_DEFAULTS,
    name: 'n1',
    dataDir,
    token: 'bench',
    peerUrl: 'http://127.0.0.1:1',
    clientUrl: 'http://127.0.0.1:2',
    bootstrap: {
      members: [{ name: 'n1', peerUrl: 'http://127.0.0.1:1', clientUrl: 'http://127.0.0.1:2' }],
    },
    snapshotCount,
    snapshotCatchUpEntries: 0,
    requestTimeoutMs: 120_000,
    logger: silentLogger,
    transportFactory: (id: number) => net.endpoint(id),
  }
}

async function waitLeader(node: RaftdeskNode): Promise<void> {
  while (!node.isLeader) await new Promise((r) => setTimeout(r, 5))
}

async function fill(dataDir: string, snapshotCount: number): Promise<void> {
  const node = await RaftdeskNode.open(options(dataDir, snapshotCount))
  await node.start()
  await waitLeader(node)
  const value = Buffer.alloc(valueBytes, 7)
  const began = performance.now()
  const inFlight = 2048
  let next = 0
  const worker = async () => {
    while (next < keys) {
      const i = next++
      await node.propose({
        type: 'put',
        put: { key: Buffer.from(`key/${String(i).padStart(8, '0')}`), value },
      })
    }
  }
  await Promise.all(Array.from({ length: inFlight }, worker))
  const s = (performance.now() - began) / 1000
  process.stderr.write(
    `  filled ${keys} puts in ${s.toFixed(1)} s (${Math.round(keys / s)} puts/s)\n`,
  )
  if (snapshotCount <= keys) {
    while (node.status().snapshotIndex < keys) await new Promise((r) => setTimeout(r, 50))
  }
  await node.stop()
}

async function reopen(dataDir: string, snapshotCount: number): Promise<number> {
  const began = performance.now()
  const node = await RaftdeskNode.open(options(dataDir, snapshotCount))
  await node.start()
  await waitLeader(node)
  const res = await node.range({
    key: Buffer.from('key/'),
    rangeEnd: Buffer.from('key0'),
    countOnly: true,
  })
  const ms = performance.now() - began
  if (res.count !== keys) throw new Error(`reopened with ${res.count} keys, expected ${keys}`)
  await node.stop()
  return ms
}

const root = mkdtempSync(join(tmpdir(), 'raftdesk-bench-reopen-'))
try {
  const walDir = join(root, 'wal-only')
  process.stderr.write(`WAL with ${keys} entries:\n`)
  await fill(walDir, keys * 10)
  const walMs = await reopen(walDir, keys * 10)
  console.log(`reopen, ${keys} entries in the WAL: ${(walMs / 1000).toFixed(2)} s`)

  const snapDir = join(root, 'snapshot')
  process.stderr.write(`snapshot of ${keys} keys:\n`)
  await fill(snapDir, keys)
  const snapMs = await reopen(snapDir, keys)
  console.log(`reopen, snapshot of ${keys} keys (store intact): ${(snapMs / 1000).toFixed(2)} s`)
  await rm(join(snapDir, 'n1', 'db'), { recursive: true, force: true })
  const restoreMs = await reopen(snapDir, keys)
  console.log(
    `reopen, snapshot of ${keys} keys (store rebuilt from the snapshot): ${(restoreMs / 1000).toFixed(2)} s`,
  )
} finally {
  rmSync(root, { recursive: true, force: true })
}
