// Every message key the window uses exists in every language, and the languages have the same
// keys: a string missing from zh-CN (or misspelt anywhere) fails here, not on someone's screen.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { en } from '../../renderer/src/i18n/en'
import { zhCN } from '../../renderer/src/i18n/zh-CN'

const src = join(import.meta.dirname, '../../renderer/src')

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(vue|ts)$/.test(e.name))
    .map((e) => join(e.parentPath, e.name))
}

function leaves(obj: object, at = ''): string[] {
  return Object.entries(obj).flatMap(([k, v]) =>
    typeof v === 'string' ? [`${at}${k}`] : leaves(v as object, `${at}${k}.`),
  )
}

function has(messages: object, key: string): boolean {
  let node: unknown = messages
  for (const part of key.split('.')) {
    if (typeof node !== 'object' || node === null || !(part in node)) return false
    node = (node as Record<string, unknown>)[part]
  }
  return typeof node === 'string'
}

describe('i18n', () => {
  it('has the same keys in English and Simplified Chinese', () => {
    expect(leaves(zhCN).sort()).toEqual(leaves(en).sort())
  })

  it('resolves every literal key the window uses, in every language', () => {
    const used = new Set<string>()
    for (const f of files(src)) {
      for (const m of readFileSync(f, 'utf8').matchAll(/\bt\(\s*'([a-zA-Z]+(?:\.[a-zA-Z]+)+)'/g)) {
        used.add(m[1]!)
      }
    }
    expect(used.size).toBeGreaterThan(50)
    const missing = [...used].filter((k) => !has(en, k) || !has(zhCN, k))
    expect(missing).toEqual([])
  })
})
