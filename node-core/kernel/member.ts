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
