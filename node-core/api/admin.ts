/**
 * raftdesk's Admin service (proto/raftdesk.proto), served beside etcd's services on the client
 * port. Join is how a node of another machine or another raftdesk becomes a member: it proves it
 * knows the cluster token, and is added as a learner.
 */
import { timingSafeEqual, createHash } from 'node:crypto'
import {
  Metadata,
  loadPackageDefinition,
  status as GrpcStatus,
  type GrpcObject,
  type ServiceClientConstructor,
  type ServiceDefinition,
  type UntypedServiceImplementation,
  type sendUnaryData,
  type ServerUnaryCall,
} from '@grpc/grpc-js'
import { loadSync } from '@grpc/proto-loader'
import { RaftdeskError } from '../errors'
import { PROTO_DIR, PROTO_LOADER_OPTIONS } from './proto'
import { ERROR_CODE_TRAILER } from '../kernel/etcd-errors'
import { toGrpcStatus } from './errors'

export interface AdminMember {
  id: number
  name: string
  peerUrls: string[]
  clientUrls: string[]
  isLearner: boolean
}

export interface JoinRequest {
  name: string
  peerUrls: string[]
  clientUrls: string[]
}

export interface JoinResult {
  memberId: number
  clusterId: number
  members: AdminMember[]
}

export interface AdminBackend {
  /** The cluster token a joining node (or a forwarding member) must present. */
  clusterToken(): string
  /** Adds a learner with this record; resolves once the change is applied here. */
  addLearner(req: JoinRequest): Promise<JoinResult>
  /** Leader only: renews a lease, returns its TTL in seconds. */
  leaseRenew(id: number): Promise<number>
  /** Leader only: a lease's remaining and granted TTL, and its keys when asked. */
  leaseTimeToLive(
    id: number,
    keys: boolean,
  ): Promise<{ ttlSeconds: number; grantedTtlSeconds: number; keys: Uint8Array[] }>
}

export function loadAdminPackage(protoDir: string = PROTO_DIR): GrpcObject {
  const def = loadSync('raftdesk.proto', { ...PROTO_LOADER_OPTIONS, includeDirs: [protoDir] })
  return (loadPackageDefinition(def)['raftdesk'] as GrpcObject)['v1'] as GrpcObject
}

export function adminServiceDefinition(protoDir?: string): ServiceDefinition {
  return (loadAdminPackage(protoDir)['Admin'] as ServiceClientConstructor).service
}

export function adminClientConstructor(protoDir?: string): ServiceClientConstructor {
  return loadAdminPackage(protoDir)['Admin'] as ServiceClientConstructor
}

function sameSecret(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest()
  const db = createHash('sha256').update(b).digest()
  return timingSafeEqual(da, db)
}

const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/
const URL_RE = /^https?:\/\/[A-Za-z0-9.\-[\]:]+:\d{1,5}$/

interface PbJoinRequest {
  token: string
  name: string
  peerUrls: string[]
  clientUrls: string[]
}

function refuseToken(
  token: string | undefined,
  backend: AdminBackend,
  callback: sendUnaryData<unknown>,
): boolean {
  if (sameSecret(token ?? '', backend.clusterToken())) return false
  const metadata = new Metadata()
  metadata.set(ERROR_CODE_TRAILER, 'WRONG_CLUSTER_TOKEN')
  callback({
    code: GrpcStatus.PERMISSION_DENIED,
    details: 'raftdesk: wrong cluster token',
    metadata,
  })
  return true
}

function answer<T>(promise: Promise<T>, map: (v: T) => unknown, callback: sendUnaryData<unknown>) {
  promise
    .then((v) => callback(null, map(v)))
    .catch((err: unknown) => {
      const e = err instanceof Error ? err : new RaftdeskError('INTERNAL', String(err))
      const s = toGrpcStatus(e)
      const metadata = new Metadata()
      if (e instanceof RaftdeskError) metadata.set(ERROR_CODE_TRAILER, e.code)
      callback({ code: s.code, details: s.details, metadata })
    })
}

export function adminService(backend: AdminBackend): UntypedServiceImplementation {
  return {
    LeaseRenew(
      call: ServerUnaryCall<{ token: string; id: string }, unknown>,
      callback: sendUnaryData<unknown>,
    ) {
      if (refuseToken(call.request.token, backend, callback)) return
      answer(
        backend.leaseRenew(Number(call.request.id)),
        (ttl) => ({ ttlSeconds: String(ttl) }),
        callback,
      )
    },
    LeaseTimeToLive(
      call: ServerUnaryCall<{ token: string; id: string; keys: boolean }, unknown>,
      callback: sendUnaryData<unknown>,
    ) {
      if (refuseToken(call.request.token, backend, callback)) return
      answer(
        backend.leaseTimeToLive(Number(call.request.id), call.request.keys),
        (r) => ({
          ttlSeconds: String(r.ttlSeconds),
          grantedTtlSeconds: String(r.grantedTtlSeconds),
          keys: r.keys.map((k) => Buffer.from(k)),
        }),
        callback,
      )
    },
    Join(call: ServerUnaryCall<PbJoinRequest, unknown>, callback: sendUnaryData<unknown>) {
      const req = call.request
      if (refuseToken(req.token, backend, callback)) return
      if (!NAME_RE.test(req.name ?? '')) {
        callback({
          code: GrpcStatus.INVALID_ARGUMENT,
          details: `raftdesk: member name must be 1-64 letters, digits, '.', '_' or '-', got ${JSON.stringify(req.name)}`,
        })
        return
      }
      const urls = [...(req.peerUrls ?? []), ...(req.clientUrls ?? [])]
      const bad = urls.find((u) => !URL_RE.test(u))
      if (bad !== undefined || (req.peerUrls ?? []).length === 0) {
        callback({
          code: GrpcStatus.INVALID_ARGUMENT,
          details: `raftdesk: URLs must look like http://host:port${bad ? `, got ${JSON.stringify(bad)}` : ' (no peer URL given)'}`,
        })
        return
      }
      answer(
        backend.addLearner({
          name: req.name,
          peerUrls: req.peerUrls,
          clientUrls: req.clientUrls ?? [],
        }),
        (result) => ({
          memberId: String(result.memberId),
          clusterId: String(result.clusterId),
          members: result.members.map((m) => ({ ...m, id: String(m.id) })),
        }),
        callback,
      )
    },
  }
}
