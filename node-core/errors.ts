/**
 * Typed errors shared by every node-core module and carried across process boundaries as
 * { name, code, message } (see contract/index.ts WireError).
 *
 * A module throws a RaftdeskError subclass with a stable `code`; routers turn any thrown value
 * into a WireError with toWireError() so that nothing but those three strings crosses IPC.
 */
import type { WireError } from '../contract'

export class RaftdeskError extends Error {
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.code = code
    this.name = new.target.name
  }
}

/** Input that does not match what a call accepts. */
export class ValidationError extends RaftdeskError {}
/** A message from a sender that is not allowed to talk to us. */
export class ForbiddenError extends RaftdeskError {}
/** A limit was hit (queue length, request size, ...). */
export class LimitError extends RaftdeskError {}
/** Something that was asked for does not exist. */
export class NotFoundError extends RaftdeskError {}

export function toWireError(err: unknown): WireError {
  if (err instanceof RaftdeskError) {
    return { name: err.name, code: err.code, message: err.message }
  }
  if (err instanceof Error) {
    return { name: err.name || 'Error', code: 'INTERNAL', message: err.message }
  }
  return { name: 'Error', code: 'INTERNAL', message: String(err) }
}
