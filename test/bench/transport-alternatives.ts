/**
 * The codecs the hand-rolled one (node-core/transport/codec.ts) was measured against, for
 * test/bench/transport.ts only: protobufjs with a raftpb-shaped schema, and JSON with base64
 * bytes. Neither is used by the transport.
 *
 * protobufjs is given its best case: Long support is switched off so that uint64 fields decode
 * straight to numbers (our values stay below 2^53), and the schema is reflected once up front.
 * Its decoder checks wire types and lengths but not enum values or our MsgSnap rule, and it has
 * no checksum: in that sense it does less work than the hand-rolled codec.
 */
import protobuf from 'protobufjs'
import type { Entry, EntryType, Message, MessageType } from '../../node-core/raft/types'
import { MESSAGE_TYPE_CODES } from '../../node-core/transport/codec'

export interface BenchCodec {
  name: string
  encode(m: Message): Uint8Array
  decode(b: Uint8Array): Message
}

const PROTO = `
syntax = "proto3";
package bench;
message ConfState { repeated uint64 voters = 1; repeated uint64 learners = 2; }
message SnapshotMetadata { ConfState conf_state = 1; uint64 index = 2; uint64 term = 3; }
message Snapshot { bytes data = 1; SnapshotMetadata metadata = 2; }
message Entry { uint32 type = 1; uint64 term = 2; uint64 index = 3; bytes data = 4; }
message Message {
  uint32 type = 1; uint64 to = 2; uint64 from = 3; uint64 term = 4; uint64 log_term = 5;
  uint64 index = 6; repeated Entry entries = 7; uint64 commit = 8; Snapshot snapshot = 9;
  bool reject = 10; uint64 reject_hint = 11; bytes context = 12; bool has_context = 13;
}
`

const TYPE_BY_CODE: MessageType[] = []
for (const [name, code] of Object.entries(MESSAGE_TYPE_CODES))
  TYPE_BY_CODE[code] = name as MessageType
const ENTRY_CODE: Record<EntryType, number> = { normal: 1, confChange: 2 }
const ENTRY_BY_CODE: EntryType[] = ['normal', 'normal', 'confChange']

interface PbEntry {
  type: number
  term: number
  index: number
  data: Uint8Array
}
interface PbMessage {
  type: number
  to: number
  from: number
  term: number
  logTerm: number
  index: number
  entries: PbEntry[]
  commit: number
  snapshot?: {
    data: Uint8Array
    metadata: { confState: { voters: number[]; learners: number[] }; index: number; term: number }
  }
  reject: boolean
  rejectHint: number
  context: Uint8Array
  hasContext: boolean
}

export function protobufCodec(): BenchCodec {
  ;(protobuf.util as { Long: unknown }).Long = undefined
  protobuf.configure()
  const root = protobuf.parse(PROTO, { keepCase: false }).root
  const T = root.lookupType('bench.Message')
  return {
    name: 'protobufjs',
    encode(m) {
      const pb = {
        type: MESSAGE_TYPE_CODES[m.type],
        to: m.to,
        from: m.from,
        term: m.term,
        logTerm: m.logTerm,
        index: m.index,
        entries: m.entries.map((e) => ({
          type: ENTRY_CODE[e.type],
          term: e.term,
          index: e.index,
          data: e.data,
        })),
        commit: m.commit,
        snapshot: m.snapshot,
        reject: m.reject,
        rejectHint: m.rejectHint,
        context: m.context,
        hasContext: m.context !== undefined,
      }
      return T.encode(pb).finish()
    },
    decode(b) {
      const pb = T.decode(b) as unknown as PbMessage
      const m: Message = {
        type: TYPE_BY_CODE[pb.type]!,
        from: pb.from,
        to: pb.to,
        term: pb.term,
        logTerm: pb.logTerm,
        index: pb.index,
        entries: pb.entries.map((e): Entry => ({
          term: e.term,
          index: e.index,
          type: ENTRY_BY_CODE[e.type]!,
          data: e.data,
        })),
        commit: pb.commit,
        reject: pb.reject,
        rejectHint: pb.rejectHint,
      }
      if (pb.snapshot) {
        const md = pb.snapshot.metadata
        m.snapshot = {
          metadata: { index: md.index, term: md.term, confState: md.confState },
          data: pb.snapshot.data,
        }
      }
      if (pb.hasContext) m.context = pb.context
      return m
    },
  }
}

const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'))

export function jsonCodec(): BenchCodec {
  const enc = new TextEncoder()
  const dec = new TextDecoder()
  return {
    name: 'JSON+base64',
    encode(m) {
      return enc.encode(
        JSON.stringify({
          ...m,
          entries: m.entries.map((e) => ({ ...e, data: b64(e.data) })),
          context: m.context && b64(m.context),
          snapshot: m.snapshot && { ...m.snapshot, data: b64(m.snapshot.data) },
        }),
      )
    },
    decode(b) {
      const j = JSON.parse(dec.decode(b))
      const m: Message = {
        ...j,
        entries: j.entries.map((e: { data: string }) => ({ ...e, data: unb64(e.data) })),
      }
      if (j.context !== undefined) m.context = unb64(j.context)
      if (j.snapshot !== undefined) m.snapshot = { ...j.snapshot, data: unb64(j.snapshot.data) }
      return m
    },
  }
}
