/**
 * The follower-to-leader calls of server/port.ts LeaderLink, over the leader's Admin service
 * through the typed AdminClient. Calls that only the leader can answer are forwarded there
 * (authenticated with the cluster token), as etcd's followers forward lease keep-alives.
 */
import type { LeaseId } from '../mvcc/types'
import type { LeaderLink } from '../server/port'
import { AdminClient, type AdminClientTls } from './admin-client'

export { forwardedError } from './admin-client'

export class GrpcLeaderLink implements LeaderLink {
  private client: AdminClient | null = null

  /**
   * `leaderEndpoint` names the leader's client port (host:port) or throws etcd's "no leader" /
   * "not leader" when none is known. With `tls`, calls go over TLS, trusting its CA and
   * presenting this member's certificate.
   */
  constructor(
    private readonly leaderEndpoint: () => string,
    private readonly token: string,
    private readonly tls?: AdminClientTls,
  ) {}

  /** The client of the leader now (a new one when leadership moved). */
  private leader(): AdminClient {
    const endpoint = this.leaderEndpoint()
    if (this.client?.endpoint !== endpoint) {
      this.client?.close()
      this.client = new AdminClient(endpoint, this.token, this.tls)
    }
    return this.client
  }

  leaseRenew(id: LeaseId, deadlineMs: number): Promise<number> {
    return this.leader().leaseRenew(id, deadlineMs)
  }

  leaseTimeToLive(id: LeaseId, keys: boolean, deadlineMs: number) {
    return this.leader().leaseTimeToLive(id, keys, deadlineMs)
  }

  memberPromote(id: number, deadlineMs: number): Promise<void> {
    return this.leader().memberPromote(id, deadlineMs)
  }

  close(): void {
    this.client?.close()
    this.client = null
  }
}
