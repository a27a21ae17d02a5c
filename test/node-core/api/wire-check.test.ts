// The strict wire check that runs before protobufjs decodes a request: well-formed messages pass,
// the malformations protobufjs would silently accept are refused, and no input makes it throw
// anything but a WireError (seeded fuzz; reproduce with SEED=<n>).
import { describe, expect, it } from 'vitest'
import { loadEtcdPackageDefinition } from '../../../node-core/api/proto'
import { checkWire, schemaOf, WireError } from '../../../node-core/api/wire-check'
import { createPrng } from '../../../node-core/raft/prng'

const pkg = loadEtcdPackageDefinition()
const schema = schemaOf(pkg)
const kv = pkg['etcdserverpb.KV'] as unknown as Record<
  string,
  { requestSerialize(o: object): Buffer; requestDeserialize(b: Buffer): object }
>
const watch = pkg['etcdserverpb.Watch'] as unknown as Record<
  string,
  { requestSerialize(o: object): Buffer }
>
const encodeTxn = (o: object) => kv['Txn']!.requestSerialize(o)

function verdict(typeName: string, bytes: Uint8Array, depthMax = 300): string {
  try {
    checkWire(schema, typeName, bytes, depthMax)
    return 'ok'
  } catch (err) {
    if (err instanceof WireError) return `refused: ${err.message}`
    throw err
  }
}

describe('wire check', () => {
  it('accepts what the encoder produces, including nested txns and packed enums', () => {
    const txn = encodeTxn({
      compare: [
        {
          key: Buffer.from('k'),
          target: 'VALUE',
          value: Buffer.from('v'),
          rangeEnd: Buffer.from('z'),
        },
      ],
      success: [
        { requestPut: { key: Buffer.from('a'), value: Buffer.alloc(300, 1), lease: '7' } },
        { requestTxn: { success: [{ requestRange: { key: Buffer.from('b'), limit: '-1' } }] } },
      ],
      failure: [{ requestDeleteRange: { key: Buffer.from('c'), prevKv: true } }],
    })
    expect(verdict('etcdserverpb.TxnRequest', txn)).toBe('ok')
    const create = watch['Watch']!.requestSerialize({
      createRequest: { key: Buffer.from('a'), filters: ['NOPUT', 'NODELETE'], watchId: '3' },
    })
    expect(verdict('etcdserverpb.WatchRequest', create)).toBe('ok')
  })

  it('refuses a known field with the wrong wire type (protobufjs would read it anyway)', () => {
    // LeaseGrantRequest.TTL (field 1, int64) sent as a fixed32.
    expect(verdict('etcdserverpb.LeaseGrantRequest', Buffer.from([0x0d, 1, 0, 0, 0]))).toMatch(
      /TTL \(field 1\) has wire type 5, expected 0/,
    )
  })

  it('refuses a length that runs past the end (protobufjs clamps strings)', () => {
    expect(verdict('etcdserverpb.MemberAddRequest', Buffer.from([0x0a, 0x05, 0x68]))).toMatch(
      /field 1 of 5 bytes runs past the end \(1 left\) at byte 2/,
    )
  })

  it('refuses invalid UTF-8 in a string field, accepts any bytes in a bytes field', () => {
    expect(verdict('etcdserverpb.MemberAddRequest', Buffer.from([0x0a, 0x01, 0xff]))).toMatch(
      /peerURLs is not valid UTF-8/,
    )
    expect(verdict('etcdserverpb.RangeRequest', Buffer.from([0x0a, 0x01, 0xff]))).toBe('ok')
  })

  it('skips unknown fields of every wire type, refuses groups and field number 0', () => {
    const unknown = Buffer.from([
      0xf8, 0x01, 0x05, 0xf9, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0xfa, 0x01, 0x00,
    ])
    expect(verdict('etcdserverpb.RangeRequest', unknown)).toBe('ok')
    expect(verdict('etcdserverpb.RangeRequest', Buffer.from([0xfb, 0x01]))).toMatch(/wire type 3/)
    expect(verdict('etcdserverpb.RangeRequest', Buffer.from([0x00, 0x01]))).toMatch(
      /invalid field number 0/,
    )
  })

  it('refuses a truncated or overlong varint', () => {
    expect(verdict('etcdserverpb.RangeRequest', Buffer.from([0x18, 0x80]))).toMatch(/truncated/)
    const long = Buffer.from([0x18, ...Array(10).fill(0x80), 0x01])
    expect(verdict('etcdserverpb.RangeRequest', long)).toMatch(/longer than 10 bytes/)
  })

  it('bounds nesting depth', () => {
    let op: object = { requestRange: { key: Buffer.from('k') } }
    for (let i = 0; i < 40; i++) op = { requestTxn: { success: [op] } }
    const bytes = encodeTxn({ success: [op] })
    expect(verdict('etcdserverpb.TxnRequest', bytes, 100)).toBe('ok')
    expect(verdict('etcdserverpb.TxnRequest', bytes, 50)).toMatch(/deeper than 50 levels/)
  })

  it('throws nothing but WireError on mutated input, and what passes decodes (fuzz)', () => {
    const seed = Number(process.env['SEED'] ?? Date.now() % 1_000_000)
    console.log(`wire-check fuzz seed ${seed} (reproduce with SEED=${seed})`)
    const prng = createPrng(seed)
    const base = encodeTxn({
      compare: [{ key: Buffer.from('key'), target: 'MOD', modRevision: '12', result: 'GREATER' }],
      success: [
        { requestPut: { key: Buffer.from('a'), value: Buffer.from('value'), prevKv: true } },
        { requestTxn: { failure: [{ requestDeleteRange: { key: Buffer.from('b') } }] } },
      ],
    })
    let refused = 0
    for (let i = 0; i < 2000; i++) {
      const bytes = Buffer.from(base)
      const edits = prng.int(1, 5)
      for (let e = 0; e < edits; e++) bytes[prng.int(0, bytes.length)] = prng.int(0, 256)
      const cut = prng.chance(0.25) ? bytes.subarray(0, prng.int(0, bytes.length + 1)) : bytes
      if (verdict('etcdserverpb.TxnRequest', cut) !== 'ok') refused++
      else expect(() => kv['Txn']!.requestDeserialize(Buffer.from(cut))).not.toThrow()
    }
    expect(refused).toBeGreaterThan(0)
  })
})
