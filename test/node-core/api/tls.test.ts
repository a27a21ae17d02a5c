// The API over TLS: a CA, a server certificate for 127.0.0.1 and a client certificate are made
// with openssl for the test; etcdctl and a gRPC client talk to the server through them, a client
// that does not trust the CA is refused, and with client-certificate checking on, a client
// without a certificate is refused.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as grpc from '@grpc/grpc-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadEtcdPackageDefinition } from '../../../node-core/api/proto'
import { FakeBackend } from './fake-backend'
import { etcdctl, shouldRunEtcdTests, startFakeServer, type FakeServer } from './harness'

const OPENSSL = '/usr/bin/openssl'

function shouldRunTlsTests(): boolean {
  if (existsSync(OPENSSL) && shouldRunEtcdTests()) return true
  if (process.env['CI'] === 'true') return true
  console.warn(`skipping TLS tests: no ${OPENSSL} (apt-get install openssl)`)
  return false
}

interface Pki {
  dir: string
  ca: Buffer
  serverCert: Buffer
  serverKey: Buffer
  clientCert: Buffer
  clientKey: Buffer
}

function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'raftdesk-tls-'))
  const p = (name: string) => join(dir, name)
  const ssl = (...args: string[]) => execFileSync(OPENSSL, args, { stdio: 'pipe' })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  ssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=raftdesk test CA',
  )
  const issue = (name: string, ext: string) => {
    ssl('req', ...ec, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${name}`)
    writeFileSync(p(`${name}.ext`), ext)
    ssl(
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      p('ca.pem'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-out',
      p(`${name}.pem`),
      '-days',
      '1',
      '-extfile',
      p(`${name}.ext`),
    )
  }
  issue('server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
  issue('client', 'extendedKeyUsage=clientAuth\n')
  const read = (name: string) => readFileSync(p(name))
  return {
    dir,
    ca: read('ca.pem'),
    serverCert: read('server.pem'),
    serverKey: read('server.key'),
    clientCert: read('client.pem'),
    clientKey: read('client.key'),
  }
}

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
    const tls = ['--cacert', join(pki.dir, 'ca.pem')]
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
