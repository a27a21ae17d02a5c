/**
 * The typed client of raftdesk's Admin service (api/proto/raftdesk.proto): one stub for every
 * caller — a follower forwarding to its leader (leader-link.ts), a node joining a cluster
 * (cluster/join.ts), a window inspecting a raftdesk cluster on another machine (the node admin
 * port through `call`). Every call carries the cluster token; failures come back as
 * RaftdeskErrors by the code the member sent in the trailers (forwardedError), or
 * 'UNREACHABLE' when the call never reached a member's handler.
 */
import {
  credentials,
  status as grpcStatus,
  type ChannelCredentials,
  type Client,
  type ServiceError,
} from '@grpc/grpc-js'
import { adminClientConstructor } from '../api/admin'
import { RaftdeskError } from '../errors'
import { ERROR_CODE_TRAILER, EtcdServerError, isEtcdErrorCode } from '../kernel/etcd-errors'
import { memberFromWire, type Member, type WireMember } from '../kernel/member'
import type { LeaseId } from '../mvcc/types'
import type { AdminArgs, AdminCall, AdminResult } from '../server/admin-port'

/** How the Admin service's messages look to grpc-js (proto-loader: int64 as strings). */
type Callback<T> = (e: ServiceError | null, r: T) => void
interface AdminStub extends Client {
  call(
    req: { token: string; call: string; args: Buffer },
    o: object,
    cb: Callback<{ result: Buffer }>,
  ): void
  join(
    req: { token: string; name: string; peerUrls: string[]; clientUrls: string[] },
    o: object,
    cb: Callback<{ memberId: string; clusterId: string; members: WireMember[] }>,
  ): void
  memberPromote(req: { token: string; id: string }, o: object, cb: Callback<object>): void
  leaseRenew(
    req: { token: string; id: string },
    o: object,
    cb: Callback<{ ttlSeconds: string }>,
  ): void
  leaseTimeToLive(
    req: { token: string; id: string; keys: boolean },
    o: object,
    cb: Callback<{ ttlSeconds: string; grantedTtlSeconds: string; keys: Buffer[] }>,
  ): void
}

/**
 * The error a member's Admin service answered with, rebuilt from the code it sends in the
 * trailers (never from the text). Without a code the call did not reach a raftdesk member's
 * handler (connection refused, deadline passed): the member is unreachable.
 */
export function forwardedError(err: ServiceError, endpoint: string): RaftdeskError {
  const code = String(err.metadata?.get(ERROR_CODE_TRAILER)[0] ?? '')
  // Something answers gRPC there without raftdesk's Admin service: an etcd, most often.
  if (code === '' && err.code === grpcStatus.UNIMPLEMENTED) {
    return new RaftdeskError(
      'NOT_RAFTDESK',
      `${endpoint} answers gRPC but has no raftdesk Admin service: it is not a raftdesk member (a real etcd?)`,
    )
  }
  if (code === '') return new RaftdeskError('UNREACHABLE', `${endpoint}: ${err.details}`)
  if (isEtcdErrorCode(code)) return new EtcdServerError(code, err.details)
  return new RaftdeskError(code, err.details)
}

export interface AdminClientTls {
  ca?: Buffer
  cert?: Buffer
  key?: Buffer
}

export class AdminClient {
  private readonly stub: AdminStub

  constructor(
    readonly endpoint: string,
    private readonly token: string,
    tls?: AdminClientTls | ChannelCredentials,
  ) {
    const channel =
      tls === undefined
        ? credentials.createInsecure()
        : 'compose' in tls
          ? tls
          : credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null)
    const Admin = adminClientConstructor()
    this.stub = new Admin(endpoint, channel) as unknown as AdminStub
  }

  private invoke<T>(deadlineMs: number, run: (o: object, cb: Callback<T>) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      run({ deadline: new Date(deadlineMs) }, (err, res) =>
        err ? reject(forwardedError(err, this.endpoint)) : resolve(res),
      )
    })
  }

  /** One call of the node admin port, typed by its definition. */
  async call<K extends AdminCall>(
    call: K,
    args: AdminArgs<K>,
    deadlineMs = Date.now() + 5_000,
  ): Promise<AdminResult<K>> {
    const res = await this.invoke<{ result: Buffer }>(deadlineMs, (o, cb) =>
      this.stub.call({ token: this.token, call, args: Buffer.from(JSON.stringify(args)) }, o, cb),
    )
    return JSON.parse(Buffer.from(res.result).toString('utf8')) as AdminResult<K>
  }

  async join(
    req: { name: string; peerUrls: string[]; clientUrls: string[] },
    deadlineMs: number,
  ): Promise<{ memberId: number; clusterId: number; members: Member[] }> {
    const res = await this.invoke<{ memberId: string; clusterId: string; members: WireMember[] }>(
      deadlineMs,
      (o, cb) => this.stub.join({ token: this.token, ...req }, o, cb),
    )
    return {
      memberId: Number(res.memberId),
      clusterId: Number(res.clusterId),
      members: res.members.map(memberFromWire),
    }
  }

  async leaseRenew(id: LeaseId, deadlineMs: number): Promise<number> {
    const res = await this.invoke<{ ttlSeconds: string }>(deadlineMs, (o, cb) =>
      this.stub.leaseRenew({ token: this.token, id: String(id) }, o, cb),
    )
    return Number(res.ttlSeconds)
  }

  async leaseTimeToLive(id: LeaseId, keys: boolean, deadlineMs: number) {
    const res = await this.invoke<{
      ttlSeconds: string
      grantedTtlSeconds: string
      keys: Buffer[]
    }>(deadlineMs, (o, cb) =>
      this.stub.leaseTimeToLive({ token: this.token, id: String(id), keys }, o, cb),
    )
    return {
      ttlSeconds: Number(res.ttlSeconds),
      grantedTtlSeconds: Number(res.grantedTtlSeconds),
      keys: res.keys.map((k) => new Uint8Array(k)),
    }
  }

  async memberPromote(id: number, deadlineMs: number): Promise<void> {
    await this.invoke<object>(deadlineMs, (o, cb) =>
      this.stub.memberPromote({ token: this.token, id: String(id) }, o, cb),
    )
  }

  close(): void {
    this.stub.close()
  }
}
