import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { renameDurably, writeFileAtomic } from '../../../node-core/kernel/fs'

let dir = ''
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
  dir = ''
})

describe('kernel fs helpers', () => {
  it('replaces a file whole and leaves no temporary file behind', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftdesk-fs-'))
    const file = join(dir, 'record.json')
    writeFileSync(file, 'old')
    await writeFileAtomic(file, '{"version":2}')
    expect(readFileSync(file, 'utf8')).toBe('{"version":2}')
    await writeFileAtomic(file, new Uint8Array([1, 2, 3]))
    expect([...readFileSync(file)]).toEqual([1, 2, 3])
    expect(readdirSync(dir)).toEqual(['record.json'])
  })

  it('keeps the old file when the new one cannot be written', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftdesk-fs-'))
    const file = join(dir, 'missing-dir', 'record.json')
    await expect(writeFileAtomic(file, 'x')).rejects.toThrow(/ENOENT/)
    expect(readdirSync(dir)).toEqual([])
  })

  it('renames durably, and fails without touching anything when the source is gone', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftdesk-fs-'))
    writeFileSync(join(dir, 'a'), 'a')
    await renameDurably(join(dir, 'a'), join(dir, 'b'))
    expect(readdirSync(dir)).toEqual(['b'])
    await expect(renameDurably(join(dir, 'a'), join(dir, 'c'))).rejects.toThrow(/ENOENT/)
    expect(readdirSync(dir)).toEqual(['b'])
  })
})
