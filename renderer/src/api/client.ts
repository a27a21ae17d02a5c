/**
 * The renderer's only way out: typed calls and topics on the API contract. Envelopes are
 * unwrapped here and refusals rebuilt into ApiError, so components deal with values and typed
 * errors only.
 */
import type {
  ArgsOf,
  Channel,
  EventOf,
  RaftdeskBridge,
  ResultOf,
  Topic,
  TopicArgsOf,
  WireError,
} from '../../../contract'

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

export interface TopicHandlers<E> {
  event(event: E): void
  /** The stream ended with an error (or could not open); it is closed. */
  error?(err: ApiError): void
}

export interface ApiClient {
  call<C extends Channel>(channel: C, ...args: ArgsOf<C>): Promise<ResultOf<C>>
  /** Opens a topic; the returned function closes it. */
  subscribe<T extends Topic>(
    topic: T,
    args: TopicArgsOf<T>,
    handlers: TopicHandlers<EventOf<T>>,
  ): () => void
}

const NO_BRIDGE: WireError = {
  name: 'UnavailableError',
  code: 'NO_BRIDGE',
  message: 'raftdesk API is not available in this window',
}

export function createApiClient(bridge: RaftdeskBridge | undefined): ApiClient {
  return {
    async call(channel, ...args) {
      if (!bridge) throw new ApiError(NO_BRIDGE)
      const envelope = await bridge.invoke(channel, ...args)
      if (!envelope.ok) throw new ApiError(envelope.error)
      return envelope.value
    },
    subscribe(topic, args, handlers) {
      if (!bridge) {
        handlers.error?.(new ApiError(NO_BRIDGE))
        return () => {}
      }
      return bridge.subscribe(topic, args, (message) => {
        if (message.type === 'event') handlers.event(message.event)
        else if (message.type === 'error') handlers.error?.(new ApiError(message.error))
      })
    },
  }
}

/** The sentence to show for anything thrown by a call. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
