/**
 * The server's state-machine image, the payload of a snapshot file: the membership, then the
 * MVCC store's own image (mvcc/image.ts), streamed.
 *
 *   4 bytes  magic "RDSI"
 *   u32le    headerBytes
 *   n bytes  header: JSON { "version": 1, "members": Member[], "removed": number[] }
 *   ...      the MVCC image, to the end
 *
 * splitImage() reads the header off a stream and hands back the rest as a stream, so neither
 * side ever holds more than one chunk.
 */
import { ValidationError } from '../errors'
import type { Member } from '../kernel/member'

const MAGIC = new Uint8Array([0x52, 0x44, 0x53, 0x49]) // RDSI
/** The first bytes of every server image. */
export const SERVER_IMAGE_MAGIC: Readonly<Uint8Array> = MAGIC
const HEADER_BYTES_MAX = 16 * 1024 * 1024

export interface ImageHeader {
  version: 1
  members: Member[]
  removed: number[]
}

export class ImageFormatError extends ValidationError {
  constructor(message: string) {
    super('SNAPSHOT_IMAGE_FORMAT', message)
  }
}

export async function* composeImage(
  header: Omit<ImageHeader, 'version'>,
  store: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const json = Buffer.from(JSON.stringify({ version: 1, ...header }), 'utf8')
  const prefix = Buffer.alloc(8)
  prefix.set(MAGIC, 0)
  prefix.writeUInt32LE(json.byteLength, 4)
  yield Buffer.concat([prefix, json])
  yield* store
}

/** Reads the header; `rest` yields the store image (iterate it at most once). */
export async function splitImage(
  image: AsyncIterable<Uint8Array>,
): Promise<{ header: ImageHeader; rest: AsyncIterable<Uint8Array> }> {
  const it = image[Symbol.asyncIterator]()
  let buffered = Buffer.alloc(0)
  const need = async (n: number) => {
    while (buffered.byteLength < n) {
      const next = await it.next()
      if (next.done) {
        throw new ImageFormatError(`image ends after ${buffered.byteLength} bytes of its header`)
      }
      buffered = Buffer.concat([buffered, next.value])
    }
  }
  await need(8)
  if (!MAGIC.every((b, i) => buffered[i] === b)) {
    throw new ImageFormatError('not a raftdesk server image (bad magic)')
  }
  const headerBytes = buffered.readUInt32LE(4)
  if (headerBytes > HEADER_BYTES_MAX) {
    throw new ImageFormatError(`image header of ${headerBytes} bytes is over ${HEADER_BYTES_MAX}`)
  }
  await need(8 + headerBytes)
  let header: ImageHeader
  try {
    header = JSON.parse(buffered.subarray(8, 8 + headerBytes).toString('utf8')) as ImageHeader
  } catch {
    throw new ImageFormatError('image header is not JSON')
  }
  if (header.version !== 1 || !Array.isArray(header.members) || !Array.isArray(header.removed)) {
    throw new ImageFormatError(`image header has an unknown shape (version ${header.version})`)
  }
  const leftover = buffered.subarray(8 + headerBytes)
  // The rest of the stream; returning early (break, or return()) closes the source too, so
  // that a caller that only wanted the header releases the file at once.
  let leftoverPending = leftover.byteLength > 0
  const rest: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: async (): Promise<IteratorResult<Uint8Array>> => {
        if (leftoverPending) {
          leftoverPending = false
          return { done: false, value: leftover }
        }
        return it.next()
      },
      return: async (): Promise<IteratorResult<Uint8Array>> => {
        await it.return?.()
        return { done: true, value: undefined }
      },
    }),
  }
  return { header, rest }
}
