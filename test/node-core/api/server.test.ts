// startEtcdApiServer itself: port 0 gives a real free port, a taken port is a clear failure,
// nonsense limits are refused up front, and close() is idempotent.
import { afterAll, describe, expect, it } from 'vitest'
import { startEtcdApiServer } from '../../../node-core/api/server'
import { FakeBackend } from './fake-backend'
import { call, etcdClients, startFakeServer, type FakeServer } from './harness'

const started: FakeServer[] = []

afterAll(async () => {
  await Promise.all(started.map((s) => s.close()))
})

describe('startEtcdApiServer', () => {
  it('binds a free port when asked for port 0 and serves on it', async () => {
    const server = await startFakeServer()
    started.push(server)
    expect(server.server.port).toBeGreaterThan(0)
    const clients = etcdClients(server.endpoint)
    try {
      const res = await call<{ header: { memberId: string } }>(clients.maintenance, 'Status', {})
      expect(res.header.memberId).toBe(String(server.backend.memberId))
    } finally {
      clients.close()
    }
  })

  it('fails clearly when the port is taken', async () => {
    const first = await startFakeServer()
    started.push(first)
    await expect(
      startEtcdApiServer({
        host: '127.0.0.1',
        port: first.server.port,
        backend: new FakeBackend(),
      }),
    ).rejects.toThrow(/EADDRINUSE|No address added out of total 1 resolved/)
  })

  it('refuses limits that are not positive integers', async () => {
    await expect(
      startEtcdApiServer({
        host: '127.0.0.1',
        port: 0,
        backend: new FakeBackend(),
        limits: { txnOpsMax: 0 },
      }),
    ).rejects.toThrow('limit txnOpsMax must be a positive integer, got 0')
  })

  it('closes once, however often close() is called', async () => {
    const server = await startFakeServer()
    await Promise.all([server.close(), server.close()])
    await server.close()
  })
})
