/**
 * The follower-to-leader calls of server/port.ts LeaderLink, over the leader's Admin service.
 * Answers come back by their code (sent in the trailers), never by their text, so that the
 * forwarding member retries only when the leader could not be reached and hands everything
 * else to its client unchanged.
 */
import type { Buffer } from 'node:buffer'
import { credentials, type ChannelCredentials, type Client, type ServiceError } from '@grpc/grpc-js'
import { RaftdeskError } from '../errors'
import { ERROR_CODE_TRAILER, EtcdServerError, isEtcdErrorCode } from '../kernel/etcd-errors'
import type { LeaseId } from '../mvcc/types'
import type { LeaderLink } from '../server/port'
import { adminClientConstructor } from './admin'

type AdminStub = Client & {
  memberPromote(req: object, opts: object, cb: (e: ServiceError | null, r: object) => void): void
  leaseRenew(
    req: object,
    opts: object,
    cb: (e: ServiceError | null, r: { ttlSeconds: string }) => void,
  ): void
  leaseTimeToLive(
    req: object,
    opts: object,
    cb: (
      e: ServiceError | null,
      r: { ttlSeconds: string; grantedTtlSeconds: string; keys: Buffer[] },
    ) => void,
  ): void
}

/**
 * The error a member's Admin service answered with, rebuilt from the code it sends in the
 * trailers (never from the text). Without a code the call did not reach a raftdesk member's
 * handler (connection refused, deadline passed): the leader is unreachable.
 */
export function forwardedError(err: ServiceError, endpoint: string): RaftdeskError {
  const code = String(err.metadata?.get(ERROR_CODE_TRAILER)[0] ?? '')
  if (code === '') return new RaftdeskError('UNREACHABLE', `leader ${endpoint}: ${err.details}`)
  if (isEtcdErrorCode(code)) return new EtcdServerError(code, err.details)
  return new RaftdeskError(code, err.details)
}

/**
 * Calls that only the leader can answer, forwarded from a follower to the leader's Admin service
 * (authenticated with the cluster token), as etcd's followers forward lease keep-alives: the
 * server's LeaderLink over gRPC.
 */
export class GrpcLeaderLink implements LeaderLink {
  private client: { endpoint: string; stub: AdminStub } | null = null
  private readonly channel: ChannelCredentials

  /**
   * `leaderEndpoint` names the leader's client port (host:port) or throws etcd's "no leader" /
   * "not leader" when none is known. With `tls`, calls go over TLS, trusting its CA and
   * presenting this member's certificate.
   */
  constructor(
    private readonly leaderEndpoint: () => string,
    private readonly token: string,
    tls?: { ca?: Buffer; cert: Buffer; key: Buffer },
  ) {
    this.channel = tls
      ? credentials.createSsl(tls.ca ?? null, tls.key, tls.cert)
      : credentials.createInsecure()
  }

  private stub(): AdminStub {
    const endpoint = this.leaderEndpoint()
    if (this.client?.endpoint !== endpoint) {
      this.client?.stub.close()
      const Admin = adminClientConstructor()
      this.client = {
        endpoint,
        stub: new Admin(endpoint, this.channel) as unknown as AdminStub,
      }
    }
    return this.client.stub
  }

  private call<T>(
    deadlineMs: number,
    invoke: (stub: AdminStub, opts: object, cb: (e: ServiceError | null, r: T) => void) => void,
  ): Promise<T> {
    const stub = this.stub()
    const endpoint = this.client!.endpoint
    return new Promise<T>((resolve, reject) => {
      invoke(stub, { deadline: new Date(deadlineMs) }, (err, res) => {
        if (!err) return resolve(res)
        reject(forwardedError(err, endpoint))
      })
    })
  }

  async leaseRenew(id: LeaseId, deadlineMs: number): Promise<number> {
    const res = await this.call<{ ttlSeconds: string }>(deadlineMs, (s, o, cb) =>
      s.leaseRenew({ token: this.token, id: String(id) }, o, cb),
    )
    return Number(res.ttlSeconds)
  }

  async leaseTimeToLive(id: LeaseId, keys: boolean, deadlineMs: number) {
    const res = await this.call<{ ttlSeconds: string; grantedTtlSeconds: string; keys: Buffer[] }>(
      deadlineMs,
      (s, o, cb) => s.leaseTimeToLive({ token: this.token, id: String(id), keys }, o, cb),
    )
    return {
      ttlSeconds: Number(res.ttlSeconds),
      grantedTtlSeconds: Number(res.grantedTtlSeconds),
      keys: res.keys.map((k) => new Uint8Array(k)),
    }
  }

  async memberPromote(id: number, deadlineMs: number): Promise<void> {
    await this.call<object>(deadlineMs, (s, o, cb) =>
      s.memberPromote({ token: this.token, id: String(id) }, o, cb),
    )
  }

  close(): void {
    this.client?.stub.close()
    this.client = null
  }
}
