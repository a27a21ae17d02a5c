/**
 * A small typed etcd v3 client over gRPC, for any cluster that speaks the API (raftdesk or real
 * etcd): one endpoint per client, every call with a deadline, no hidden retries (the caller
 * decides what a failure means, which the fault tests and the UI both need).
 *
 * Keys and values are bytes or strings (UTF-8). Errors come back as EtcdClientError with the
 * gRPC status code and etcd's message ("etcdserver: no leader", ...).
 */
import type { PbMember } from '../api/wire'
import type { WireMember } from '../kernel/member'
import {
  credentials,
  loadPackageDefinition,
  type Client,
  type GrpcObject,
  type ServiceClientConstructor,
  type ServiceError,
} from '@grpc/grpc-js'
import { loadEtcdPackageDefinition } from '../api/proto'
import { RaftdeskError } from '../errors'

export class EtcdClientError extends RaftdeskError {
  constructor(
    readonly grpcCode: number,
    message: string,
  ) {
    super(`GRPC_${grpcCode}`, message)
  }
}

type Bytes = Uint8Array | string

function bytes(v: Bytes): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v)
}

export interface ClientKeyValue {
  key: Buffer
  value: Buffer
  createRevision: number
  modRevision: number
  version: number
  /** Lease id (int64, exact), 0n for none. */
  lease: bigint
}

export interface ClientHeader {
  clusterId: string
  memberId: string
  revision: number
  raftTerm: number
}

export interface ClientStatus {
  header: ClientHeader
  version: string
  leader: string
  raftIndex: number
  raftTerm: number
  raftAppliedIndex: number
  isLearner: boolean
}

/** A member as etcd reports it; the id stays a decimal string (etcd's ids use all 64 bits). */
export type ClientMember = WireMember

let services: Record<string, ServiceClientConstructor> | null = null

function loadServices(): Record<string, ServiceClientConstructor> {
  if (services) return services
  const root = loadPackageDefinition(loadEtcdPackageDefinition()) as GrpcObject
  const pkg = root['etcdserverpb'] as GrpcObject
  services = {}
  for (const name of ['KV', 'Cluster', 'Maintenance', 'Lease']) {
    services[name] = pkg[name] as ServiceClientConstructor
  }
  return services
}

interface PbKv {
  key: Buffer
  value: Buffer
  createRevision: string
  modRevision: string
  version: string
  lease: string
}

function kv(pb: PbKv): ClientKeyValue {
  return {
    key: pb.key,
    value: pb.value,
    createRevision: Number(pb.createRevision),
    modRevision: Number(pb.modRevision),
    version: Number(pb.version),
    lease: BigInt(pb.lease),
  }
}

function header(pb: { clusterId: string; memberId: string; revision: string; raftTerm: string }) {
  return {
    clusterId: pb.clusterId,
    memberId: pb.memberId,
    revision: Number(pb.revision),
    raftTerm: Number(pb.raftTerm),
  }
}

export interface EtcdClientOptions {
  /** Per-call deadline. */
  timeoutMs?: number
}

export class EtcdClient {
  private readonly clients = new Map<string, Client>()
  private readonly timeoutMs: number

  constructor(
    readonly endpoint: string,
    options: EtcdClientOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 5000
    const svc = loadServices()
    for (const [name, ctor] of Object.entries(svc)) {
      this.clients.set(name, new ctor(endpoint, credentials.createInsecure()))
    }
  }

  close(): void {
    for (const c of this.clients.values()) c.close()
  }

  private call<T>(
    service: string,
    method: string,
    request: object,
    timeoutMs?: number,
  ): Promise<T> {
    const client = this.clients.get(service) as unknown as Record<
      string,
      (req: object, opts: object, cb: (err: ServiceError | null, res: T) => void) => void
    >
    const deadline = new Date(Date.now() + (timeoutMs ?? this.timeoutMs))
    return new Promise<T>((resolve, reject) => {
      client[method]!.call(client, request, { deadline }, (err, res) => {
        if (err) reject(new EtcdClientError(err.code, err.details || err.message))
        else resolve(res)
      })
    })
  }

  async put(key: Bytes, value: Bytes, opts: { lease?: bigint; prevKv?: boolean } = {}) {
    const res = await this.call<{ header: Parameters<typeof header>[0]; prevKv?: PbKv }>(
      'KV',
      'put',
      {
        key: bytes(key),
        value: bytes(value),
        lease: String(opts.lease ?? 0n),
        prevKv: opts.prevKv ?? false,
      },
    )
    return { header: header(res.header), prevKv: res.prevKv ? kv(res.prevKv) : undefined }
  }

  async range(
    key: Bytes,
    opts: {
      rangeEnd?: Bytes
      prefix?: boolean
      limit?: number
      revision?: number
      serializable?: boolean
      keysOnly?: boolean
      countOnly?: boolean
    } = {},
  ) {
    const k = bytes(key)
    const rangeEnd = opts.prefix
      ? prefixEnd(k)
      : opts.rangeEnd
        ? bytes(opts.rangeEnd)
        : Buffer.alloc(0)
    const res = await this.call<{
      header: Parameters<typeof header>[0]
      kvs: PbKv[]
      more: boolean
      count: string
    }>('KV', 'range', {
      key: k,
      rangeEnd,
      limit: opts.limit ?? 0,
      revision: opts.revision ?? 0,
      serializable: opts.serializable ?? false,
      keysOnly: opts.keysOnly ?? false,
      countOnly: opts.countOnly ?? false,
    })
    return {
      header: header(res.header),
      kvs: res.kvs.map(kv),
      more: res.more,
      count: Number(res.count),
    }
  }

  /** The value of one key as a UTF-8 string, or null when absent. */
  async get(key: Bytes, opts: { serializable?: boolean } = {}): Promise<string | null> {
    const res = await this.range(key, opts)
    return res.kvs[0] ? res.kvs[0].value.toString('utf8') : null
  }

  async delete(key: Bytes, opts: { prefix?: boolean } = {}) {
    const k = bytes(key)
    const res = await this.call<{ header: Parameters<typeof header>[0]; deleted: string }>(
      'KV',
      'deleteRange',
      { key: k, rangeEnd: opts.prefix ? prefixEnd(k) : Buffer.alloc(0) },
    )
    return { header: header(res.header), deleted: Number(res.deleted) }
  }

  /** Compare-and-swap on a key's value (null: the key must be absent). */
  async cas(key: Bytes, expected: string | null, value: Bytes): Promise<boolean> {
    const k = bytes(key)
    const compare =
      expected === null
        ? { result: 'EQUAL', target: 'VERSION', key: k, version: 0 }
        : { result: 'EQUAL', target: 'VALUE', key: k, value: bytes(expected) }
    const res = await this.call<{ succeeded: boolean }>('KV', 'txn', {
      compare: [compare],
      success: [{ requestPut: { key: k, value: bytes(value) } }],
      failure: [],
    })
    return res.succeeded
  }

  async status(): Promise<ClientStatus> {
    const res = await this.call<{
      header: Parameters<typeof header>[0]
      version: string
      leader: string
      raftIndex: string
      raftTerm: string
      raftAppliedIndex: string
      isLearner: boolean
    }>('Maintenance', 'status', {})
    return {
      header: header(res.header),
      version: res.version,
      leader: res.leader,
      raftIndex: Number(res.raftIndex),
      raftTerm: Number(res.raftTerm),
      raftAppliedIndex: Number(res.raftAppliedIndex),
      isLearner: res.isLearner,
    }
  }

  async memberList(): Promise<ClientMember[]> {
    const res = await this.call<{
      members: PbMember[]
    }>('Cluster', 'memberList', { linearizable: true })
    return res.members.map(member)
  }

  async memberAdd(peerUrls: string[], isLearner: boolean): Promise<ClientMember> {
    const res = await this.call<{
      member: PbMember
    }>('Cluster', 'memberAdd', { peerURLs: peerUrls, isLearner }, 15_000)
    return member(res.member)
  }

  async memberPromote(id: string): Promise<void> {
    await this.call('Cluster', 'memberPromote', { ID: id }, 15_000)
  }

  async memberRemove(id: string): Promise<void> {
    await this.call('Cluster', 'memberRemove', { ID: id }, 15_000)
  }

  async moveLeader(targetId: string): Promise<void> {
    await this.call('Maintenance', 'moveLeader', { targetID: targetId }, 15_000)
  }
}

function member(pb: PbMember): ClientMember {
  return {
    id: pb.ID,
    name: pb.name,
    peerUrls: pb.peerURLs,
    clientUrls: pb.clientURLs,
    isLearner: pb.isLearner,
  }
}

/**
 * A Buffer the etcd client returned, as the plain Uint8Array the window's contract carries
 * (same memory, no copy).
 */
export function bytesOf(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

/** The range end that selects every key starting with `prefix` (etcd's rule). */
export function prefixEnd(prefix: Uint8Array): Buffer {
  const end = Buffer.from(prefix)
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1
      return end.subarray(0, i + 1)
    }
  }
  return Buffer.from([0])
}

/** The smallest key after `key` (where a listing continues). */
export function keyAfter(key: Uint8Array): Buffer {
  return Buffer.concat([key, Buffer.from([0])])
}

/** Where a range over `prefix` starts: etcd wants a key, and "\0" is the whole keyspace's. */
export function rangeStart(prefix: Uint8Array): Buffer {
  return prefix.byteLength > 0 ? Buffer.from(prefix) : Buffer.from([0])
}
