/**
 * Time as the server reads it, injected so that timeouts and lease expiry can be tested in
 * virtual time. Milliseconds; the system clock by default.
 */
export interface Clock {
  now(): number
}

export const systemClock: Clock = { now: () => Date.now() }
