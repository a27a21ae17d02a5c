/**
 * Typed errors of the write-ahead log. Each has a stable `code` (see node-core/errors.ts); the
 * ones about bad bytes on disk name the file and the byte offset so that a person can look.
 */
import { LimitError, NotFoundError, RaftdeskError, ValidationError } from '../errors'

/**
 * Bytes on disk that cannot be the result of a crash: a CRC mismatch that is not a torn tail,
 * a bad record in the middle of the log, a broken CRC chain between segments, a missing
 * segment. The node must refuse to start rather than run on them.
 */
export class WalCorruptError extends RaftdeskError {
  readonly file: string
  readonly offset: number
  constructor(file: string, offset: number, reason: string) {
    super('WAL_CORRUPT', `WAL corrupt: ${file} at byte offset ${offset}: ${reason}`)
    this.file = file
    this.offset = offset
  }
}

/** Another process (or another Wal in this process) holds the directory's lock file. */
export class WalLockedError extends RaftdeskError {
  readonly pid: number
  constructor(dir: string, pid: number, detail: string) {
    super('WAL_LOCKED', `WAL ${dir} is in use by pid ${pid}${detail}`)
    this.pid = pid
  }
}

/** createWal() on a directory that already holds segments. */
export class WalExistsError extends RaftdeskError {
  constructor(dir: string) {
    super('WAL_EXISTS', `WAL ${dir} already exists`)
  }
}

/** openWal() on a directory with no segments. */
export class WalNotFoundError extends NotFoundError {
  constructor(dir: string, detail = 'no segment files') {
    super('WAL_NOT_FOUND', `WAL ${dir}: ${detail}`)
  }
}

/**
 * The snapshot the WAL was asked to replay from has no marker in the WAL (it was never
 * recorded, its term differs, or the segments that held it were released).
 */
export class WalSnapshotNotFoundError extends NotFoundError {
  constructor(dir: string, index: number, term: number, detail: string) {
    super(
      'WAL_SNAPSHOT_NOT_FOUND',
      `WAL ${dir}: no snapshot marker for index ${index} term ${term}: ${detail}`,
    )
  }
}

/** A record (one entry, usually) larger than recordBytesMax. Nothing of the batch was written. */
export class WalRecordTooLargeError extends LimitError {
  constructor(what: string, bytes: number, bytesMax: number) {
    super('WAL_RECORD_TOO_LARGE', `WAL: ${what} is ${bytes} bytes, over the limit of ${bytesMax}`)
  }
}

/** More bytes waiting for the disk than queueBytesMax. Nothing of the batch was queued. */
export class WalQueueFullError extends LimitError {
  constructor(bytes: number, queuedBytes: number, bytesMax: number) {
    super(
      'WAL_QUEUE_FULL',
      `WAL: batch of ${bytes} bytes refused, ${queuedBytes} bytes already queued (limit ${bytesMax})`,
    )
  }
}

/** A call that breaks the WAL's contract (a gap in the entries, a release beyond a snapshot). */
export class WalInvalidArgumentError extends ValidationError {
  constructor(message: string) {
    super('WAL_INVALID_ARGUMENT', `WAL: ${message}`)
  }
}

/** The Wal was closed. */
export class WalClosedError extends RaftdeskError {
  constructor() {
    super('WAL_CLOSED', 'WAL is closed')
  }
}

/**
 * A write, fsync or segment cut failed. After a failed fsync nothing about the file's contents
 * can be trusted (the page cache may have dropped the dirty pages), so the Wal refuses all
 * further work; the node must restart and replay.
 */
export class WalFailedError extends RaftdeskError {
  constructor(cause: unknown) {
    super(
      'WAL_FAILED',
      `WAL failed and accepts no more writes: ${cause instanceof Error ? cause.message : String(cause)}`,
    )
    this.cause = cause
  }
}
