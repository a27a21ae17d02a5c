/**
 * The `wal/*` namespace: a write-ahead log read the way etcd-dump-logs reads one, from a
 * directory on the host — a local node's (running or stopped), any raftdesk data directory, or
 * a real etcd 3.4/3.5 member's `member/wal`. Read-only: nothing here changes a file.
 */
export type WalFormat = 'raftdesk' | 'etcd'

export interface WalSegmentView {
  name: string
  seq: number
  firstIndex: number
  bytes: number
}

export interface WalSummary {
  /** The directory the segments are in (resolved from what was given). */
  dir: string
  format: WalFormat
  segments: WalSegmentView[]
  bytes: number
}

export type WalRecordType = 'entry' | 'hardState' | 'snapshot' | 'metadata' | 'crc'

export interface WalRecordView {
  /** Byte offset in the segment. */
  offset: number
  /** On-disk bytes, framing and padding included. */
  bytes: number
  type: WalRecordType
  crcOk: boolean
  index?: number
  term?: number
  /** Hard states: the member voted for, in hex as etcdctl prints ids ('' for nobody). */
  vote?: string
  commit?: number
  entryType?: 'normal' | 'confChange' | 'empty'
  /** The decoded operation of an entry. */
  op?: string
}

export interface WalDamage {
  segment: string
  offset: number
  reason: string
  /** What a crash (or, on a running node, a write in progress) leaves at the end of the log. */
  torn: boolean
}

export interface WalPage {
  segment: string
  /** Number of the first record shown, in the segment. */
  from: number
  records: WalRecordView[]
  /** Records in the segment up to the first damage. */
  total: number
  damage?: WalDamage
}

export interface WalVerifyProgress {
  segments: number
  segmentsDone: number
  bytes: number
  bytesDone: number
  records: number
  problems: WalDamage[]
  done: boolean
}

export interface WalSource {
  /** A local node's name. */
  name: string
  dir: string
}

export interface WalCalls {
  /** The local nodes' data directories, to pick from. */
  'wal/sources': { args: []; result: WalSource[] }
  'wal/open': { args: [{ dir: string }]; result: WalSummary }
  'wal/records': {
    args: [{ dir: string; segment: string; from: number; limit: number }]
    result: WalPage
  }
}

export interface WalTopics {
  /** A full CRC scan of every segment, with progress; closing the stream cancels it. */
  'wal/verify': { args: [{ dir: string }]; event: WalVerifyProgress }
}
