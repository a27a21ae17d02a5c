/**
 * Link faults for the cluster's fault tools (per peer and direction: cut, delay, loss) and the
 * reconnect backoff schedule. Both transports use them; randomness comes from an injected
 * function so that tests and the simulator replay exactly.
 */
import { ValidationError } from '../errors'
import type { NodeId } from '../raft/types'
import type { LinkDirection, LinkFault } from './types'

/** Longest delay a fault may add: a limit, so a typo cannot park messages for hours. */
export const FAULT_DELAY_MS_MAX = 60_000

/** What a fault does to one message: 'drop' (cut), 'lose' (loss rate), or a delay (0 = none). */
export type FaultVerdict = 'drop' | 'lose' | number

export class LinkFaults {
  private readonly send = new Map<NodeId, LinkFault>()
  private readonly receive = new Map<NodeId, LinkFault>()

  constructor(private readonly random: () => number) {}

  set(peer: NodeId, fault: LinkFault, direction: LinkDirection = 'both'): void {
    const delayMs = fault.delayMs ?? 0
    const lossRate = fault.lossRate ?? 0
    if (!Number.isFinite(delayMs) || delayMs < 0 || delayMs > FAULT_DELAY_MS_MAX) {
      throw new ValidationError(
        'BAD_LINK_FAULT',
        `delayMs must be in [0, ${FAULT_DELAY_MS_MAX}], got ${fault.delayMs}`,
      )
    }
    if (!(lossRate >= 0 && lossRate <= 1)) {
      throw new ValidationError(
        'BAD_LINK_FAULT',
        `lossRate must be in [0, 1], got ${fault.lossRate}`,
      )
    }
    const clean: LinkFault = { drop: fault.drop === true, delayMs, lossRate }
    if (direction !== 'receive') this.send.set(peer, clean)
    if (direction !== 'send') this.receive.set(peer, clean)
  }

  heal(peer?: NodeId): void {
    if (peer === undefined) {
      this.send.clear()
      this.receive.clear()
    } else {
      this.send.delete(peer)
      this.receive.delete(peer)
    }
  }

  get(peer: NodeId): { send?: LinkFault; receive?: LinkFault } {
    return { send: this.send.get(peer), receive: this.receive.get(peer) }
  }

  /** The verdict for one message on the link to/from `peer`. Draws randomness only for loss. */
  check(peer: NodeId, direction: 'send' | 'receive'): FaultVerdict {
    const f = (direction === 'send' ? this.send : this.receive).get(peer)
    if (f === undefined) return 0
    if (f.drop) return 'drop'
    if (f.lossRate! > 0 && this.random() < f.lossRate!) return 'lose'
    return f.delayMs!
  }
}

export interface BackoffOptions {
  /** Delay after the first failure. */
  baseMs: number
  /** Cap of the exponential growth. */
  maxMs: number
  /** Fraction of the delay that jitter may take off: delay * (1 - jitterRatio * random()). */
  jitterRatio: number
}

/**
 * Delay before reconnect attempt `attempt` (0 after the first failure): baseMs doubled per
 * attempt, capped at maxMs, minus up to jitterRatio of it so that peers restarting together do
 * not redial in lockstep.
 */
export function backoffDelayMs(attempt: number, o: BackoffOptions, random: () => number): number {
  if (!(o.baseMs > 0 && o.maxMs >= o.baseMs && o.jitterRatio >= 0 && o.jitterRatio <= 1)) {
    throw new ValidationError(
      'BAD_BACKOFF',
      `backoff needs 0 < baseMs (${o.baseMs}) <= maxMs (${o.maxMs}), jitterRatio (${o.jitterRatio}) in [0, 1]`,
    )
  }
  const exp = Math.min(o.maxMs, o.baseMs * 2 ** Math.min(attempt, 40))
  return Math.max(1, Math.round(exp * (1 - o.jitterRatio * random())))
}
