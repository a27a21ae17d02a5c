/**
 * The transport-independent half of the API: a typed map of handlers keyed 'namespace/action',
 * argument validation, and the envelope every answer travels in.
 *
 * Electron's IPC (main/ipc.ts) and the web-mode WebSocket both call dispatch(); neither knows
 * the handlers, and the handlers know neither transport.
 */
import type { ArgsOf, Channel, Envelope, ResultOf } from '../../contract'
import { ValidationError, toWireError } from '../errors'
import { argSchemas } from './schemas'

export type Handlers = {
  [C in Channel]: (...args: ArgsOf<C>) => ResultOf<C> | Promise<ResultOf<C>>
}

export function isChannel(value: unknown): value is Channel {
  return typeof value === 'string' && Object.hasOwn(argSchemas, value)
}

/** Parses the raw arguments of a call; throws ValidationError with a readable message. */
export function parseArgs<C extends Channel>(channel: C, raw: unknown[]): ArgsOf<C> {
  const parsed = argSchemas[channel].safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue && issue.path.length > 0 ? ` at argument ${issue.path.join('.')}` : ''
    throw new ValidationError(
      'BAD_ARGUMENT',
      `${channel}: invalid arguments${where}: ${issue?.message ?? 'does not match'}`,
    )
  }
  return parsed.data as ArgsOf<C>
}

export async function dispatch(
  handlers: Handlers,
  channel: unknown,
  rawArgs: unknown[],
): Promise<Envelope<unknown>> {
  try {
    if (!isChannel(channel)) {
      throw new ValidationError('UNKNOWN_CHANNEL', `unknown channel ${JSON.stringify(channel)}`)
    }
    const args = parseArgs(channel, rawArgs)
    const handler = handlers[channel] as (...a: unknown[]) => unknown
    return { ok: true, value: await handler(...args) }
  } catch (err) {
    return { ok: false, error: toWireError(err) }
  }
}
