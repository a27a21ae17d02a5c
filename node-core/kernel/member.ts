/**
 * A cluster member, the one record every layer shares: the server's membership, the port the
 * gRPC layer serves, raftdesk's Admin service (joins), the clients, and the supervisor's protocol.
 * It mirrors etcd's Member (etcdserverpb): an id, a name (empty until the member has started and
 * published it), peer and client URLs, and whether it is a learner.
 */
export interface Member {
  id: number
  name: string
  peerUrls: string[]
  clientUrls: string[]
  isLearner: boolean
}

/** A member as a wire carries it where ids are uint64 decimal strings (gRPC with longs: String). */
export type WireMember = Omit<Member, 'id'> & { id: string }

export function memberToWire(m: Member): WireMember {
  return { ...m, id: String(m.id) }
}

/** Reads a member off the wire; an id that is not a positive integer below 2^53 is refused. */
export function memberFromWire(w: WireMember): Member {
  const id = Number(w.id)
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw new RangeError(`member id ${JSON.stringify(w.id)} is not a positive integer below 2^53`)
  }
  return {
    id,
    name: w.name,
    peerUrls: [...w.peerUrls],
    clientUrls: [...w.clientUrls],
    isLearner: w.isLearner,
  }
}

/** A name a member (or a local cluster) may have: what Admin.Join, the supervisor and joins accept. */
export const MEMBER_NAME_RE = /^[A-Za-z0-9._-]{1,64}$/
/** What a member name must be, for error messages. */
export const MEMBER_NAME_RULE = "1-64 letters, digits, '.', '_' or '-'"
/** A member URL as raftdesk's Admin service accepts it: http(s)://host:port. */
export const MEMBER_URL_RE = /^https?:\/\/[A-Za-z0-9.\-[\]:]+:\d{1,5}$/

/** Whether host:port names this machine's loopback interface (127.x, localhost, [::1]). */
export function isLoopbackAddress(hostPort: string): boolean {
  const host = hostPort.slice(0, hostPort.lastIndexOf(':')).replace(/^\[|\]$/g, '')
  return host === 'localhost' || host.startsWith('127.') || host === '::1'
}
