// The API over TLS: a CA, a server certificate for 127.0.0.1 and a client certificate are made
// with openssl for the test; etcdctl and a gRPC client talk to the server through them, a client
// that does not trust the CA is refused, and with client-certificate checking on, a client
// without a certificate is refused.
import { rmSync } from 'node:fs'
import * as grpc from '@grpc/grpc-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadEtcdPackageDefinition } from '../../../node-core/api/proto'
import { FakeBackend } from './fake-backend'
import { makePki, shouldRunTlsTests, type Pki } from '../../helpers/pki'
import { etcdctl, startFakeServer, type FakeServer } from './harness'

type KvClient = grpc.Client & {
  Range(req: object, cb: (err: grpc.ServiceError | null, res: { count: string }) => void): void
}

function kvClient(endpoint: string, creds: grpc.ChannelCredentials): KvClient {
  const pkg = grpc.loadPackageDefinition(loadEtcdPackageDefinition())
  const KV = (pkg['etcdserverpb'] as grpc.GrpcObject)['KV'] as unknown as new (
    address: string,
    credentials: grpc.ChannelCredentials,
  ) => KvClient
  return new KV(endpoint, creds)
}

function range(client: KvClient): Promise<string> {
  return new Promise((resolve, reject) => {
    client.Range({ key: Buffer.from('k') }, (err, res) => (err ? reject(err) : resolve(res.count)))
  })
}

describe.runIf(shouldRunTlsTests())('TLS', () => {
  let pki: Pki
  let server: FakeServer
  let mutual: FakeServer

  beforeAll(async () => {
    pki = makePki()
    server = await startFakeServer({
      tls: { certChain: pki.serverCert, privateKey: pki.serverKey },
    })
    mutual = await startFakeServer({
      backend: new FakeBackend(),
      tls: {
        certChain: pki.serverCert,
        privateKey: pki.serverKey,
        rootCerts: pki.ca,
        checkClientCertificate: true,
      },
    })
  }, 30_000)

  afterAll(async () => {
    await Promise.all([server?.close(), mutual?.close()])
    if (pki) rmSync(pki.dir, { recursive: true, force: true })
  })

  it('serves etcdctl over https with the CA', async () => {
    const tls = ['--cacert', pki.path('ca.pem')]
    const endpoint = `https://${server.endpoint}`
    expect((await etcdctl(endpoint, [...tls, 'put', 'secure', 'yes'])).stdout).toBe('OK\n')
    const got = await etcdctl(endpoint, [...tls, 'get', 'secure', '--print-value-only'])
    expect(got.stdout).toBe('yes\n')
  })

  it('refuses clients that do not trust the server, or speak plaintext', async () => {
    const plain = kvClient(server.endpoint, grpc.credentials.createInsecure())
    const stranger = kvClient(server.endpoint, grpc.credentials.createSsl())
    try {
      await expect(range(plain)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE })
      await expect(range(stranger)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE })
    } finally {
      plain.close()
      stranger.close()
    }
    const trusted = kvClient(server.endpoint, grpc.credentials.createSsl(pki.ca))
    try {
      expect(await range(trusted)).toBe('0')
    } finally {
      trusted.close()
    }
  })

  it('requires a client certificate when asked to', async () => {
    const anonymous = kvClient(mutual.endpoint, grpc.credentials.createSsl(pki.ca))
    const known = kvClient(
      mutual.endpoint,
      grpc.credentials.createSsl(pki.ca, pki.clientKey, pki.clientCert),
    )
    try {
      await expect(range(anonymous)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE })
      expect(await range(known)).toBe('0')
    } finally {
      anonymous.close()
      known.close()
    }
  })
})
