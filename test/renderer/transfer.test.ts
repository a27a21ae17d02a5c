// Import files in every format the window reads, the refusals with where they went wrong, the
// batching that keeps each bulk/import call under the transport's message bound, and export
// file names.
import { describe, expect, it } from 'vitest'
import type { ImportEntry } from '../../contract'
import {
  batches,
  exportFileName,
  ImportFormatError,
  parseImport,
} from '../../renderer/src/lib/transfer'

const enc = (s: string) => new TextEncoder().encode(s)
const dec = (b: Uint8Array) => new TextDecoder().decode(b)
const pairs = (entries: ImportEntry[]) => entries.map((e) => [dec(e.key), dec(e.value)])
const b64 = (s: string) => btoa(s)

describe('parseImport', () => {
  it("reads raftdesk's export, text and base64 fields alike", () => {
    const doc = {
      raftdesk: 'export',
      version: 1,
      prefix: 'a/',
      revision: 9,
      keys: [
        { key: 'a/1', value: 'one' },
        { key_base64: b64('a/2'), value_base64: btoa(String.fromCharCode(0, 255)) },
      ],
    }
    const parsed = parseImport(enc(JSON.stringify(doc)))
    expect(parsed.format).toBe('raftdesk')
    expect(dec(parsed.entries[0]!.key)).toBe('a/1')
    expect(dec(parsed.entries[1]!.key)).toBe('a/2')
    expect([...parsed.entries[1]!.value]).toEqual([0, 255])
  })

  it("reads etcdctl's -w json output, where an empty value is left out", () => {
    const doc = {
      header: { cluster_id: 1, revision: 4 },
      kvs: [
        { key: b64('k1'), create_revision: 2, mod_revision: 2, version: 1, value: b64('v1') },
        { key: b64('k2'), create_revision: 3, mod_revision: 3, version: 1 },
      ],
      count: 2,
    }
    const parsed = parseImport(enc(JSON.stringify(doc)))
    expect(parsed.format).toBe('etcdctl-json')
    expect(pairs(parsed.entries)).toEqual([
      ['k1', 'v1'],
      ['k2', ''],
    ])
    expect(parseImport(enc('{"header":{"revision":1},"count":0}')).entries).toEqual([])
  })

  it('reads a JSON array of pairs and a JSON map (other values kept as their JSON)', () => {
    expect(pairs(parseImport(enc('[{"key":"x","value":"1"}]')).entries)).toEqual([['x', '1']])
    const map = parseImport(enc('{"a":"1","b":{"n":2},"c":3}'))
    expect(map.format).toBe('json-map')
    expect(pairs(map.entries)).toEqual([
      ['a', '1'],
      ['b', '{"n":2}'],
      ['c', '3'],
    ])
  })

  it("reads etcdctl's lines, CRLF too, and keeps bytes that are not text", () => {
    const parsed = parseImport(enc('k1\nv1\r\nk2\n\n'))
    expect(parsed.format).toBe('lines')
    expect(pairs(parsed.entries)).toEqual([
      ['k1', 'v1'],
      ['k2', ''],
    ])
    const raw = new Uint8Array([0x6b, 0x0a, 0xff, 0x00, 0x0a])
    expect([...parseImport(raw).entries[0]!.value]).toEqual([0xff, 0x00])
  })

  it('refuses what it cannot read, saying where', () => {
    const refusal = (text: string) => {
      try {
        parseImport(enc(text))
      } catch (err) {
        expect(err).toBeInstanceOf(ImportFormatError)
        return (err as Error).message
      }
      throw new Error(`accepted ${text}`)
    }
    expect(refusal('  \n')).toMatch(/empty/)
    expect(refusal('{"a": ')).toMatch(/starts like JSON but is not/)
    expect(refusal('k1\nv1\nk2\n')).toMatch(/line 3 is a key without a value/)
    expect(refusal('[{"key":"a"}]')).toMatch(/entry 1 has no value/)
    expect(refusal('[{"key":"","value":"x"}]')).toMatch(/entry 1 has an empty key/)
    expect(refusal('{"header":{},"kvs":[{"key":"**","value":""}]}')).toMatch(
      /kvs\[0\]\.key is not base64/,
    )
    expect(refusal('{"raftdesk":"export","keys":3}')).toMatch(/no "keys" list/)
    expect(refusal('[1]')).toMatch(/entry 1 is not an object/)
  })
})

describe('batches', () => {
  it('cuts by count and by bytes, never leaving a batch empty', () => {
    const e = (n: number): ImportEntry => ({ key: enc('k'), value: new Uint8Array(n) })
    expect(batches([e(1), e(1), e(1)], 2).map((b) => b.length)).toEqual([2, 1])
    expect(batches([e(600), e(600), e(10)], 500, 1000).map((b) => b.length)).toEqual([1, 2])
    // An entry larger than the bound travels alone.
    expect(batches([e(5000), e(1)], 500, 1000).map((b) => b.length)).toEqual([1, 1])
    expect(batches([])).toEqual([])
  })
})

describe('exportFileName', () => {
  it('names the connection, prefix and revision with characters every file system takes', () => {
    expect(exportFileName('local', '/registry/pods/', 42, 'json')).toBe(
      'local-registry_pods-r42.json',
    )
    expect(exportFileName('prod east', '', 7, 'lines')).toBe('prod_east-all-r7.txt')
  })
})
