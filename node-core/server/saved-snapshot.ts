/**
 * The file `etcdctl snapshot save` writes from a raftdesk member (Maintenance.Snapshot), and that
 * `raftdesk serve --restore FILE` reads back.
 *
 *   the server image (image.ts: membership header, then the MVCC image with its own CRC trailer)
 *   zero bytes, so that the image, the padding and the next field make a multiple of 512 bytes
 *   u64 big-endian  the server image's length in bytes
 *   32 bytes  SHA-256 of everything before it
 *
 * The padding and the trailing SHA-256 are etcd's convention: etcdctl 3.4 refuses a snapshot
 * whose size is not a multiple of 512 plus 32 ("sha256 checksum not found"), and etcd appends the
 * SHA-256 of its database file the same way. A real etcd's file (a bbolt database) is not a
 * raftdesk image and is refused by its magic; a damaged one by its checksum.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, stat } from 'node:fs/promises'
import { ValidationError } from '../errors'
import { SERVER_IMAGE_MAGIC } from './image'

export const SAVED_SNAPSHOT_ALIGN_BYTES = 512
export const SAVED_SNAPSHOT_SHA_BYTES = 32
/** The size of one chunk sent on the wire (etcd sends 32 KiB blobs). */
export const SAVED_SNAPSHOT_CHUNK_BYTES = 32 * 1024

export class SavedSnapshotError extends ValidationError {
  constructor(message: string) {
    super('SAVED_SNAPSHOT_INVALID', message)
  }
}

/** The saved-snapshot bytes for a server image, in chunks of at most SAVED_SNAPSHOT_CHUNK_BYTES. */
export async function* encodeSavedSnapshot(
  image: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const sha = createHash('sha256')
  let imageBytes = 0
  // What is left over of the pieces so far: always less than one chunk, so each byte is copied
  // at most once more (when the next piece is appended to a short tail).
  let tail: Uint8Array = new Uint8Array(0)
  function* chunks(piece: Uint8Array): Generator<Uint8Array> {
    let buf = tail.byteLength === 0 ? piece : Buffer.concat([tail, piece])
    while (buf.byteLength >= SAVED_SNAPSHOT_CHUNK_BYTES) {
      const chunk = buf.subarray(0, SAVED_SNAPSHOT_CHUNK_BYTES)
      sha.update(chunk)
      yield chunk
      buf = buf.subarray(SAVED_SNAPSHOT_CHUNK_BYTES)
    }
    tail = buf
  }
  for await (const piece of image) {
    imageBytes += piece.byteLength
    yield* chunks(piece)
  }
  const padding = (SAVED_SNAPSHOT_ALIGN_BYTES - ((imageBytes + 8) % 512)) % 512
  const footer = Buffer.alloc(padding + 8)
  footer.writeBigUInt64BE(BigInt(imageBytes), padding)
  yield* chunks(footer)
  if (tail.byteLength > 0) {
    sha.update(tail)
    yield tail
  }
  yield sha.digest()
}

/**
 * Checks a saved snapshot file (size, trailing SHA-256, length field) and returns a stream of its
 * server image. Nothing is written.
 */
export async function openSavedSnapshot(path: string): Promise<AsyncIterable<Uint8Array>> {
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new SavedSnapshotError(`cannot read ${path}: ${err.code ?? err.message}`)
  })
  if (!info.isFile()) throw new SavedSnapshotError(`${path} is not a file`)
  const size = info.size
  if (size < SAVED_SNAPSHOT_SHA_BYTES || size % SAVED_SNAPSHOT_ALIGN_BYTES !== 32) {
    throw new SavedSnapshotError(
      `${path} is not a snapshot saved with etcdctl snapshot save: ${size} bytes is not a multiple of 512 plus a 32-byte SHA-256`,
    )
  }
  const bodyBytes = size - SAVED_SNAPSHOT_SHA_BYTES
  const sha = createHash('sha256')
  for await (const chunk of createReadStream(path, { end: bodyBytes - 1 })) sha.update(chunk)
  const tail = Buffer.alloc(8 + SAVED_SNAPSHOT_SHA_BYTES)
  const magic = Buffer.alloc(SERVER_IMAGE_MAGIC.byteLength)
  const fh = await open(path, 'r')
  try {
    await fh.read(tail, 0, tail.byteLength, bodyBytes - 8)
    await fh.read(magic, 0, magic.byteLength, 0)
  } finally {
    await fh.close()
  }
  if (!sha.digest().equals(tail.subarray(8))) {
    throw new SavedSnapshotError(`${path} is damaged: its SHA-256 does not match its contents`)
  }
  if (!magic.equals(SERVER_IMAGE_MAGIC)) {
    throw new SavedSnapshotError(
      `${path} is not a raftdesk snapshot (a snapshot of a real etcd is a bbolt database: restore it with etcdctl snapshot restore and run it with etcd)`,
    )
  }
  const imageBytes = Number(tail.readBigUInt64BE(0))
  if (imageBytes === 0 || imageBytes > bodyBytes - 8 || bodyBytes - 8 - imageBytes >= 512) {
    throw new SavedSnapshotError(`${path}: image length ${imageBytes} does not fit the file`)
  }
  const stream = () => createReadStream(path, { end: imageBytes - 1 })
  return { [Symbol.asyncIterator]: () => stream()[Symbol.asyncIterator]() }
}
