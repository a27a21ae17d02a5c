/**
 * Reading one segment: framing, CRC chain and the torn-tail rule, streamed in chunks.
 *
 * scanSegment() checks every record and hands the good ones to a visitor; it stops at the first
 * bad one and says whether the damage is what a crash can leave behind ("torn") or not. Only
 * the caller knows whether the segment is the last one, and only there is torn damage repaired;
 * anywhere else all damage is corruption.
 *
 * Torn, because a crash leaves exactly these behind when an unacknowledged write was cut short
 * (the file ends early, or sectors of it were never written and read back as zeros):
 *   - fewer bytes left than a record header, or a record that runs past the end of the file
 *     (its header crc is good, so its length is what the writer wrote);
 *   - a bad header (16 zero bytes, or a header crc mismatch) or a record crc mismatch where
 *     some 512-byte sector overlapping the record reads as zeros from the record (or the
 *     sector's start) to the sector's end or the end of the file: that sector was never
 *     written, and whatever followed the record in it is unacknowledged too.
 * Not torn: a crc mismatch without such a zeroed sector (bits changed on the medium), nonzero
 * padding, a length over the limit with a good header crc, an unknown type, a malformed
 * payload, a segment that does not open with its crc seed and metadata records.
 *
 * The rule cannot tell a crash from bit rot in a record of the last segment whose own data
 * holds a whole 512-byte sector of zeros, or ends in zeros that run to the end of the file:
 * such a record (and everything after it) is dropped as torn. etcd's WAL accepts the same
 * ambiguity; the writer never produces zero sectors of its own (headers are never zero).
 */
import { open } from 'node:fs/promises'
import { readFully } from '../kernel/fs'
import {
  RECORD_HEADER_BYTES,
  RECORD_TYPE,
  SECTOR_BYTES,
  emptyHeader,
  decodeCrcSeed,
  decodeEntry,
  decodeHardState,
  decodeSnapshotMarker,
  hex32,
  paddingIsZero,
  payloadCrc,
  recordBytes,
  readHeader,
  recordTypeName,
} from './record'
import type { RecordTypeCode, RecordTypeName } from './record'

export const READ_CHUNK_BYTES = 4 * 1024 * 1024

/** One record handed to a visitor. The object is reused for the next record: copy, don't keep. */
export interface ScannedRecord {
  type: RecordTypeCode
  /** Holds the payload at [payloadStart, payloadStart + payloadBytes). Not reused by the scanner. */
  buf: Buffer
  payloadStart: number
  payloadBytes: number
  /** File offset of the record's header. */
  offset: number
}

export interface SegmentDamage {
  offset: number
  reason: string
  /** True when a crash explains it (see the module comment). */
  torn: boolean
}

export interface ScanResult {
  fileBytes: number
  /** Offset just past the last good record. */
  goodBytes: number
  /** Chain crc after the last good record. */
  crc: number
  records: number
  damage?: SegmentDamage
}

/** Returns a reason when a good-crc record makes no sense to the caller (that is corruption). */
export type RecordVisitor = (record: ScannedRecord) => string | undefined

export async function scanSegment(
  path: string,
  recordBytesMax: number,
  visit: RecordVisitor,
  options: { verifyPayloads?: boolean; chunkBytes?: number } = {},
): Promise<ScanResult> {
  // verifyPayloads = false: headers (and so lengths and types) are checked, payload crcs and
  // padding are not. For a quick look (readSnapshotMarkers); replay always verifies.
  const verifyPayloads = options.verifyPayloads ?? true
  const chunkBytes = options.chunkBytes ?? READ_CHUNK_BYTES
  const fh = await open(path, 'r')
  try {
    const size = (await fh.stat()).size
    let buf = Buffer.alloc(0)
    let bufStart = 0 // file offset of buf[0]
    let off = 0
    let crc = 0
    let records = 0
    const h = emptyHeader()
    const rec: ScannedRecord = {
      type: RECORD_TYPE.entry,
      buf,
      payloadStart: 0,
      payloadBytes: 0,
      offset: 0,
    }

    // Makes buf cover the file range [off, end), end <= size.
    const ensure = async (end: number) => {
      if (end <= bufStart + buf.length) return
      const readLen = Math.min(Math.max(end - off, chunkBytes), size - off)
      const next = Buffer.allocUnsafeSlow(readLen)
      const kept = bufStart + buf.length - off
      buf.copy(next, 0, off - bufStart)
      const n = await readFully(fh, next, kept, readLen - kept, off + kept)
      if (n !== readLen - kept)
        throw new Error(`${path} shrank while being read (at ${off + kept})`)
      buf = next
      bufStart = off
    }
    // The torn test for a bad record spanning [from, to): true when some sector overlapping it
    // reads as zeros from max(sector start, from) up to the sector's end (or the end of the
    // file). A sector the crash kept from being written holds zeros from the start of the
    // unacknowledged write on, including whatever followed the record in that sector; data
    // that merely contains zeros is followed by the next record's nonzero header.
    const zeroSectorIn = async (from: number, to: number) => {
      for (let s = from - (from % SECTOR_BYTES); s < to; s += SECTOR_BYTES) {
        const b = Math.min(s + SECTOR_BYTES, size)
        await ensure(b)
        if (paddingIsZero(buf, Math.max(s, from) - bufStart, b - bufStart)) return true
      }
      return false
    }
    const result = (damage?: SegmentDamage): ScanResult => ({
      fileBytes: size,
      goodBytes: off,
      crc,
      records,
      ...(damage ? { damage } : {}),
    })

    while (off < size) {
      if (size - off < RECORD_HEADER_BYTES) {
        return result({
          offset: off,
          reason: `incomplete record header (${size - off} bytes left)`,
          torn: true,
        })
      }
      await ensure(off + RECORD_HEADER_BYTES)
      const bad = readHeader(buf, off - bufStart, h)
      if (bad) {
        return result({
          offset: off,
          reason: bad,
          torn: await zeroSectorIn(off, off + RECORD_HEADER_BYTES),
        })
      }
      if (h.payloadBytes > recordBytesMax) {
        const reason = `record length ${h.payloadBytes} is over the limit of ${recordBytesMax}`
        return result({ offset: off, reason, torn: false })
      }
      const bytes = recordBytes(h.payloadBytes)
      const end = off + bytes
      if (end > size) {
        const reason = `record of ${bytes} bytes runs past the end of the file (${size} bytes)`
        return result({ offset: off, reason, torn: true })
      }
      await ensure(end)
      const payloadStart = off - bufStart + RECORD_HEADER_BYTES
      const isSeed = h.type === RECORD_TYPE.crcSeed
      if (verifyPayloads) {
        const computed = payloadCrc(
          buf,
          payloadStart,
          h.payloadBytes,
          isSeed ? 0 : crc,
          h.headerCrc,
        )
        if (computed !== h.crc) {
          const reason = `${recordTypeName(h.type)} record crc mismatch (stored ${hex32(h.crc)}, computed ${hex32(computed)})`
          return result({ offset: off, reason, torn: await zeroSectorIn(off, end) })
        }
        if (!paddingIsZero(buf, payloadStart + h.payloadBytes, end - bufStart)) {
          return result({ offset: off, reason: 'nonzero record padding', torn: false })
        }
      }
      const structural = checkPlace(h.type, records)
      if (structural) return result({ offset: off, reason: structural, torn: false })
      let next = h.crc
      if (isSeed) {
        const seed = decodeCrcSeed(buf, payloadStart, h.payloadBytes)
        if (typeof seed === 'string') return result({ offset: off, reason: seed, torn: false })
        next = seed
      }
      rec.type = h.type
      rec.buf = buf
      rec.payloadStart = payloadStart
      rec.payloadBytes = h.payloadBytes
      rec.offset = off
      const reason = visit(rec)
      if (reason) return result({ offset: off, reason, torn: false })
      crc = next
      off = end
      records++
    }
    return result()
  } finally {
    await fh.close()
  }
}

/** A segment opens with its crc seed, then its metadata; neither appears anywhere else. */
function checkPlace(type: RecordTypeCode, position: number): string | undefined {
  if (position === 0 && type !== RECORD_TYPE.crcSeed) {
    return `segment starts with a ${recordTypeName(type)} record, not a crc seed`
  }
  if (position === 1 && type !== RECORD_TYPE.metadata) {
    return `second record is a ${recordTypeName(type)} record, not metadata`
  }
  if (position > 0 && type === RECORD_TYPE.crcSeed) return 'crc seed record after the segment head'
  if (position > 1 && type === RECORD_TYPE.metadata) return 'metadata record after the segment head'
  return undefined
}

/** One record as inspectSegment() describes it (for tools, the UI and tests). */
export interface RecordInfo {
  offset: number
  /** On-disk bytes, header and padding included. */
  bytes: number
  type: RecordTypeName
  /** Entries and snapshot markers. */
  index?: number
  term?: number
  /** Hard states. */
  vote?: number
  commit?: number
}

/** Lists a segment's records without changing anything; damage is reported, not thrown. */
export async function inspectSegment(
  path: string,
  recordBytesMax: number,
): Promise<{ records: RecordInfo[]; result: ScanResult }> {
  const records: RecordInfo[] = []
  const result = await scanSegment(path, recordBytesMax, (r) => {
    const info: RecordInfo = {
      offset: r.offset,
      bytes: recordBytes(r.payloadBytes),
      type: recordTypeName(r.type)!,
    }
    if (r.type === RECORD_TYPE.entry) {
      const e = decodeEntry(r.buf, r.payloadStart, r.payloadBytes)
      if (typeof e === 'string') return e
      info.index = e.index
      info.term = e.term
    } else if (r.type === RECORD_TYPE.snapshot) {
      const m = decodeSnapshotMarker(r.buf, r.payloadStart, r.payloadBytes)
      if (typeof m === 'string') return m
      info.index = m.index
      info.term = m.term
    } else if (r.type === RECORD_TYPE.hardState) {
      const hs = decodeHardState(r.buf, r.payloadStart, r.payloadBytes)
      if (typeof hs === 'string') return hs
      info.term = hs.term
      info.vote = hs.vote
      info.commit = hs.commit
    }
    records.push(info)
    return undefined
  })
  return { records, result }
}
