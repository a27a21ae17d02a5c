// What a value is, decided from its bytes: JSON, text or binary; how labels show every byte.
import { describe, expect, it } from 'vitest'
import { bytesId, displayBytes, idBytes, utf8 } from '../../renderer/src/lib/bytes'
import {
  detectFormat,
  fromBase64,
  hexDump,
  isYaml,
  jsonProblem,
  prettyJson,
  yamlProblem,
} from '../../renderer/src/lib/format'

describe('detectFormat', () => {
  it('tells JSON, text and binary apart', () => {
    expect(detectFormat(utf8('{"a":1}'))).toBe('json')
    expect(detectFormat(utf8('  [1, 2]\n'))).toBe('json')
    expect(detectFormat(utf8('{not json'))).toBe('text')
    expect(detectFormat(utf8('plain\ttext\nlines'))).toBe('text')
    expect(detectFormat(utf8('30s'))).toBe('text')
    expect(detectFormat(new Uint8Array([0x6b, 0x38, 0x73, 0x00, 0x0a]))).toBe('hex') // k8s\0
    expect(detectFormat(new Uint8Array([0xff, 0xfe]))).toBe('hex')
  })

  it('tells YAML documents from plain text, and says why a text is not YAML', () => {
    const doc = 'apiVersion: v1\nkind: ConfigMap\ndata:\n  mode: fast\n'
    expect(detectFormat(utf8(doc))).toBe('yaml')
    expect(detectFormat(utf8('- a\n- b\n'))).toBe('yaml')
    expect(isYaml('just a sentence: with a colon')).toBe(false) // one line: text
    expect(detectFormat(utf8('hello\nworld'))).toBe('text')
    expect(yamlProblem(doc)).toBeNull()
    expect(yamlProblem('a: [1, 2\nb: c')).not.toBeNull()
  })

  it('decodes base64 text, and refuses what is not base64', () => {
    expect(new TextDecoder().decode(fromBase64('aGVsbG8gd29ybGQ=')!)).toBe('hello world')
    expect(fromBase64('not base64!')).toBeNull()
    expect(fromBase64('abc')).toBeNull() // too short to mean it
  })

  it('indents JSON and says why a text is not JSON', () => {
    expect(prettyJson('{"a":[1,2]}')).toBe('{\n  "a": [\n    1,\n    2\n  ]\n}')
    expect(prettyJson('{oops')).toBe('{oops')
    expect(jsonProblem('{"a":1}')).toBeNull()
    expect(jsonProblem('{"a":')).toMatch(/JSON/)
  })

  it('dumps bytes 16 a line with offsets and printable ASCII, and says when it cut', () => {
    const bytes = new Uint8Array(40).map((_, i) => (i === 0 ? 0x41 : i))
    const { lines, cut } = hexDump(bytes)
    expect(lines).toHaveLength(3)
    expect(lines[0]!.offset).toBe('00000000')
    expect(lines[0]!.hex.startsWith('41 01 02')).toBe(true)
    expect(lines[0]!.ascii.startsWith('A...')).toBe(true)
    expect(lines[2]!.offset).toBe('00000020')
    expect(cut).toBe(false)
    expect(hexDump(new Uint8Array(64), 2).cut).toBe(true)
  })
})

describe('bytes', () => {
  it('shows UTF-8 as text and escapes every byte that is not', () => {
    expect(displayBytes(utf8('config/应用/x'))).toBe('config/应用/x')
    expect(displayBytes(new Uint8Array([0x61, 0x00, 0xff, 0x62]))).toBe('a\\x00\\xffb')
  })

  it('keeps byte order and round-trips through row ids', () => {
    const a = new Uint8Array([0x61, 0xff])
    const b = new Uint8Array([0x62])
    expect(bytesId(a) < bytesId(b)).toBe(true)
    expect([...idBytes(bytesId(a))]).toEqual([0x61, 0xff])
  })
})
