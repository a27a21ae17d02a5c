/**
 * Typed errors of the key-value state machine.
 *
 * Every error has a stable `code` (what callers and the gRPC layer switch on) and, where etcd has
 * one, etcd's client-visible message. Codes that etcd knows are the ones of node-core/api/errors.ts
 * (EtcdErrorCode: COMPACTED, FUTURE_REV, LEASE_NOT_FOUND, ...), so the gRPC layer maps them to
 * etcd's statuses without a translation table. Errors raised while applying a committed entry
 * are deterministic (the same on every node) and come back as `{ error: { code, message } }` in
 * the WriteResult instead of being thrown.
 */
import { LimitError, NotFoundError, RaftdeskError, ValidationError } from '../errors'

/** A read or watch at a revision that compaction has removed. */
export class CompactedError extends RaftdeskError {
  /** The store's compacted revision when the request was refused. */
  readonly compactedRevision: number
  constructor(compactedRevision: number) {
    super('COMPACTED', 'etcdserver: mvcc: required revision has been compacted')
    this.compactedRevision = compactedRevision
  }
}

/** A read or compaction at a revision the store has not reached yet. */
export class FutureRevisionError extends RaftdeskError {
  constructor() {
    super('FUTURE_REV', 'etcdserver: mvcc: required revision is a future revision')
  }
}

/** Put with ignoreValue / ignoreLease on a key that does not exist. */
export class KeyNotFoundError extends NotFoundError {
  constructor() {
    super('KEY_NOT_FOUND', 'etcdserver: key not found')
  }
}

export class LeaseNotFoundError extends NotFoundError {
  constructor() {
    super('LEASE_NOT_FOUND', 'etcdserver: requested lease not found')
  }
}

export class LeaseExistsError extends RaftdeskError {
  constructor() {
    super('LEASE_EXIST', 'etcdserver: lease already exists')
  }
}

export class LeaseTtlTooLargeError extends LimitError {
  constructor() {
    super('LEASE_TTL_TOO_LARGE', 'etcdserver: too large lease TTL')
  }
}

/**
 * Keep-alive of a lease whose time is up: its revoke is on its way through the log (or will be
 * retried by the next leader). The server answers the client once the revoke is applied.
 */
export class LeaseExpiredError extends RaftdeskError {
  constructor(id: bigint) {
    super('LEASE_EXPIRED', `lease ${id} has expired and is being revoked`)
  }
}

/** Keep-alive or expiry asked of a lessor that is not the primary (not on the leader). */
export class NotPrimaryError extends RaftdeskError {
  constructor() {
    super('NOT_PRIMARY', 'not a primary lessor')
  }
}

export class EmptyKeyError extends ValidationError {
  constructor() {
    super('EMPTY_KEY', 'etcdserver: key is not provided')
  }
}

export class ValueProvidedError extends ValidationError {
  constructor() {
    super('VALUE_PROVIDED', 'etcdserver: value is provided')
  }
}

export class LeaseProvidedError extends ValidationError {
  constructor() {
    super('LEASE_PROVIDED', 'etcdserver: lease is provided')
  }
}

export class DuplicateKeyError extends ValidationError {
  constructor() {
    super('DUPLICATE_KEY', 'etcdserver: duplicate key given in txn request')
  }
}

/** A number field out of its domain (negative revision, limit, ttl, id above 2^53...). */
export class InvalidArgumentError extends ValidationError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message)
  }
}

export class TooManyOpsError extends LimitError {
  constructor() {
    super('TOO_MANY_OPS', 'etcdserver: too many operations in txn request')
  }
}

/** A key, value, whole request or range result above its configured size limit. */
export class RequestTooLargeError extends LimitError {
  constructor(what: string, bytes: number, bytesMax: number) {
    super('REQUEST_TOO_LARGE', `etcdserver: request is too large (${what} ${bytes} > ${bytesMax})`)
  }
}

export class LeasesLimitError extends LimitError {
  constructor(leasesMax: number) {
    super('LEASES_LIMIT', `too many leases (limit ${leasesMax})`)
  }
}

export class WatchersLimitError extends LimitError {
  constructor(watchersMax: number) {
    super('WATCHERS_LIMIT', `too many watchers on this store (limit ${watchersMax})`)
  }
}

/**
 * A watcher whose consumer did not keep up: its buffer hit a limit, so the hub cancelled it rather
 * than drop events. Everything before `nextRevision` was delivered; re-watch from there.
 */
export class WatchFellBehindError extends LimitError {
  readonly nextRevision: number
  constructor(nextRevision: number, detail: string) {
    super(
      'WATCH_FELL_BEHIND',
      `watcher fell behind (${detail}); events before revision ${nextRevision} were delivered, re-watch from ${nextRevision}`,
    )
    this.nextRevision = nextRevision
  }
}

export class StoreClosedError extends RaftdeskError {
  constructor() {
    super('STORE_CLOSED', 'the mvcc store is closed')
  }
}

/** A read during the moment a restore from a snapshot image swaps the database: retry. */
export class StoreRestoringError extends RaftdeskError {
  constructor() {
    super('STORE_RESTORING', 'the mvcc store is being replaced by a snapshot; retry')
  }
}

/**
 * A write to classic-level failed after the in-memory state had moved on: the store refuses all
 * further work and the node must restart (it re-applies from the durable consistent index).
 */
export class StoreFailedError extends RaftdeskError {
  constructor(cause: unknown) {
    super('STORE_FAILED', `the mvcc store failed and must be reopened: ${describe(cause)}`)
  }
}

/** The database directory is open in another process (classic-level's LOCK is held). */
export class StoreLockedError extends RaftdeskError {
  constructor(dir: string) {
    super(
      'STORE_LOCKED',
      `the mvcc store ${dir} is in use by another process (is another node or \`npm run serve\` running on this data directory?)`,
    )
  }
}

/** Data read back from disk or from a snapshot image that breaks the format or an invariant. */
export class CorruptionError extends RaftdeskError {
  constructor(message: string) {
    super('CORRUPT', message)
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
