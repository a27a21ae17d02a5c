/**
 * The `leases/*` handlers: list with time left and attached keys, grant, revoke, and one
 * keep-alive (a short keep-alive stream that sends one request and waits for its answer).
 */
import type { LeaseInfo } from '../../contract'
import { NotFoundError } from '../errors'
import { withClientErrors, type Connections } from './connections'
import { leaseHex } from './kv'
import type { Handlers } from './router'

/** Keys listed per lease (the count says how many there are). */
export const LEASE_KEYS_SHOWN = 20
export const LEASES_LISTED_MAX = 1_000

type LeaseHandlers = Pick<
  Handlers,
  'leases/list' | 'leases/grant' | 'leases/revoke' | 'leases/keepAlive'
>

const dec = (hex: string) => BigInt(`0x${hex}`).toString()

export function createLeaseHandlers(conns: Connections): LeaseHandlers {
  const info = async (conn: string, id: string): Promise<LeaseInfo> => {
    const client = (await conns.use(conn)).client
    const t = await client.leaseClient.leaseTimeToLive({ ID: id, keys: true })
    return {
      id: leaseHex(id),
      ttl: Number(t.TTL),
      grantedTtl: Number(t.grantedTTL),
      keys: t.keys.slice(0, LEASE_KEYS_SHOWN).map((k) => new Uint8Array(k)),
      keyCount: t.keys.length,
    }
  }
  return {
    'leases/list': withClientErrors(async ({ conn }) => {
      const client = (await conns.use(conn)).client
      const { leases } = await client.leaseClient.leaseLeases()
      const all = await Promise.all(
        leases.slice(0, LEASES_LISTED_MAX).map((l) => info(conn, l.ID).catch(() => null)),
      )
      return {
        leases: all
          .filter((l): l is LeaseInfo => l !== null && l.ttl >= 0)
          .sort((a, b) => a.ttl - b.ttl),
        total: leases.length,
      }
    }),
    'leases/grant': withClientErrors(async ({ conn, ttl }) => {
      const client = (await conns.useWritable(conn)).client
      const granted = await client.leaseClient.leaseGrant({ TTL: ttl })
      return info(conn, granted.ID)
    }),
    'leases/revoke': withClientErrors(async ({ conn, id }) => {
      const client = (await conns.useWritable(conn)).client
      await client.leaseClient.leaseRevoke({ ID: dec(id) })
      return null
    }),
    'leases/keepAlive': withClientErrors(async ({ conn, id }) => {
      const client = (await conns.useWritable(conn)).client
      const stream = await client.leaseClient.leaseKeepAlive()
      try {
        const answer = new Promise<number>((resolve, reject) => {
          stream.on('data', (r) => resolve(Number(r.TTL)))
          stream.on('error', reject)
        })
        stream.write({ ID: dec(id) })
        const ttl = await answer
        if (ttl <= 0)
          throw new NotFoundError('LEASE_NOT_FOUND', `lease ${id} has expired or was revoked`)
        return ttl
      } finally {
        stream.cancel()
      }
    }),
  }
}
