/**
 * Protobuf without a schema: the wire format alone (field numbers and wire types; nested
 * messages where a length-delimited field parses as one; strings where it is UTF-8 text), and
 * Kubernetes' envelope ("k8s\0" then a runtime.Unknown whose field 1 is the TypeMeta:
 * apiVersion = 1, kind = 2; field 2 the object). Pure functions, tested on their own.
 */
import { asText, hasControl } from './bytes'

export type ProtoValue =
  | { wire: 'varint'; value: bigint }
  | { wire: 'fixed64'; value: bigint }
  | { wire: 'fixed32'; value: number }
  | { wire: 'string'; value: string }
  | { wire: 'bytes'; value: Uint8Array }
  | { wire: 'message'; fields: ProtoField[] }

export interface ProtoField {
  field: number
  value: ProtoValue
}

/** Nesting beyond this is shown as bytes (a parse of hostile input stays bounded). */
const DEPTH_MAX = 32

function varint(b: Uint8Array, at: number): [bigint, number] | null {
  let result = 0n
  for (let i = 0; i < 10; i++) {
    const byte = b[at + i]
    if (byte === undefined) return null
    result |= BigInt(byte & 0x7f) << BigInt(7 * i)
    if ((byte & 0x80) === 0) return [result, at + i + 1]
  }
  return null
}

/** The fields of `bytes` as a message, or null when it is not one (to its last byte). */
export function decodeMessage(bytes: Uint8Array, depth = 0): ProtoField[] | null {
  const fields: ProtoField[] = []
  let at = 0
  while (at < bytes.length) {
    const tag = varint(bytes, at)
    if (!tag) return null
    at = tag[1]
    const field = Number(tag[0] >> 3n)
    const wire = Number(tag[0] & 7n)
    if (field < 1 || field > 536_870_911) return null
    if (wire === 0) {
      const v = varint(bytes, at)
      if (!v) return null
      fields.push({ field, value: { wire: 'varint', value: v[0] } })
      at = v[1]
    } else if (wire === 1) {
      if (at + 8 > bytes.length) return null
      const view = new DataView(bytes.buffer, bytes.byteOffset + at, 8)
      fields.push({ field, value: { wire: 'fixed64', value: view.getBigUint64(0, true) } })
      at += 8
    } else if (wire === 5) {
      if (at + 4 > bytes.length) return null
      const view = new DataView(bytes.buffer, bytes.byteOffset + at, 4)
      fields.push({ field, value: { wire: 'fixed32', value: view.getUint32(0, true) } })
      at += 4
    } else if (wire === 2) {
      const len = varint(bytes, at)
      if (!len || len[0] > BigInt(bytes.length - len[1])) return null
      const body = bytes.subarray(len[1], len[1] + Number(len[0]))
      at = len[1] + Number(len[0])
      fields.push({ field, value: lengthDelimited(body, depth) })
    } else {
      return null // groups (3, 4) and reserved types: not a message we show
    }
  }
  return fields
}

function lengthDelimited(body: Uint8Array, depth: number): ProtoValue {
  const text = asText(body)
  if (text !== null && text.length > 0 && !hasControl(text, '\t\n\r')) {
    return { wire: 'string', value: text }
  }
  if (depth < DEPTH_MAX && body.length > 0) {
    const nested = decodeMessage(body, depth + 1)
    if (nested && nested.length > 0) return { wire: 'message', fields: nested }
  }
  return { wire: 'bytes', value: body }
}

const K8S_MAGIC = [0x6b, 0x38, 0x73, 0x00] // "k8s\0"

export interface K8sEnvelope {
  apiVersion: string
  kind: string
  object: ProtoField[] | null
}

/** Kubernetes' protobuf envelope, or null when the bytes do not start with it. */
export function decodeK8s(bytes: Uint8Array): K8sEnvelope | null {
  if (bytes.length < 4 || K8S_MAGIC.some((b, i) => bytes[i] !== b)) return null
  const unknown = decodeMessage(bytes.subarray(4))
  if (!unknown) return null
  const typeMeta = unknown.find((f) => f.field === 1)?.value
  const meta = typeMeta?.wire === 'message' ? typeMeta.fields : []
  const str = (n: number) => {
    const v = meta.find((f) => f.field === n)?.value
    return v?.wire === 'string' ? v.value : ''
  }
  const raw = unknown.find((f) => f.field === 2)?.value
  return {
    apiVersion: str(1),
    kind: str(2),
    object: raw?.wire === 'message' ? raw.fields : null,
  }
}

/** The message as indented lines: `3: "text"`, `1 {` ... `}`, `2: 150`, `5: 0x… (fixed32)`. */
export function formatMessage(fields: ProtoField[], indent = ''): string[] {
  const lines: string[] = []
  for (const { field, value } of fields) {
    switch (value.wire) {
      case 'varint':
        lines.push(`${indent}${field}: ${value.value}`)
        break
      case 'fixed64':
        lines.push(`${indent}${field}: ${value.value} (fixed64)`)
        break
      case 'fixed32':
        lines.push(`${indent}${field}: ${value.value} (fixed32)`)
        break
      case 'string':
        lines.push(`${indent}${field}: ${JSON.stringify(value.value)}`)
        break
      case 'bytes':
        lines.push(
          `${indent}${field}: <${value.value.length} bytes> ${[...value.value.subarray(0, 32)]
            .map((b) => b.toString(16).padStart(2, '0'))
            .join(' ')}${value.value.length > 32 ? ' …' : ''}`,
        )
        break
      case 'message':
        lines.push(
          `${indent}${field} {`,
          ...formatMessage(value.fields, `${indent}  `),
          `${indent}}`,
        )
        break
    }
  }
  return lines
}

/** The bytes as protobuf text, or null when they are not a message. */
export function protobufText(bytes: Uint8Array): string | null {
  const k8s = decodeK8s(bytes)
  if (k8s) {
    const head = [`# Kubernetes object: apiVersion ${k8s.apiVersion}, kind ${k8s.kind}`]
    return [...head, ...(k8s.object ? formatMessage(k8s.object) : [])].join('\n')
  }
  const fields = decodeMessage(bytes)
  return fields && fields.length > 0 ? formatMessage(fields).join('\n') : null
}
