/**
 * What a value is, decided from its bytes alone, and how each kind is shown. A plain function
 * with its own tests; the viewers only render what it decides.
 */
import { parseDocument } from 'yaml'
import { asText, hasControl } from './bytes'
import { protobufText } from './protobuf'

export type ValueFormat = 'json' | 'yaml' | 'text' | 'base64' | 'protobuf' | 'hex'

/** A YAML document that is a mapping or a sequence (not a lone scalar, which any text is). */
export function isYaml(text: string): boolean {
  if (!/[:-]\s/.test(text) || !text.includes('\n')) return false
  try {
    const doc = parseDocument(text)
    if (doc.errors.length > 0) return false
    const v: unknown = doc.toJS()
    return typeof v === 'object' && v !== null
  } catch {
    return false
  }
}

/** Why a text is not YAML (the parser's first error), or null when it is. */
export function yamlProblem(text: string): string | null {
  const doc = parseDocument(text)
  return doc.errors[0]?.message.split('\n')[0] ?? null
}

/** The bytes a base64 text stands for, or null when it is not base64 (at least 8 characters). */
export function fromBase64(text: string): Uint8Array | null {
  const t = text.trim()
  if (t.length < 8 || t.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(t)) return null
  try {
    const raw = atob(t)
    const out = new Uint8Array(raw.length)
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i)
    return out
  } catch {
    return null
  }
}

export function detectFormat(bytes: Uint8Array): ValueFormat {
  const text = asText(bytes)
  // Binary (or text with control characters other than tab and line breaks, binary in
  // disguise): protobuf when it parses as a message to its last byte, else hex.
  if (text === null || hasControl(text, '\t\n\r\f\v')) {
    return protobufText(bytes) !== null ? 'protobuf' : 'hex'
  }
  const trimmed = text.trim()
  if (/^[[{]/.test(trimmed)) {
    try {
      JSON.parse(trimmed)
      return 'json'
    } catch {
      return 'text'
    }
  }
  if (isYaml(text)) return 'yaml'
  return 'text'
}

/** JSON re-indented with two spaces; the text as it was when it does not parse. */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2)
  } catch {
    return text
  }
}

/** Why a text is not JSON (the parser's sentence), or null when it is. */
export function jsonProblem(text: string): string | null {
  try {
    JSON.parse(text)
    return null
  } catch (err) {
    return err instanceof Error ? err.message : String(err)
  }
}

export interface HexLine {
  offset: string
  hex: string
  ascii: string
}

/** 16 bytes a line: offset, hex pairs, printable ASCII (others as '.'); at most `linesMax`. */
export function hexDump(bytes: Uint8Array, linesMax = 4096): { lines: HexLine[]; cut: boolean } {
  const lines: HexLine[] = []
  for (let at = 0; at < bytes.length && lines.length < linesMax; at += 16) {
    const row = bytes.subarray(at, at + 16)
    let hex = ''
    let ascii = ''
    for (let i = 0; i < 16; i++) {
      const b = row[i]
      hex += b === undefined ? '   ' : `${b.toString(16).padStart(2, '0')} `
      if (i === 7) hex += ' '
      if (b !== undefined) ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.'
    }
    lines.push({ offset: at.toString(16).padStart(8, '0'), hex: hex.trimEnd(), ascii })
  }
  return { lines, cut: lines.length * 16 < bytes.length }
}
