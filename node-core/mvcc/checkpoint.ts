/**
 * The index checkpoint: the key index (and which key is attached to which lease) written on a
 * clean close, so that the next open reads a few large values instead of replaying every record.
 *
 * Why: rebuilding the index is one ordered scan of the records, but classic-level hands every
 * record over as its own native buffer, which costs more than a microsecond each; at a million
 * records that is seconds before any work is done. The checkpoint holds about a tenth of the
 * bytes in a few hundred values. A crash skips close(), so recovery after a crash always scans.
 *
 * When it is trusted: its meta entry names the state (consistent index, revision, compacted
 * revision) it was written at, in the same LevelDB batch as the chunks. Every applied batch
 * raises the consistent index, so a checkpoint is used only if the store's state is exactly that
 * one, i.e. nothing was applied after it was written, and only if the CRC-32C over its chunks
 * checks out. Anything else (stale, damaged, missing) falls back to the scan. The first batch
 * applied after an open deletes the checkpoint, so a stale one never lingers on disk.
 *
 * Format (layout.ts's 'i' space and 'm'+"checkpoint"):
 *   meta:  u64 consistentIndex | u64 revision | u64 compactedRevision | u32 chunks |
 *          u32 CRC-32C of the chunks' bytes in order | u64 keys
 *   chunk i (key 'i' + u32 i, big-endian), entries in key order, each:
 *          varint key length, key bytes, varint lease (0: none), varint history length,
 *          history numbers as varints (key-index.ts's flat form)
 *   varint: LEB128, 7 bits per byte, least significant first, for integers below 2^53.
 */
import { ByteReader, ByteWriter } from '../kernel/bytes'
import { Buffer } from 'node:buffer'
import { crc32c } from '@node-rs/crc32'
import { CorruptionError } from './errors'
import type { History } from './key-index'
import type { KeyString } from './keys'
import type { LeaseId } from './types'
import { readUint64, writeUint64 } from './revision'

export interface CheckpointMeta {
  consistentIndex: number
  revision: number
  compactedRevision: number
  chunks: number
  crc: number
  keys: number
}

export const CHECKPOINT_META_BYTES = 40

export function encodeCheckpointMeta(m: CheckpointMeta): Uint8Array {
  const out = new Uint8Array(CHECKPOINT_META_BYTES)
  writeUint64(out, 0, m.consistentIndex)
  writeUint64(out, 8, m.revision)
  writeUint64(out, 16, m.compactedRevision)
  new DataView(out.buffer).setUint32(24, m.chunks)
  new DataView(out.buffer).setUint32(28, m.crc)
  writeUint64(out, 32, m.keys)
  return out
}

export function decodeCheckpointMeta(bytes: Uint8Array): CheckpointMeta {
  if (bytes.length !== CHECKPOINT_META_BYTES) {
    throw new CorruptionError(
      `checkpoint meta is ${bytes.length} bytes, not ${CHECKPOINT_META_BYTES}`,
    )
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return {
    consistentIndex: readUint64(bytes, 0),
    revision: readUint64(bytes, 8),
    compactedRevision: readUint64(bytes, 16),
    chunks: view.getUint32(24),
    crc: view.getUint32(28),
    keys: readUint64(bytes, 32),
  }
}

/** Kernel's writer, its output cut into chunks of ~chunkBytes. */
class ChunkWriter extends ByteWriter {
  readonly chunks: Uint8Array[] = []

  constructor(private readonly chunkBytes: number) {
    super(chunkBytes + 64)
  }

  /** A key (a latin1 string: one byte per char), length first. */
  latin1(s: string): void {
    this.uvarint(s.length)
    this.room(s.length)
    for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i)
  }

  /** Ends the current chunk if it is full (call between entries only). */
  maybeCut(): void {
    if (this.pos >= this.chunkBytes) this.cut()
  }

  cut(): void {
    if (this.pos === 0) return
    this.chunks.push(this.buf.slice(0, this.pos))
    this.pos = 0
  }
}

/** Encodes index entries (in key order) into chunks; returns them with their count and CRC. */
export function encodeCheckpoint(
  entries: Iterable<[KeyString, History]>,
  leaseOf: (key: KeyString) => LeaseId,
  chunkBytes = 1024 * 1024,
): { chunks: Uint8Array[]; keys: number; crc: number } {
  const w = new ChunkWriter(chunkBytes)
  let keys = 0
  for (const [key, h] of entries) {
    w.latin1(key)
    w.uvarint64(leaseOf(key))
    w.uvarint(h.length)
    for (let i = 0; i < h.length; i++) w.uvarint(h[i]!)
    keys++
    w.maybeCut()
  }
  w.cut()
  let crc = 0
  for (const chunk of w.chunks) crc = crc32c(chunk, crc)
  return { chunks: w.chunks, keys, crc }
}

export interface DecodedCheckpoint {
  /** Keys in ascending order, and their histories. */
  keys: KeyString[]
  histories: History[]
  /** Keys attached to a lease. */
  leased: Array<[KeyString, LeaseId]>
}

/** Decodes chunks (in order) against their meta; throws CorruptionError on any mismatch. */
const corruption = (message: string) => new CorruptionError(`checkpoint: ${message}`)

export function decodeCheckpoint(chunks: Uint8Array[], meta: CheckpointMeta): DecodedCheckpoint {
  if (chunks.length !== meta.chunks) {
    throw new CorruptionError(
      `checkpoint has ${chunks.length} chunks, its meta says ${meta.chunks}`,
    )
  }
  let crc = 0
  for (const chunk of chunks) crc = crc32c(chunk, crc)
  if (crc !== meta.crc) throw new CorruptionError('checkpoint CRC-32C mismatch')
  const out: DecodedCheckpoint = { keys: [], histories: [], leased: [] }
  let previous: KeyString | undefined
  for (const chunk of chunks) {
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    const r = new ByteReader(chunk, corruption)
    while (r.remaining > 0) {
      const length = r.uvarint('key length')
      const at = r.pos
      r.skip(length, 'key')
      const key = buf.toString('latin1', at, at + length)
      if (previous !== undefined && !(previous < key)) {
        throw new CorruptionError('checkpoint: keys out of order')
      }
      previous = key
      const lease = r.uvarint64('lease')
      const n = r.count('history length', 1)
      const h: History = new Array(n)
      for (let i = 0; i < n; i++) h[i] = r.uvarint('revision')
      out.keys.push(key)
      out.histories.push(h)
      if (lease !== 0n) out.leased.push([key, lease])
    }
  }
  if (out.keys.length !== meta.keys) {
    throw new CorruptionError(`checkpoint has ${out.keys.length} keys, its meta says ${meta.keys}`)
  }
  return out
}
