// Client TLS on a cluster of real node processes started with etcd's flags (--cert-file,
// --key-file, --trusted-ca-file, --client-cert-auth), used with etcdctl 3.4: a client without a
// certificate the CA signed is refused; with auth on, a call without a token acts as the user its
// certificate names (CN), limited by that user's permissions; followers forward lease
// keep-alives to the leader over TLS, presenting their own certificate.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClusterHandlers } from '../../node-core/services/cluster'
import { Connections } from '../../node-core/services/connections'
import { createKvHandlers } from '../../node-core/services/kv'
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

  it("serves the window's connections over TLS: a CA and a client certificate from PEM text", async () => {
    const conns = new Connections()
    const endpoints = [...tc.endpoints.values()]
    const pemOf = (name: string) => readFileSync(pki.path(name), 'utf8')
    try {
      // alice's certificate acts as alice (auth is on from the test above): app/ only.
      conns.add({
        id: 'tls',
        name: 'tls',
        endpoints,
        tls: { ca: pemOf('ca.pem'), cert: pemOf('alice.pem'), key: pemOf('alice.key') },
      })
      const kv = createKvHandlers(conns)
      const enc = (s: string) => new TextEncoder().encode(s)
      expect(
        await kv['kv/put']({ conn: 'tls', key: enc('app/from-window'), value: enc('v') }),
      ).toMatchObject({ ok: true })
      const back = await etcdctl(endpoints[0]!, [
        ...as('root'),
        'get',
        'app/from-window',
        '--print-value-only',
      ])
      expect(back.stdout.trim()).toBe('v')
      await expect(kv['kv/get']({ conn: 'tls', key: enc('other') })).rejects.toMatchObject({
        code: 'PERMISSION_DENIED',
      })
      // Each member is asked for its status over TLS with the connection's certificate too
      // (the summary used to reach members in plaintext, and showed all of them unreachable).
      const summary = await createClusterHandlers(conns)['cluster/summary']({ conn: 'tls' })
      expect(summary.members.map((m) => [m.healthy, m.error ?? ''])).toEqual([
        [true, ''],
        [true, ''],
        [true, ''],
      ])
      expect(summary.leader).not.toBe('')
      // The CA alone is not enough where the cluster asks for a client certificate.
      const check = await conns.test({ name: 'no cert', endpoints, tls: { ca: pemOf('ca.pem') } })
      expect(check.ok).toBe(false)
      const withCert = await conns.test({
        name: 'cert',
        endpoints,
        tls: { ca: pemOf('ca.pem'), cert: pemOf('root.pem'), key: pemOf('root.key') },
      })
      expect(withCert).toMatchObject({ ok: true, members: 3 })
      // Saved as a profile: certificates kept as they are, the key sealed like a password.
      const dir = mkdtempSync(join(tmpdir(), 'raftdesk-tls-profile-'))
      const box = {
        kind: 'os' as const,
        seal: (t: string) => Buffer.from(t).toString('hex'),
        open: (t: string) => Buffer.from(t, 'hex').toString(),
      }
      const saved = new Connections({ file: join(dir, 'p.json'), box })
      const info = await saved.addProfile({
        name: 'tls root',
        endpoints,
        tls: { ca: pemOf('ca.pem'), cert: pemOf('root.pem'), key: pemOf('root.key') },
      })
      expect(info).toMatchObject({ tls: true, clientCert: true })
      expect(readFileSync(join(dir, 'p.json'), 'utf8')).not.toContain('PRIVATE KEY')
      saved.closeAll()
      const reopened = new Connections({ file: join(dir, 'p.json'), box })
      await reopened.loadProfiles()
      const kv2 = createKvHandlers(reopened)
      expect(await kv2['kv/get']({ conn: info.id, key: enc('app/from-window') })).toMatchObject({
        version: 1,
      })
      reopened.closeAll()
      rmSync(dir, { recursive: true, force: true })
    } finally {
      conns.closeAll()
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
