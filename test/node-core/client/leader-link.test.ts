// A member forwards lease calls to the leader's Admin service; the leader's answer comes back by
// its code (sent in the trailers), never by its text, so that the forwarding member retries only
// when the leader could not be reached and hands everything else to its client unchanged.
import { Client, credentials, status, type ServiceError } from '@grpc/grpc-js'
import { CALL_CHAIN } from '../../../node-core/api/context'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminClientConstructor } from '../../../node-core/api/admin'
import type { AdminBackend } from '../../../node-core/server/port'
import { EtcdServerError } from '../../../node-core/api/errors'
import { RaftdeskError } from '../../../node-core/errors'
import { forwardedError } from '../../../node-core/client/leader-link'
import { freePort } from '../../helpers/ports'
import { startFakeServer, type FakeServer } from '../api/harness'

let failure: unknown = null
const backend: AdminBackend = {
  clusterToken: () => 'secret',
  addLearner: () => Promise.reject(new Error('not here')),
  leaseRenew: () => (failure ? Promise.reject(failure) : Promise.resolve(30)),
  leaseTimeToLive: () => Promise.reject(new Error('not here')),
  memberPromote: () => Promise.reject(new Error('not here')),
}

let fake: FakeServer
beforeAll(async () => {
  fake = await startFakeServer({
    admin: backend,
  })
})
afterAll(async () => {
  await fake?.close()
})

function renew(endpoint: string, token: string): Promise<ServiceError | null> {
  const Admin = adminClientConstructor()
  const client = new Admin(endpoint, credentials.createInsecure()) as unknown as {
    leaseRenew(r: object, o: object, cb: (e: ServiceError | null) => void): void
    close(): void
  }
  return new Promise((resolve) => {
    client.leaseRenew({ token, id: '7' }, { deadline: new Date(Date.now() + 2000) }, (err) => {
      client.close()
      resolve(err)
    })
  })
}

describe('forwardedError', () => {
  it("rebuilds an etcd error of the leader's by its code", async () => {
    failure = new EtcdServerError('LEASE_NOT_FOUND', 'lease 7 is gone')
    const err = forwardedError((await renew(fake.endpoint, 'secret'))!, fake.endpoint)
    expect(err).toBeInstanceOf(EtcdServerError)
    expect([err.code, err.message]).toEqual([
      'LEASE_NOT_FOUND',
      'etcdserver: requested lease not found',
    ])
  })

  it("keeps raftdesk's own codes, so that they are not mistaken for an unreachable leader", async () => {
    failure = new RaftdeskError('LEASE_EXPIRED', 'lease 7 expired')
    const expired = forwardedError((await renew(fake.endpoint, 'secret'))!, fake.endpoint)
    expect([expired.code, expired.message]).toEqual(['LEASE_EXPIRED', 'lease 7 expired'])
    failure = null
    const refused = forwardedError((await renew(fake.endpoint, 'wrong'))!, fake.endpoint)
    expect(refused.code).toBe('WRONG_CLUSTER_TOKEN')
  })

  it('calls a leader that does not answer at all unreachable', async () => {
    const nobody = `127.0.0.1:${await freePort()}`
    const err = forwardedError((await renew(nobody, 'secret'))!, nobody)
    expect(err.code).toBe('UNREACHABLE')
  })
})

describe('the Admin service passes the same call chain as etcd services', () => {
  it('runs every step in order, each one a named piece', () => {
    expect(CALL_CHAIN.map((s) => s.name)).toEqual([
      'learner',
      'authentication',
      'rate limit',
      'require leader',
      'quota',
    ])
  })

  it('refuses a malformed Admin request with INVALID_ARGUMENT from the strict decoder', async () => {
    const client = new Client(fake.endpoint, credentials.createInsecure())
    const err = await new Promise<ServiceError>((resolve) => {
      // A length-delimited field 1 (token) whose length runs past the end of the message.
      client.makeUnaryRequest(
        '/raftdesk.v1.Admin/LeaseRenew',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from([0x0a, 0x7f, 0x61]),
        (e) => resolve(e!),
      )
    })
    client.close()
    expect(err.code).toBe(status.INVALID_ARGUMENT)
    expect(err.details).toMatch(
      /^raftdesk: Admin.LeaseRenew: the request \(3 bytes\) is not a valid protobuf message/,
    )
  })
})
