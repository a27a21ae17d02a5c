// Each environment boundary of DESIGN.md is a lint rule; each rule is proven here by linting a
// fixture that breaks it as if it stood in the folder the rule guards.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '../..')
const eslint = new ESLint({ cwd: root })

async function lintAs(fixture: string, filePath: string) {
  const code = readFileSync(join(import.meta.dirname, 'fixtures', fixture), 'utf8')
  const [result] = await eslint.lintText(code, { filePath: join(root, filePath) })
  return result!.messages.map((m) => `${m.ruleId}: ${m.message}`)
}

const cases: Array<[string, string, string, RegExp]> = [
  [
    'raft reads the clock',
    'raft-uses-clock.ts',
    'node-core/raft/x.ts',
    /no-restricted-globals.*'Date'/,
  ],
  [
    'raft uses Math.random',
    'raft-uses-random.ts',
    'node-core/raft/x.ts',
    /no-restricted-properties.*Math\.random/,
  ],
  [
    'raft uses a timer',
    'raft-uses-timer.ts',
    'node-core/raft/x.ts',
    /no-restricted-globals.*'setTimeout'/,
  ],
  [
    'raft imports node:fs',
    'raft-imports-fs.ts',
    'node-core/raft/x.ts',
    /no-restricted-imports.*raft core is pure/,
  ],
  [
    'raft imports a bare builtin',
    'raft-imports-bare-builtin.ts',
    'node-core/raft/deep/x.ts',
    /no-restricted-imports.*raft core is pure/,
  ],
  [
    'node-core imports electron',
    'core-imports-electron.ts',
    'node-core/server/x.ts',
    /no-restricted-imports.*no Electron/,
  ],
  [
    'node-core imports vue',
    'core-imports-vue.ts',
    'node-core/mvcc/x.ts',
    /no-restricted-imports.*no Vue/,
  ],
  [
    'node-core uses the DOM',
    'core-uses-dom.ts',
    'node-core/wal/x.ts',
    /no-restricted-globals.*'document'/,
  ],
  [
    'renderer imports fs',
    'renderer-imports-fs.ts',
    'renderer/src/x.ts',
    /no-restricted-imports.*no Node builtins/,
  ],
  [
    'renderer imports electron',
    'renderer-imports-electron.ts',
    'renderer/src/x.ts',
    /no-restricted-imports.*no Electron/,
  ],
  [
    'renderer uses process',
    'renderer-uses-process.ts',
    'renderer/src/x.ts',
    /no-restricted-globals.*'process'/,
  ],
  [
    'raft imports the server',
    'raft-imports-server.ts',
    'node-core/raft/x.ts',
    /import-x\/no-restricted-paths.*raft\/ \(raft, storage and state machine\) cannot import server\//,
  ],
  [
    'the server imports the gRPC layer',
    'server-imports-api.ts',
    'node-core/server/x.ts',
    /import-x\/no-restricted-paths.*server\/ .* cannot import api\//,
  ],
  [
    'transport imports the server beside it',
    'transport-imports-server.ts',
    'node-core/transport/x.ts',
    /import-x\/no-restricted-paths.*transport\/ and server\/ are peers/,
  ],
  [
    'snap imports the WAL beside it',
    'snap-imports-wal.ts',
    'node-core/snap/x.ts',
    /import-x\/no-restricted-paths.*snap\/ and wal\/ are peers/,
  ],
  [
    'kernel imports mvcc',
    'kernel-imports-mvcc.ts',
    'node-core/kernel/x.ts',
    /import-x\/no-restricted-paths.*kernel\/ \(kernel\) cannot import mvcc\//,
  ],
  [
    'node-core imports preload',
    'core-imports-preload.ts',
    'node-core/services/x.ts',
    /import-x\/no-restricted-paths.*node-core is under the app/,
  ],
  [
    'the contract imports node-core',
    'contract-imports-core.ts',
    'contract/x.ts',
    /import-x\/no-restricted-paths.*contract\/ is type-only/,
  ],
  [
    'the server imports grpc-js',
    'lower-imports-grpc.ts',
    'node-core/server/x.ts',
    /no-restricted-imports.*no grpc-js/,
  ],
  [
    'the raft core imports grpc-js',
    'lower-imports-grpc.ts',
    'node-core/raft/x.ts',
    /no-restricted-imports.*no grpc-js/,
  ],
]

describe('lint boundaries', () => {
  it.each(cases)('fires when %s', async (_title, fixture, filePath, expected) => {
    const messages = await lintAs(fixture, filePath)
    expect(messages.join('\n')).toMatch(expected)
  })

  it('lets node-core use Node builtins outside raft', async () => {
    expect(await lintAs('raft-imports-fs.ts', 'node-core/wal/x.ts')).toEqual([])
  })

  it('lets main use electron', async () => {
    expect(await lintAs('core-imports-electron.ts', 'main/x.ts')).toEqual([])
  })

  it('lets a layer import those below it and its allowed peers', async () => {
    expect(await lintAs('server-imports-mvcc.ts', 'node-core/server/x.ts')).toEqual([])
    expect(await lintAs('server-imports-api.ts', 'node-core/cluster/x.ts')).toEqual([])
    expect(await lintAs('lower-imports-grpc.ts', 'node-core/api/x.ts')).toEqual([])
    expect(await lintAs('transport-imports-server.ts', 'node-core/sim/x.ts')).toEqual([])
  })

  it('passes clean raft code', async () => {
    expect(await lintAs('clean-core.ts', 'node-core/raft/x.ts')).toEqual([])
  })
})
