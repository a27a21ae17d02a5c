/**
 * raftdesk's Admin service (proto/raftdesk.proto), served beside etcd's services on the client
 * port. Call serves the node admin port (server/admin-port.ts) to tools on other machines. Join is how a node of another machine or another raftdesk becomes a member: it proves it
 * knows the cluster token, and is added as a learner. LeaseRenew and LeaseTimeToLive are how a
 * follower hands its clients' lease calls to the leader.
 *
 * Its calls pass the same chain as etcd's (context.ts CALL_CHAIN): the strict decoder, the
 * learner rule, the cluster token check (the authentication step for Admin calls), the rate
 * limit; errors are answered with their code in the trailers (ERROR_CODE_TRAILER).
 */
import { MEMBER_NAME_RE, MEMBER_NAME_RULE, MEMBER_URL_RE, memberToWire } from '../kernel/member'
import {
  loadPackageDefinition,
  type GrpcObject,
  type ServiceClientConstructor,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js'
import { loadSync } from '@grpc/proto-loader'
import { ValidationError } from '../errors'
import { ADMIN_METHOD_PREFIX, unary, type ApiContext } from './context'
import { PROTO_DIR, PROTO_LOADER_OPTIONS, safeServiceDefinition } from './proto'
import { id64 } from './codec'
import { schemaOf } from './wire-check'
import type { AdminBackend } from '../server/port'
import { ADMIN_ARG_SCHEMAS, isAdminCall } from '../server/admin-port'

function loadAdminDefinition(protoDir: string = PROTO_DIR) {
  return loadSync('raftdesk.proto', { ...PROTO_LOADER_OPTIONS, includeDirs: [protoDir] })
}

export function loadAdminPackage(protoDir: string = PROTO_DIR): GrpcObject {
  return (loadPackageDefinition(loadAdminDefinition(protoDir))['raftdesk'] as GrpcObject)[
    'v1'
  ] as GrpcObject
}

/** The Admin service for Server.addService, with the strict never-throwing decoders. */
export function adminServiceDefinition(protoDir?: string): ServiceDefinition {
  const pkg = loadAdminDefinition(protoDir)
  return safeServiceDefinition(pkg, schemaOf(pkg), 'raftdesk.v1', 'Admin')
}

export function adminClientConstructor(protoDir?: string): ServiceClientConstructor {
  return loadAdminPackage(protoDir)['Admin'] as ServiceClientConstructor
}

interface PbJoinRequest {
  token: string
  name: string
  peerUrls: string[]
  clientUrls: string[]
}

/** The Admin service's handlers; the chain has checked the cluster token before they run. */
export function adminService(ctx: ApiContext, backend: AdminBackend): UntypedServiceImplementation {
  const method = (name: string) => `${ADMIN_METHOD_PREFIX}${name}`
  return {
    LeaseRenew: unary<{ token: string; id: string }>(ctx, method('LeaseRenew'), async (req) => ({
      ttlSeconds: String(await backend.leaseRenew(BigInt(req.id))),
    })),
    LeaseTimeToLive: unary<{ token: string; id: string; keys: boolean }>(
      ctx,
      method('LeaseTimeToLive'),
      async (req) => {
        const r = await backend.leaseTimeToLive(BigInt(req.id), req.keys)
        return {
          ttlSeconds: String(r.ttlSeconds),
          grantedTtlSeconds: String(r.grantedTtlSeconds),
          keys: r.keys.map((k) => Buffer.from(k)),
        }
      },
    ),
    MemberPromote: unary<{ token: string; id: string }>(
      ctx,
      method('MemberPromote'),
      async (req) => {
        await backend.memberPromote(id64(req.id, 'MemberPromoteRequest.id'))
        return {}
      },
    ),
    Call: unary<{ token: string; call: string; args: Buffer }>(ctx, method('Call'), async (req) => {
      if (!backend.adminCall || !isAdminCall(req.call)) {
        throw new ValidationError(
          'UNKNOWN_ADMIN_CALL',
          `raftdesk: no admin call named ${JSON.stringify(req.call)}`,
        )
      }
      let raw: unknown
      try {
        raw = JSON.parse(Buffer.from(req.args ?? []).toString('utf8') || '{}')
      } catch {
        throw new ValidationError('BAD_ADMIN_ARGS', `raftdesk: ${req.call}: arguments are not JSON`)
      }
      const parsed = ADMIN_ARG_SCHEMAS[req.call].safeParse(raw)
      if (!parsed.success) {
        throw new ValidationError(
          'BAD_ADMIN_ARGS',
          `raftdesk: ${req.call}: ${parsed.error.message}`,
        )
      }
      const result = await backend.adminCall(req.call, parsed.data as never)
      return { result: Buffer.from(JSON.stringify(result)) }
    }),
    Join: unary<PbJoinRequest>(ctx, method('Join'), async (req) => {
      if (!MEMBER_NAME_RE.test(req.name ?? '')) {
        throw new ValidationError(
          'INVALID_MEMBER_NAME',
          `raftdesk: member name must be ${MEMBER_NAME_RULE}, got ${JSON.stringify(req.name)}`,
        )
      }
      const urls = [...(req.peerUrls ?? []), ...(req.clientUrls ?? [])]
      const bad = urls.find((u) => !MEMBER_URL_RE.test(u))
      if (bad !== undefined || (req.peerUrls ?? []).length === 0) {
        throw new ValidationError(
          'INVALID_MEMBER_URLS',
          `raftdesk: URLs must look like http://host:port${bad ? `, got ${JSON.stringify(bad)}` : ' (no peer URL given)'}`,
        )
      }
      const result = await backend.addLearner({
        name: req.name,
        peerUrls: req.peerUrls,
        clientUrls: req.clientUrls ?? [],
      })
      return {
        memberId: String(result.memberId),
        clusterId: String(result.clusterId),
        members: result.members.map(memberToWire),
      }
    }),
  }
}
