/**
 * etcdserverpb.Cluster: MemberAdd, MemberRemove, MemberUpdate, MemberList, MemberPromote, and
 * etcdserverpb.Maintenance: Status, Alarm, MoveLeader, Defragment, Hash, HashKV, Snapshot.
 *
 * Cluster responses carry a header without a revision, as etcd's do (etcdctl's JSON output of
 * `member list` shows cluster_id, member_id and raft_term only). Peer URLs are checked as etcd
 * checks them (types.NewURLs): at least one; http/https URLs need host:port and no path;
 * unix/unixs URLs are taken as they are; anything else is "given member URLs are invalid".
 */
import type { handleServerStreamingCall, UntypedServiceImplementation } from '@grpc/grpc-js'
import {
  alarmRequestFromPb,
  id64,
  int64,
  outInt,
  pbAlarmMember,
  pbHeader,
  pbMember,
  pbStatusResponse,
} from './codec'
import { admitStream, statusFor, unary, type ApiContext } from './context'
import { EtcdServerError } from './errors'
import type { DecodedRequest } from './proto'
import type {
  PbAlarmRequest,
  PbHashKVRequest,
  PbMemberAddRequest,
  PbMemberIdRequest,
  PbMemberListRequest,
  PbMemberUpdateRequest,
  PbMoveLeaderRequest,
} from './wire'

const HTTP_URL = /^(https?):\/\/([^/?#\s]+)$/
const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]*):(\d{1,5})$/

/** Throws 'MEMBER_BAD_URLS' unless every URL is one etcd would accept as a peer URL. */
export function checkPeerUrls(urls: string[]): void {
  if (urls.length === 0) throw new EtcdServerError('MEMBER_BAD_URLS', 'no peer URLs given')
  for (const raw of urls) {
    const url = raw.trim()
    if (url.startsWith('unix://') || url.startsWith('unixs://')) continue
    const m = HTTP_URL.exec(url)
    if (!m || !HOST_PORT.test(m[2]!)) {
      throw new EtcdServerError('MEMBER_BAD_URLS', `not an http(s)://host:port URL: ${raw}`)
    }
  }
}

export function clusterService(ctx: ApiContext): UntypedServiceImplementation {
  const { backend } = ctx
  // etcd's cluster server leaves the revision out of its headers.
  const header = () => pbHeader(backend.header(), 0)
  return {
    MemberAdd: unary<PbMemberAddRequest>(ctx, 'MemberAdd', async (pb) => {
      checkPeerUrls(pb.peerURLs)
      const res = await backend.memberAdd({ peerUrls: pb.peerURLs, isLearner: pb.isLearner })
      return {
        header: header(),
        member: pbMember(res.member),
        members: res.members.map(pbMember),
      }
    }),

    MemberRemove: unary<PbMemberIdRequest>(ctx, 'MemberRemove', async (pb) => {
      const members = await backend.memberRemove(id64(pb.ID, 'MemberRemoveRequest.ID'))
      return { header: header(), members: members.map(pbMember) }
    }),

    MemberUpdate: unary<PbMemberUpdateRequest>(ctx, 'MemberUpdate', async (pb) => {
      const id = id64(pb.ID, 'MemberUpdateRequest.ID')
      checkPeerUrls(pb.peerURLs)
      const members = await backend.memberUpdate(id, pb.peerURLs)
      return { header: header(), members: members.map(pbMember) }
    }),

    MemberList: unary<PbMemberListRequest>(ctx, 'MemberList', async (pb) => {
      const members = await backend.memberList(pb.linearizable)
      return { header: header(), members: members.map(pbMember) }
    }),

    MemberPromote: unary<PbMemberIdRequest>(ctx, 'MemberPromote', async (pb) => {
      const members = await backend.memberPromote(id64(pb.ID, 'MemberPromoteRequest.ID'))
      return { header: header(), members: members.map(pbMember) }
    }),
  }
}

export function maintenanceService(ctx: ApiContext): UntypedServiceImplementation {
  const { backend } = ctx
  const current = () => {
    const info = backend.header()
    return pbHeader(info, info.revision)
  }
  return {
    Status: unary<object>(ctx, 'Status', async () => {
      const status = await backend.status()
      return pbStatusResponse(status, current())
    }),

    Alarm: unary<PbAlarmRequest>(ctx, 'Alarm', async (pb) => {
      const alarms = await backend.alarm(alarmRequestFromPb(pb))
      return { header: current(), alarms: alarms.map(pbAlarmMember) }
    }),

    MoveLeader: unary<PbMoveLeaderRequest>(ctx, 'MoveLeader', async (pb, call) => {
      await backend.moveLeader(id64(pb.targetID, 'MoveLeaderRequest.targetID'), call)
      return { header: current() }
    }),

    Defragment: unary<object>(ctx, 'Defragment', async (_pb, call) => {
      await backend.defragment(call)
      return { header: current() }
    }),
    Hash: unary<object>(ctx, 'Hash', async (_pb, call) => {
      const r = await backend.hash(call)
      return { header: pbHeader(backend.header(), r.revision), hash: r.hash }
    }),

    HashKV: unary<PbHashKVRequest>(ctx, 'HashKV', async (pb, call) => {
      const r = await backend.hashKV(int64(pb.revision, 'HashKVRequest.revision'), call)
      return {
        header: pbHeader(backend.header(), r.revision),
        hash: r.hash,
        compactRevision: outInt(r.compactRevision, 'HashKVResponse.compact_revision'),
      }
    }),
    Snapshot: snapshotHandler(ctx, current),
  }
}

/**
 * Maintenance.Snapshot: the member's saved-snapshot bytes in chunks, as etcd sends its database
 * file (the last chunk carries the SHA-256). Written with back-pressure: a slow client makes the
 * stream wait, never the server buffer. remaining_bytes is 0: the length is known only at the
 * end, and etcd's clients do not read it.
 */
function snapshotHandler(
  ctx: ApiContext,
  header: () => object,
): handleServerStreamingCall<DecodedRequest, object> {
  return (call) => {
    const send = async () => {
      const admitted = await admitStream(ctx, 'Snapshot', call)
      if (!admitted) return
      for await (const blob of ctx.backend.snapshot(admitted)) {
        if (call.cancelled) return
        if (!call.write({ header: header(), remainingBytes: '0', blob: Buffer.from(blob) })) {
          await new Promise<void>((resolve) => {
            const done = () => {
              call.off('drain', done)
              call.off('cancelled', done)
              resolve()
            }
            call.on('drain', done)
            call.on('cancelled', done)
          })
        }
      }
      call.end()
    }
    send().catch((err: unknown) => {
      if (!call.cancelled) call.emit('error', statusFor(ctx, 'Snapshot', err))
    })
  }
}
