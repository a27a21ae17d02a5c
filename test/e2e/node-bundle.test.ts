import { readFileSync, statSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { bundledNodeEntry, NODE_BUNDLE } from '../../node-core/cluster/node-bundle'

describe('the node entry bundle (what `npm run serve` runs the nodes from)', () => {
  it('is one JavaScript file with the .proto files beside it, rebuilt only when older than the sources', async () => {
    const path = await bundledNodeEntry()
    expect(path).toBe(NODE_BUNDLE)
    const text = readFileSync(path, 'utf8')
    // Plain JavaScript: the raft core is inside, the libraries stay imports of node_modules.
    expect(text).toContain('// node-core/raft/rawnode.ts')
    expect(text).toMatch(/} from "@grpc\/grpc-js";/)
    expect(text).not.toMatch(/from "\.{1,2}\//)
    expect(statSync(join(path, '..', 'proto', 'rpc.proto')).isFile()).toBe(true)

    const built = statSync(path).mtimeMs
    await bundledNodeEntry()
    expect(statSync(path).mtimeMs).toBe(built) // fresh: reused

    utimesSync(path, new Date(1000), new Date(1000)) // older than every source
    await bundledNodeEntry()
    expect(statSync(path).mtimeMs).toBeGreaterThan(1_000_000)
  })
})
