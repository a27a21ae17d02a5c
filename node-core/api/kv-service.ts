/**
 * etcdserverpb.KV: Range, Put, DeleteRange, Txn, Compact.
 *
 * Each call: validate as etcd does (validate.ts), check the request size for writes, convert to
 * node-core/mvcc/types.ts (codec.ts), call the backend, and answer with a header whose revision
 * is the one the backend's result carries.
 */
import type { UntypedServiceImplementation } from '@grpc/grpc-js'
import {
  compactionRequestFromPb,
  deleteRangeRequestFromPb,
  pbDeleteRangeResponse,
  pbHeader,
  pbPutResponse,
  pbRangeResponse,
  pbTxnResponse,
  putRequestFromPb,
  rangeRequestFromPb,
  txnRequestFromPb,
} from './codec'
import { checkRequestSize, unary, type ApiContext } from './context'
import {
  checkDeleteRangeRequest,
  checkPutRequest,
  checkRangeRequest,
  checkTxnDuplicates,
  checkTxnRequest,
} from './validate'
import type {
  PbCompactionRequest,
  PbDeleteRangeRequest,
  PbPutRequest,
  PbRangeRequest,
  PbTxnRequest,
} from './wire'

export function kvService(ctx: ApiContext): UntypedServiceImplementation {
  const { backend } = ctx
  return {
    Range: unary<PbRangeRequest>(ctx, 'Range', async (pb, call) => {
      checkRangeRequest(pb)
      const res = await backend.range(rangeRequestFromPb(pb), call)
      return pbRangeResponse(res, pbHeader(backend.header(), res.revision))
    }),

    Put: unary<PbPutRequest>(ctx, 'Put', async (pb, call) => {
      checkPutRequest(pb)
      checkRequestSize(ctx, call.sizeBytes, 'Put')
      const res = await backend.put(putRequestFromPb(pb), call)
      return pbPutResponse(res, pbHeader(backend.header(), res.revision))
    }),

    DeleteRange: unary<PbDeleteRangeRequest>(ctx, 'DeleteRange', async (pb, call) => {
      checkDeleteRangeRequest(pb)
      checkRequestSize(ctx, call.sizeBytes, 'DeleteRange')
      const res = await backend.deleteRange(deleteRangeRequestFromPb(pb), call)
      return pbDeleteRangeResponse(res, pbHeader(backend.header(), res.revision))
    }),

    Txn: unary<PbTxnRequest>(ctx, 'Txn', async (pb, call) => {
      checkTxnRequest(pb, ctx.limits.txnOpsMax)
      checkTxnDuplicates(pb)
      checkRequestSize(ctx, call.sizeBytes, 'Txn')
      const res = await backend.txn(txnRequestFromPb(pb), call)
      return pbTxnResponse(res, pbHeader(backend.header(), res.revision))
    }),

    Compact: unary<PbCompactionRequest>(ctx, 'Compact', async (pb, call) => {
      checkRequestSize(ctx, call.sizeBytes, 'Compact')
      const res = await backend.compact(compactionRequestFromPb(pb), call)
      return { header: pbHeader(backend.header(), res.revision) }
    }),
  }
}
