/**
 * The renderer's only way out: typed calls on the API contract. Envelopes are unwrapped here and
 * refusals rebuilt into ApiError, so components deal with values and typed errors only.
 */
import type { ArgsOf, Channel, RaftdeskBridge, ResultOf, WireError } from '../../../contract'

export class ApiError extends Error {
  readonly code: string
  readonly kind: string
  constructor(wire: WireError) {
    super(wire.message)
    this.name = 'ApiError'
    this.kind = wire.name
    this.code = wire.code
  }
}

export interface ApiClient {
  call<C extends Channel>(channel: C, ...args: ArgsOf<C>): Promise<ResultOf<C>>
}

export function createApiClient(bridge: RaftdeskBridge | undefined): ApiClient {
  return {
    async call(channel, ...args) {
      if (!bridge) {
        throw new ApiError({
          name: 'UnavailableError',
          code: 'NO_BRIDGE',
          message: 'raftdesk API is not available in this window',
        })
      }
      const envelope = await bridge.invoke(channel, ...args)
      if (!envelope.ok) throw new ApiError(envelope.error)
      return envelope.value
    },
  }
}
