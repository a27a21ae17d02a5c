/**
 * Loads raftdesk's copy of etcd's v3 protos (node-core/api/proto/*.proto) with
 * @grpc/proto-loader, and wraps request decoding so that no input can take a handler down.
 *
 * Decoding options, and why:
 * - longs: String. int64/uint64 arrive as decimal strings, so nothing is rounded before the
 *   codec (codec.ts) checks the value and refuses anything whose magnitude reaches 2^53.
 * - enums: String. Enum values arrive as their proto names ('ASCEND', 'NOPUT'); a value the
 *   schema does not know arrives as a number, which the codec refuses.
 * - bytes: Buffer, defaults: true (every scalar present, proto3 zero values), oneofs: true (a
 *   virtual field names the member of a oneof that is set: RequestOp.request = 'requestPut').
 * - keepCase: false. Field names are camelCased (range_end -> rangeEnd); names that etcd spells
 *   in capitals (ID, TTL, peerURLs) keep them.
 *
 * grpc-js answers a request that fails to deserialize with INTERNAL; etcd clients should see
 * INVALID_ARGUMENT for bad input, so the request deserializer never throws: it returns a
 * DecodedRequest that either holds the message or says why decoding failed, and records the
 * message size for etcd's request-size limit. Before decoding, the bytes pass the strict wire
 * check of wire-check.ts (protobufjs alone accepts wire-type mismatches and overlong strings);
 * messages may nest at most WIRE_DEPTH_MAX levels.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js'
import { loadSync, type PackageDefinition } from '@grpc/proto-loader'
import { checkWire, schemaOf } from './wire-check'

/**
 * The .proto files: beside this module in the source tree; in the built app the bundler puts
 * this code in out/main/chunks/ and the files in out/main/proto/ (electron.vite.config.ts).
 */
export const PROTO_DIR = [new URL('./proto', import.meta.url), new URL('../proto', import.meta.url)]
  .map((u) => fileURLToPath(u))
  .find((dir) => existsSync(dir))!

export const PROTO_LOADER_OPTIONS = {
  keepCase: false,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
} as const

/**
 * Nesting bound for request messages. A txn level costs two (RequestOp, TxnRequest), and etcd's
 * op budget already stops txns at 128 levels; this bound keeps decoding off deep recursion.
 */
export const WIRE_DEPTH_MAX = 300

export const SERVICE_NAMES = ['KV', 'Watch', 'Lease', 'Cluster', 'Maintenance', 'Auth'] as const
export type EtcdServiceName = (typeof SERVICE_NAMES)[number]

/** The package definition of etcdserverpb (and mvccpb), for servers and for test clients. */
export function loadEtcdPackageDefinition(protoDir: string = PROTO_DIR): PackageDefinition {
  return loadSync('rpc.proto', { ...PROTO_LOADER_OPTIONS, includeDirs: [protoDir] })
}

/** A request as the handler receives it: decoded, or the reason it could not be. */
export class DecodedRequest<T = unknown> {
  constructor(
    readonly message: T | undefined,
    readonly sizeBytes: number,
    readonly error: string | undefined,
  ) {}
}

type AnyMethod = MethodDefinition<unknown, unknown>

function safeMethod(
  method: AnyMethod,
  check: (bytes: Buffer) => void,
): MethodDefinition<DecodedRequest, unknown> {
  const decode = method.requestDeserialize
  return {
    ...method,
    requestDeserialize: (bytes: Buffer): DecodedRequest => {
      try {
        check(bytes)
        return new DecodedRequest(decode(bytes), bytes.length, undefined)
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err)
        return new DecodedRequest(undefined, bytes.length, why)
      }
    },
    requestSerialize: (value: DecodedRequest): Buffer => {
      // Only a client serializes requests; the server never does. Kept total for completeness.
      return method.requestSerialize(value.message)
    },
  }
}

/** The service definitions for grpc-js's Server.addService, with never-throwing decoders. */
export function etcdServiceDefinitions(
  pkg: PackageDefinition,
): Record<EtcdServiceName, ServiceDefinition> {
  const out = {} as Record<EtcdServiceName, ServiceDefinition>
  const schema = schemaOf(pkg)
  for (const name of SERVICE_NAMES)
    out[name] = safeServiceDefinition(pkg, schema, 'etcdserverpb', name)
  return out
}

/**
 * One service of a package with never-throwing decoders that pass the strict wire check first
 * (etcd's services, and raftdesk's Admin service).
 */
export function safeServiceDefinition(
  pkg: PackageDefinition,
  schema: ReturnType<typeof schemaOf>,
  packageName: string,
  name: string,
): ServiceDefinition {
  const service = pkg[`${packageName}.${name}`]
  // Message types carry a 'format' field; services are plain maps of methods.
  if (!service || 'format' in service) {
    throw new Error(`proto package has no service ${packageName}.${name}`)
  }
  const wrapped: Record<string, MethodDefinition<DecodedRequest, unknown>> = {}
  for (const [method, def] of Object.entries(service as ServiceDefinition)) {
    // Every request message of these services lives in the service's own package.
    const requestType = (def as { requestType?: { type?: { name?: string } } }).requestType
    const typeName = `${packageName}.${requestType?.type?.name ?? '?'}`
    if (!schema.has(typeName)) {
      throw new Error(`${packageName}.${name}.${method}: request type not in the package`)
    }
    wrapped[method] = safeMethod(def as AnyMethod, (bytes) =>
      checkWire(schema, typeName, bytes, WIRE_DEPTH_MAX),
    )
  }
  return wrapped as ServiceDefinition
}
