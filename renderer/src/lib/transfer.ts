/**
 * Reading import files and naming export files. An import file is one of:
 *   - raftdesk's export document: {"raftdesk":"export","version":1,"keys":[{"key","value"}]},
 *     where a key or value that is not UTF-8 text is written as key_base64 / value_base64;
 *   - what `etcdctl get --prefix <p> -w json` prints: {"header":…,"kvs":[{"key","value"}]},
 *     keys and values base64;
 *   - a JSON array of {"key","value"} objects (text);
 *   - a JSON object mapping keys to values (text; other JSON values are stored as their JSON);
 *   - what `etcdctl get --prefix <p>` prints: a key line, then a value line, per key.
 * Plain functions, so every format and every refusal is unit-tested.
 */
import type { ImportEntry } from '../../../contract'
import { utf8 } from './bytes'

export type ImportFormat = 'raftdesk' | 'etcdctl-json' | 'json-array' | 'json-map' | 'lines'

export interface ParsedImport {
  format: ImportFormat
  entries: ImportEntry[]
}

/** A file that cannot be imported, with where and why, in a sentence. */
export class ImportFormatError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ImportFormatError'
  }
}

function fromBase64(text: unknown, where: string): Uint8Array {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw new ImportFormatError(`${where} is not base64`)
  }
  const raw = atob(text)
  const out = new Uint8Array(raw.length)
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i)
  return out
}

/** A field of raftdesk's format: `name` as text or `name_base64`. */
function field(item: Record<string, unknown>, name: string, where: string): Uint8Array {
  if (typeof item[name] === 'string') return utf8(item[name])
  if (item[`${name}_base64`] !== undefined) {
    return fromBase64(item[`${name}_base64`], `${where}: ${name}_base64`)
  }
  throw new ImportFormatError(`${where} has no ${name}`)
}

function nonEmpty(entry: ImportEntry, where: string): ImportEntry {
  if (entry.key.byteLength === 0) throw new ImportFormatError(`${where} has an empty key`)
  return entry
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function fromJson(doc: unknown): ParsedImport {
  if (Array.isArray(doc)) {
    return {
      format: 'json-array',
      entries: doc.map((item, i) => {
        const where = `entry ${i + 1}`
        if (!isObject(item)) throw new ImportFormatError(`${where} is not an object`)
        return nonEmpty(
          { key: field(item, 'key', where), value: field(item, 'value', where) },
          where,
        )
      }),
    }
  }
  if (!isObject(doc)) throw new ImportFormatError('the JSON is neither an object nor an array')
  if (doc['raftdesk'] === 'export') {
    if (!Array.isArray(doc['keys'])) throw new ImportFormatError('the export has no "keys" list')
    const parsed = fromJson(doc['keys'])
    return { format: 'raftdesk', entries: parsed.entries }
  }
  if (isObject(doc['header']) && (doc['kvs'] === undefined || Array.isArray(doc['kvs']))) {
    const kvs = (doc['kvs'] ?? []) as unknown[]
    return {
      format: 'etcdctl-json',
      entries: kvs.map((item, i) => {
        const where = `kvs[${i}]`
        if (!isObject(item)) throw new ImportFormatError(`${where} is not an object`)
        // etcdctl leaves out an empty value.
        const value =
          item['value'] === undefined
            ? new Uint8Array()
            : fromBase64(item['value'], `${where}.value`)
        return nonEmpty({ key: fromBase64(item['key'], `${where}.key`), value }, where)
      }),
    }
  }
  return {
    format: 'json-map',
    entries: Object.entries(doc).map(([k, v]) =>
      nonEmpty(
        { key: utf8(k), value: utf8(typeof v === 'string' ? v : JSON.stringify(v)) },
        `the entry ${JSON.stringify(k)}`,
      ),
    ),
  }
}

function fromLines(bytes: Uint8Array): ParsedImport {
  const lines: Uint8Array[] = []
  let start = 0
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0x0a) continue
    lines.push(bytes.subarray(start, i > start && bytes[i - 1] === 0x0d ? i - 1 : i))
    start = i + 1
  }
  if (start < bytes.length) lines.push(bytes.subarray(start))
  if (lines.length % 2 !== 0) {
    throw new ImportFormatError(
      `line ${lines.length} is a key without a value line (the lines format is a key line, then a value line)`,
    )
  }
  const entries: ImportEntry[] = []
  for (let i = 0; i < lines.length; i += 2) {
    entries.push(
      nonEmpty({ key: lines[i]!.slice(), value: lines[i + 1]!.slice() }, `line ${i + 1}`),
    )
  }
  return { format: 'lines', entries }
}

/** Reads an import file's bytes; throws ImportFormatError saying where it went wrong. */
export function parseImport(bytes: Uint8Array): ParsedImport {
  let i = 0
  while (
    i < bytes.length &&
    (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)
  )
    i++
  if (i === bytes.length) throw new ImportFormatError('the file is empty')
  if (bytes[i] === 0x7b || bytes[i] === 0x5b) {
    let doc: unknown
    try {
      doc = JSON.parse(new TextDecoder().decode(bytes))
    } catch (err) {
      throw new ImportFormatError(`the file starts like JSON but is not: ${(err as Error).message}`)
    }
    return fromJson(doc)
  }
  return fromLines(bytes)
}

/** Batches of entries for `bulk/import`: at most `count` entries and about `bytes` bytes each. */
export function batches(entries: ImportEntry[], count = 500, bytes = 1024 * 1024): ImportEntry[][] {
  const out: ImportEntry[][] = []
  let batch: ImportEntry[] = []
  let size = 0
  for (const e of entries) {
    const n = e.key.byteLength + e.value.byteLength
    if (batch.length > 0 && (batch.length >= count || size + n > bytes)) {
      out.push(batch)
      batch = []
      size = 0
    }
    batch.push(e)
    size += n
  }
  if (batch.length > 0) out.push(batch)
  return out
}

/** A file name for an export: connection, prefix and revision, safe on every file system. */
export function exportFileName(
  conn: string,
  prefix: string,
  revision: number,
  format: 'json' | 'lines',
): string {
  const part = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '')
  const name = [part(conn), part(prefix) || 'all', `r${revision}`].filter(Boolean).join('-')
  return `${name}.${format === 'json' ? 'json' : 'txt'}`
}
