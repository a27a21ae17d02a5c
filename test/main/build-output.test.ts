// The packaged app runs its nodes from built JavaScript: the build writes the node entry (and
// the .proto files it loads) beside main's, a node started from it under plain Node (no tsx)
// serves etcd's API, and electron-builder's config packs the build and unpacks the native
// modules that cannot load from inside an asar.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EtcdClient } from '../../node-core/client/etcd-client'
import { ForkLauncher } from '../../node-core/cluster/launcher'
import { LocalCluster } from '../../node-core/cluster/supervisor'
import { freePortBlock } from '../helpers/ports'

const root = join(import.meta.dirname, '../..')
const entry = join(root, 'out/main/node-main.js')

describe('build output', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raftdesk-built-'))
  let cluster: LocalCluster | null = null

  beforeAll(() => {
    execFileSync(join(root, 'node_modules/.bin/electron-vite'), ['build'], {
      cwd: root,
      stdio: 'ignore',
    })
  }, 120_000)

  afterAll(async () => {
    await cluster?.stop().catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
  })

  it('writes the node entry and its .proto files beside main', () => {
    expect(existsSync(join(root, 'out/main/index.js'))).toBe(true)
    expect(existsSync(entry)).toBe(true)
    for (const f of ['rpc.proto', 'kv.proto', 'auth.proto', 'raftdesk.proto']) {
      expect(existsSync(join(root, 'out/main/proto', f)), f).toBe(true)
    }
  })

  it('runs a node from the built entry under plain Node, serving the etcd API', async () => {
    const launcher = new ForkLauncher({ entry })
    cluster = await LocalCluster.start({
      nodes: 1,
      dataDir: dir,
      clientPort: await freePortBlock(1),
      launcher,
    })
    await cluster.waitForLeader(20_000)
    const client = new EtcdClient(cluster.list()[0]!.endpoint)
    try {
      await client.put('built', 'yes')
      expect(await client.get('built')).toBe('yes')
    } finally {
      client.close()
    }
  }, 60_000)

  it('packs the build and unpacks the native modules from the asar', () => {
    const config = readFileSync(join(root, 'build/electron-builder.yml'), 'utf8')
    expect(config).toMatch(/^files:\n(?:\s+- .*\n)*\s+- out\/\*\*\/\*$/m)
    expect(config).toMatch(/^asar: true$/m)
    const unpack = /^asarUnpack:\n((?:\s+- .*\n)+)/m.exec(config)?.[1] ?? ''
    expect(unpack).toContain('classic-level')
    expect(unpack).toContain('*.node')
    expect(config).toMatch(/^\s+main: out\/main\/index\.js$/m)
  })
})
