/**
 * The one logger interface of node-core. Every layer takes a Logger (the raft core too: it only
 * ever passes a message), and hands a child to the parts it builds, so that a line says where it
 * comes from ("api: ...", "transport: ...") without wrappers written by hand.
 */
export type LogFields = Record<string, unknown>
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

export interface Logger {
  debug(message: string, fields?: LogFields): void
  info(message: string, fields?: LogFields): void
  warn(message: string, fields?: LogFields): void
  error(message: string, fields?: LogFields): void
  /** A logger whose messages start with `prefix: `, written where this one writes. */
  child(prefix: string): Logger
}

/** Where a logger's lines go: one call per line, with its level. */
export type LogSink = (level: LogLevel, message: string, fields?: LogFields) => void

/** A Logger over a sink; `prefix` (with children's prefixes after it) starts every message. */
export function loggerFrom(sink: LogSink, prefix = ''): Logger {
  const lead = prefix === '' ? '' : `${prefix}: `
  return {
    debug: (message, fields) => sink('debug', lead + message, fields),
    info: (message, fields) => sink('info', lead + message, fields),
    warn: (message, fields) => sink('warn', lead + message, fields),
    error: (message, fields) => sink('error', lead + message, fields),
    child: (inner) => loggerFrom(sink, prefix === '' ? inner : `${prefix}: ${inner}`),
  }
}

/** A logger that drops everything (the default where none is given). */
export const silentLogger: Logger = loggerFrom(() => undefined)
