import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { bundledNodeEntry } from '../../node-core/cluster/node-bundle'

describe('the node entry bundle (what `npm run serve` runs the nodes from)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raftdesk-bundle-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('is one JavaScript file with the .proto files beside it, rebuilt only when older than the sources', async () => {
    // Its own directory: other tests build the shared one meanwhile.
    const path = await bundledNodeEntry(dir)
    expect(path).toBe(join(dir, 'node-main.mjs'))
    const text = readFileSync(path, 'utf8')
    // Plain JavaScript: the raft core is inside, the libraries stay imports of node_modules.
    expect(text).toContain('// node-core/raft/rawnode.ts')
    expect(text).toMatch(/} from "@grpc\/grpc-js";/)
    expect(text).not.toMatch(/from "\.{1,2}\//)
    expect(statSync(join(path, '..', 'proto', 'rpc.proto')).isFile()).toBe(true)

    const built = statSync(path).mtimeMs
    await bundledNodeEntry(dir)
    expect(statSync(path).mtimeMs).toBe(built) // fresh: reused

    utimesSync(path, new Date(1000), new Date(1000)) // older than every source
    await bundledNodeEntry(dir)
    expect(statSync(path).mtimeMs).toBeGreaterThan(1_000_000)
  })
})
