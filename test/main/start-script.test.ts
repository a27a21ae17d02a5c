// `npm start` where Electron's binary was never downloaded says so in one sentence and names
// `npm run serve`, instead of electron's bare install error.
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

describe('npm start', () => {
  it('explains a missing Electron binary and names the headless way', () => {
    const root = mkdtempSync(join(tmpdir(), 'raftdesk-start-'))
    try {
      mkdirSync(join(root, 'build'))
      mkdirSync(join(root, 'node_modules', 'electron'), { recursive: true })
      copyFileSync(
        join(import.meta.dirname, '../../build/start.mjs'),
        join(root, 'build/start.mjs'),
      )
      const run = spawnSync(process.execPath, [join(root, 'build/start.mjs')], { encoding: 'utf8' })
      expect(run.status).toBe(1)
      const lines = run.stderr.trim().split('\n')
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(/Electron's binary is not installed/)
      expect(lines[0]).toContain('npm run serve')
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})
