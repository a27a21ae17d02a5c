// Protobuf without a schema: the wire format's own examples, nested messages, strings, the
// Kubernetes envelope, and bytes that are not a message.
import { describe, expect, it } from 'vitest'
import { detectFormat } from '../../renderer/src/lib/format'
import { decodeK8s, decodeMessage, protobufText } from '../../renderer/src/lib/protobuf'

const bytes = (...b: number[]) => new Uint8Array(b)
const str = (s: string) => [...new TextEncoder().encode(s)]
const ld = (field: number, body: number[]) => [(field << 3) | 2, body.length, ...body]

describe('protobuf', () => {
  it("reads varints, strings and nested messages (the encoding guide's examples)", () => {
    expect(decodeMessage(bytes(0x08, 0x96, 0x01))).toEqual([
      { field: 1, value: { wire: 'varint', value: 150n } },
    ])
    const nested = [...ld(3, [0x08, 0x96, 0x01]), ...ld(2, str('testing'))]
    expect(protobufText(bytes(...nested))).toBe('3 {\n  1: 150\n}\n2: "testing"')
  })

  it('reads fixed 32 and 64-bit fields and keeps opaque bytes as bytes', () => {
    const msg = bytes(0x0d, 1, 0, 0, 0, 0x11, 2, 0, 0, 0, 0, 0, 0, 0, ...ld(4, [0xff, 0x00]))
    expect(protobufText(msg)).toBe('1: 1 (fixed32)\n2: 2 (fixed64)\n4: <2 bytes> ff 00')
  })

  it('refuses what is not a message to its last byte', () => {
    expect(decodeMessage(bytes(0x08))).toBeNull() // a tag without its value
    expect(decodeMessage(bytes(0x0a, 0x05, 0x01))).toBeNull() // length past the end
    expect(decodeMessage(bytes(0xff, 0xfe))).toBeNull()
    expect(detectFormat(bytes(0xff, 0xfe))).toBe('hex')
  })

  it("shows Kubernetes' envelope: apiVersion and kind, then the object", () => {
    const typeMeta = [...ld(1, str('v1')), ...ld(2, str('ConfigMap'))]
    const object = [...ld(1, [...ld(1, str('settings'))])] // metadata { name: "settings" }
    const envelope = bytes(0x6b, 0x38, 0x73, 0x00, ...ld(1, typeMeta), ...ld(2, object))
    expect(decodeK8s(envelope)).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap' })
    expect(detectFormat(envelope)).toBe('protobuf')
    expect(protobufText(envelope)).toBe(
      '# Kubernetes object: apiVersion v1, kind ConfigMap\n1 {\n  1: "settings"\n}',
    )
  })
})
