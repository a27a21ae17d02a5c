// The error table is what clients match on: etcd's exact texts with etcd's gRPC codes
// (api/v3rpc/rpctypes/error.go). These tests pin the entries that clientv3, etcdctl and the etcd3
// npm client are known to depend on, and the fallbacks for errors that carry no etcd code.
import { status } from '@grpc/grpc-js'
import { describe, expect, it } from 'vitest'
import {
  ETCD_ERRORS,
  EtcdServerError,
  clientsRetry,
  toGrpcStatus,
  type EtcdErrorCode,
} from '../../../node-core/api/errors'
import {
  LimitError,
  NotFoundError,
  RaftdeskError,
  ValidationError,
} from '../../../node-core/errors'

describe('etcd error table', () => {
  const expected: [EtcdErrorCode, status, string][] = [
    ['EMPTY_KEY', status.INVALID_ARGUMENT, 'etcdserver: key is not provided'],
    ['KEY_NOT_FOUND', status.INVALID_ARGUMENT, 'etcdserver: key not found'],
    ['VALUE_PROVIDED', status.INVALID_ARGUMENT, 'etcdserver: value is provided'],
    ['LEASE_PROVIDED', status.INVALID_ARGUMENT, 'etcdserver: lease is provided'],
    ['TOO_MANY_OPS', status.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request'],
    ['DUPLICATE_KEY', status.INVALID_ARGUMENT, 'etcdserver: duplicate key given in txn request'],
    ['REQUEST_TOO_LARGE', status.INVALID_ARGUMENT, 'etcdserver: request is too large'],
    ['COMPACTED', status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted'],
    ['FUTURE_REV', status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision'],
    ['NO_SPACE', status.RESOURCE_EXHAUSTED, 'etcdserver: mvcc: database space exceeded'],
    ['LEASE_NOT_FOUND', status.NOT_FOUND, 'etcdserver: requested lease not found'],
    ['LEASE_EXIST', status.FAILED_PRECONDITION, 'etcdserver: lease already exists'],
    ['MEMBER_NOT_FOUND', status.NOT_FOUND, 'etcdserver: member not found'],
    ['NO_LEADER', status.UNAVAILABLE, 'etcdserver: no leader'],
    ['NOT_LEADER', status.FAILED_PRECONDITION, 'etcdserver: not leader'],
    ['LEADER_CHANGED', status.UNAVAILABLE, 'etcdserver: leader changed'],
    ['STOPPED', status.UNAVAILABLE, 'etcdserver: server stopped'],
    ['TIMEOUT', status.UNAVAILABLE, 'etcdserver: request timed out'],
    ['CORRUPT', status.DATA_LOSS, 'etcdserver: corrupt cluster'],
    ['PROPOSAL_DROPPED', status.UNKNOWN, 'raft proposal dropped'],
    ['DEADLINE_EXCEEDED', status.DEADLINE_EXCEEDED, 'context deadline exceeded'],
    ['CANCELED', status.CANCELLED, 'context canceled'],
  ]

  it.each(expected)('%s is %s "%s"', (code, grpcCode, message) => {
    expect(toGrpcStatus(new EtcdServerError(code))).toEqual({ code: grpcCode, details: message })
  })

  it('gives every code an "etcdserver: " message, as clients expect', () => {
    // Those that are not etcdserver's own errors carry the text etcd 3.4 sends for them.
    const foreign = new Set([
      'PROPOSAL_DROPPED',
      'DEADLINE_EXCEEDED',
      'CANCELED',
      'NO_PASSWORD_USER',
    ])
    for (const [code, entry] of Object.entries(ETCD_ERRORS)) {
      if (foreign.has(code)) continue
      expect(entry.message, code).toMatch(/^etcdserver: /)
    }
  })

  it('knows which answers etcd clients retry as if nothing had happened', () => {
    // The etcd3 npm client retries (and counts toward its breaker) these codes, writes included.
    const retried = Object.keys(ETCD_ERRORS).filter((c) => clientsRetry(c as EtcdErrorCode))
    expect(retried).toEqual(
      expect.arrayContaining(['LEADER_CHANGED', 'NO_LEADER', 'TIMEOUT', 'PROPOSAL_DROPPED']),
    )
    expect(retried).toEqual(expect.arrayContaining(['DEADLINE_EXCEEDED', 'TOO_MANY_REQUESTS']))
    for (const code of ['COMPACTED', 'NOT_LEADER', 'PERMISSION_DENIED', 'EMPTY_KEY'] as const) {
      expect(clientsRetry(code), code).toBe(false)
    }
  })

  it('maps by code, so any RaftdeskError with an etcd code gets the etcd text', () => {
    class MvccError extends RaftdeskError {}
    const err = new MvccError('COMPACTED', 'revision 3 is below the compaction revision 5')
    expect(toGrpcStatus(err)).toEqual({
      code: status.OUT_OF_RANGE,
      details: 'etcdserver: mvcc: required revision has been compacted',
    })
  })

  it('keeps raftdesk detail off the wire', () => {
    const err = new EtcdServerError('TIMEOUT', 'proposal 17 waited 5000 ms')
    expect(err.message).toBe('etcdserver: request timed out')
    expect(err.detail).toBe('proposal 17 waited 5000 ms')
    expect(toGrpcStatus(err).details).toBe('etcdserver: request timed out')
  })

  it('maps other errors by kind, with their own message', () => {
    expect(toGrpcStatus(new ValidationError('BAD', 'bad input'))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'bad input',
    })
    expect(toGrpcStatus(new LimitError('FULL', 'queue full (64)'))).toEqual({
      code: status.RESOURCE_EXHAUSTED,
      details: 'queue full (64)',
    })
    expect(toGrpcStatus(new NotFoundError('GONE', 'gone'))).toEqual({
      code: status.NOT_FOUND,
      details: 'gone',
    })
    expect(toGrpcStatus(new RaftdeskError('ODD', 'odd'))).toEqual({
      code: status.UNKNOWN,
      details: 'odd',
    })
    expect(toGrpcStatus(new TypeError('x is undefined'))).toEqual({
      code: status.UNKNOWN,
      details: 'x is undefined',
    })
  })
})
