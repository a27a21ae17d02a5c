/**
 * etcdserverpb.Lease: LeaseGrant, LeaseRevoke, LeaseTimeToLive, LeaseLeases, and the
 * LeaseKeepAlive bidirectional stream.
 *
 * Behaviour copied from etcd's v3rpc/lease.go, because clients rely on it:
 * - LeaseTimeToLive of a lease that does not exist answers TTL -1 (no error); etcdctl prints
 *   "lease <id> already expired".
 * - A keep-alive of a lease that does not exist answers TTL 0 (no error); clientv3 turns that
 *   into "requested lease not found". Any other backend error ends the stream with its status.
 * - A keep-alive response's header is read before the renewal, so its revision is never newer
 *   than the renewal.
 *
 * The keep-alive stream handles its requests one at a time, in order. At most keepAliveQueueMax
 * requests wait; beyond that the stream stops reading (HTTP/2 flow control then holds the
 * client back), and it stops renewing while the client does not read its responses.
 */
import type {
  ServerDuplexStream,
  UntypedServiceImplementation,
  handleBidiStreamingCall,
} from '@grpc/grpc-js'
import { RaftdeskError } from '../errors'
import { int64, leaseId, outInt, outLease, pbHeader } from './codec'
import {
  checkRequestSize,
  admitStream,
  malformedStatus,
  statusFor,
  unary,
  type ApiContext,
  type ClosableStream,
} from './context'
import type { GrpcStatusError } from './errors'
import type { DecodedRequest } from './proto'
import type { PbLeaseGrantRequest, PbLeaseIdRequest, PbLeaseTimeToLiveRequest } from './wire'

function isLeaseNotFound(err: unknown): boolean {
  return err instanceof RaftdeskError && err.code === 'LEASE_NOT_FOUND'
}

export function leaseService(ctx: ApiContext): UntypedServiceImplementation {
  const { backend } = ctx
  return {
    LeaseGrant: unary<PbLeaseGrantRequest>(ctx, 'LeaseGrant', async (pb, call) => {
      checkRequestSize(ctx, call.sizeBytes, 'LeaseGrant')
      const id = leaseId(pb.ID, 'LeaseGrantRequest.ID')
      const ttlSeconds = int64(pb.TTL, 'LeaseGrantRequest.TTL')
      const res = await backend.leaseGrant({ id, ttlSeconds }, call)
      return {
        header: pbHeader(backend.header(), res.revision),
        ID: outLease(res.id),
        TTL: outInt(res.ttlSeconds, 'LeaseGrantResponse.TTL'),
        error: '',
      }
    }),

    LeaseRevoke: unary<PbLeaseIdRequest>(ctx, 'LeaseRevoke', async (pb, call) => {
      checkRequestSize(ctx, call.sizeBytes, 'LeaseRevoke')
      const res = await backend.leaseRevoke({ id: leaseId(pb.ID, 'LeaseRevokeRequest.ID') }, call)
      return { header: pbHeader(backend.header(), res.revision) }
    }),

    LeaseTimeToLive: unary<PbLeaseTimeToLiveRequest>(ctx, 'LeaseTimeToLive', async (pb) => {
      const id = leaseId(pb.ID, 'LeaseTimeToLiveRequest.ID')
      try {
        const res = await backend.leaseTimeToLive(id, pb.keys)
        const info = backend.header()
        return {
          header: pbHeader(info, info.revision),
          ID: outLease(res.id),
          TTL: outInt(res.ttlSeconds, 'LeaseTimeToLiveResponse.TTL'),
          grantedTTL: outInt(res.grantedTtlSeconds, 'LeaseTimeToLiveResponse.grantedTTL'),
          keys: pb.keys ? res.keys : [],
        }
      } catch (err) {
        if (!isLeaseNotFound(err)) throw err
        const info = backend.header()
        return {
          header: pbHeader(info, info.revision),
          ID: outLease(id),
          TTL: -1,
          grantedTTL: 0,
          keys: [],
        }
      }
    }),

    LeaseLeases: unary<object>(ctx, 'LeaseLeases', async () => {
      const ids = await backend.leaseLeases()
      const info = backend.header()
      return {
        header: pbHeader(info, info.revision),
        leases: ids.map((id) => ({ ID: outLease(id) })),
      }
    }),

    LeaseKeepAlive: keepAliveHandler(ctx),
  }
}

function keepAliveHandler(ctx: ApiContext): handleBidiStreamingCall<DecodedRequest, object> {
  return (call) => {
    void admitStream(ctx, 'LeaseKeepAlive', call).then((admitted) => {
      if (admitted) new KeepAliveStream(ctx, call).start()
    })
  }
}

class KeepAliveStream implements ClosableStream {
  private readonly queue: DecodedRequest[] = []
  private busy = false
  private closed = false
  /** The client has closed its side: end the stream once the queue is done. */
  private halfClosed = false
  private releaseDrain: (() => void) | undefined

  constructor(
    private readonly ctx: ApiContext,
    private readonly call: ServerDuplexStream<DecodedRequest, object>,
  ) {}

  start(): void {
    this.ctx.streams.add(this)
    this.call.on('data', (req: DecodedRequest) => this.enqueue(req))
    this.call.on('end', () => {
      // Like etcd: the client closed its side, nothing more to renew; finish once idle.
      this.endWhenIdle()
    })
    this.call.on('cancelled', () => this.close())
    this.call.on('error', () => this.close())
  }

  private enqueue(req: DecodedRequest): void {
    if (this.closed) return
    this.queue.push(req)
    if (this.queue.length >= this.ctx.limits.keepAliveQueueMax) this.call.pause()
    // A rejection here is a bug (the backend's errors are handled in renew()): end the stream.
    this.pump().catch((err: unknown) => this.shutdown(statusFor(this.ctx, 'LeaseKeepAlive', err)))
  }

  private async pump(): Promise<void> {
    if (this.busy) return
    this.busy = true
    try {
      while (this.queue.length > 0 && !this.closed) {
        const req = this.queue.shift()!
        const ok = await this.renew(req)
        if (!ok) return
      }
    } finally {
      this.busy = false
    }
    if (!this.closed) {
      this.call.resume()
      if (this.halfClosed) this.endWhenIdle()
    }
  }

  /** Renews one lease and writes the answer; false when the stream has ended. */
  private async renew(req: DecodedRequest): Promise<boolean> {
    const { backend } = this.ctx
    if (req.error !== undefined || req.message === undefined) {
      this.fail(malformedStatus('LeaseKeepAlive', req))
      return false
    }
    let id: bigint
    try {
      id = leaseId((req.message as PbLeaseIdRequest).ID, 'LeaseKeepAliveRequest.ID')
    } catch (err) {
      this.fail(statusFor(this.ctx, 'LeaseKeepAlive', err))
      return false
    }
    const info = backend.header()
    const header = pbHeader(info, info.revision)
    let ttl: number
    try {
      ttl = await backend.leaseKeepAlive(id)
    } catch (err) {
      if (!isLeaseNotFound(err)) {
        this.fail(statusFor(this.ctx, 'LeaseKeepAlive', err))
        return false
      }
      ttl = 0
    }
    if (this.closed) return false
    const response = { header, ID: outLease(id), TTL: outInt(ttl, 'LeaseKeepAliveResponse.TTL') }
    if (!this.call.write(response)) await this.waitDrain()
    return !this.closed
  }

  private waitDrain(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.call.off('drain', done)
        this.releaseDrain = undefined
        resolve()
      }
      this.releaseDrain = done
      this.call.on('drain', done)
    })
  }

  private endWhenIdle(): void {
    this.halfClosed = true
    if (this.busy || this.queue.length > 0 || this.closed) return
    this.close()
    this.call.end()
  }

  /** Ends the stream with `status` (a failed renewal, or server shutdown). */
  shutdown(status: GrpcStatusError): void {
    if (this.closed) return
    this.close()
    this.call.emit('error', status)
  }

  private fail(status: GrpcStatusError): void {
    this.shutdown(status)
  }

  private close(): void {
    this.closed = true
    this.ctx.streams.delete(this)
    this.queue.length = 0
    // A renewal waiting for 'drain' on a dead stream would wait forever: release it.
    this.releaseDrain?.()
  }
}
