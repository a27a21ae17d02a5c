// Runs every script under testdata/: each command's output must match the trace written below
// it. `UPDATE_GOLDEN=1 npx vitest run test/node-core/raft` rewrites the traces instead (review
// the diff before committing it).
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runScript } from './harness'

const dir = join(import.meta.dirname, 'testdata')
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.txt'))
  .sort()
const update = process.env.UPDATE_GOLDEN === '1'

describe('raft interaction scripts', () => {
  it('finds the scripts', () => {
    expect(files.length).toBeGreaterThan(0)
  })

  for (const file of files) {
    it(file, () => {
      const path = join(dir, file)
      const { actual, expected } = runScript(readFileSync(path, 'utf8'), file)
      if (update) {
        if (actual !== expected) writeFileSync(path, actual)
        return
      }
      expect(actual).toBe(expected)
    })
  }
})
