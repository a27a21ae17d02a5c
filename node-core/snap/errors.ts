/** Typed errors of the snapshot store (stable codes; see node-core/errors.ts). */
import { LimitError, NotFoundError, RaftdeskError, ValidationError } from '../errors'

/** A snapshot file whose bytes do not check out: bad magic, header, metadata, length or CRC. */
export class SnapCorruptError extends RaftdeskError {
  readonly file: string
  readonly offset: number
  constructor(file: string, offset: number, reason: string) {
    super('SNAP_CORRUPT', `snapshot corrupt: ${file} at byte offset ${offset}: ${reason}`)
    this.file = file
    this.offset = offset
  }
}

/** An image or file larger than the configured limit. Nothing was made visible. */
export class SnapTooLargeError extends LimitError {
  constructor(what: string, bytes: number, bytesMax: number) {
    super(
      'SNAP_TOO_LARGE',
      `snapshot: ${what} passed ${bytes} bytes, over the limit of ${bytesMax}`,
    )
  }
}

/** A received snapshot is not the one announced (index or term differ). */
export class SnapMismatchError extends ValidationError {
  constructor(message: string) {
    super('SNAP_MISMATCH', `snapshot: ${message}`)
  }
}

/** Invalid metadata or options given by the caller. */
export class SnapInvalidArgumentError extends ValidationError {
  constructor(message: string) {
    super('SNAP_INVALID_ARGUMENT', `snapshot: ${message}`)
  }
}

export class SnapNotFoundError extends NotFoundError {
  constructor(message: string) {
    super('SNAP_NOT_FOUND', `snapshot: ${message}`)
  }
}
