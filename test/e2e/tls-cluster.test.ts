// Client TLS on a cluster of real node processes started with etcd's flags (--cert-file,
// --key-file, --trusted-ca-file, --client-cert-auth), used with etcdctl 3.4: a client without a
// certificate the CA signed is refused; with auth on, a call without a token acts as the user its
// certificate names (CN), limited by that user's permissions; followers forward lease
// keep-alives to the leader over TLS, presenting their own certificate.
import { rmSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestCluster, type TestCluster } from '../helpers/cluster'
import { makePki, shouldRunTlsTests, type Pki } from '../helpers/pki'
import { etcdctl, etcdctlError } from '../node-core/api/harness'

describe.runIf(shouldRunTlsTests())('client TLS and certificate users on a real cluster', () => {
  let pki: Pki
  let tc: TestCluster

  beforeAll(async () => {
    pki = makePki(['root', 'alice'])
    tc = await startTestCluster({
      etcd: {
        tls: {
          certFile: pki.path('server.pem'),
          keyFile: pki.path('server.key'),
          trustedCaFile: pki.path('ca.pem'),
          clientCertAuth: true,
        },
      },
    })
    await tc.cluster.waitForLeader()
  }, 60_000)

  afterAll(async () => {
    await tc?.dispose()
    if (pki) rmSync(pki.dir, { recursive: true, force: true })
  })

  const as = (user: string) => [
    '--cacert',
    pki.path('ca.pem'),
    '--cert',
    pki.path(`${user}.pem`),
    '--key',
    pki.path(`${user}.key`),
  ]

  it('refuses clients without a trusted certificate, serves those with one', async () => {
    const n1 = tc.endpoints.get('n1')!
    const plain = await etcdctl(n1, ['get', 'k'])
    expect(plain.code).not.toBe(0)
    const noCert = await etcdctl(n1, ['--cacert', pki.path('ca.pem'), 'get', 'k'])
    expect(noCert.code).not.toBe(0)
    const ok = await etcdctl(n1, [...as('root'), 'put', 'k', 'v'])
    expect([ok.stdout.trim(), etcdctlError(ok)]).toEqual(['OK', ''])
  })

  it("acts as the certificate's user once auth is on", async () => {
    const n1 = tc.endpoints.get('n1')!
    const root = async (...args: string[]) => {
      const r = await etcdctl(n1, [...as('root'), ...args])
      expect(etcdctlError(r), args.join(' ')).toBe('')
    }
    await root('user', 'add', 'root', '--new-user-password=rootpw')
    await root('user', 'grant-role', 'root', 'root')
    await root('role', 'add', 'app')
    await root('role', 'grant-permission', 'app', 'readwrite', 'app/', '--prefix')
    await root('user', 'add', 'alice', '--new-user-password=alicepw')
    await root('user', 'grant-role', 'alice', 'app')
    await root('auth', 'enable')

    for (const endpoint of tc.endpoints.values()) {
      const inside = await etcdctl(endpoint, [...as('alice'), 'put', 'app/x', '1'])
      expect([inside.stdout.trim(), etcdctlError(inside)]).toEqual(['OK', ''])
      const outside = await etcdctl(endpoint, [...as('alice'), 'put', 'other', '1'])
      expect(etcdctlError(outside)).toBe('Error: etcdserver: permission denied')
      const admin = await etcdctl(endpoint, [...as('alice'), 'user', 'list'])
      expect(etcdctlError(admin)).toBe('Error: etcdserver: permission denied')
      const list = await etcdctl(endpoint, [...as('root'), 'user', 'list'])
      expect(list.stdout.trim().split('\n')).toEqual(['alice', 'root'])
    }
  })

  it('forwards lease keep-alives from every member to the leader over TLS', async () => {
    const n1 = tc.endpoints.get('n1')!
    const grant = await etcdctl(n1, [...as('root'), 'lease', 'grant', '60'])
    const id = /lease (\w+) granted/.exec(grant.stdout)?.[1]
    expect(id, grant.stderr).toBeDefined()
    for (const endpoint of tc.endpoints.values()) {
      const r = await etcdctl(endpoint, [...as('alice'), 'lease', 'keep-alive', '--once', id!])
      expect([r.stdout.trim(), etcdctlError(r)]).toEqual([
        `lease ${id} keepalived with TTL(60)`,
        '',
      ])
    }
  })
})
