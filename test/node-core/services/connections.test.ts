// Saved connection profiles: written to a 0600 file with passwords sealed by the host's box,
// read back into open connections, the host's own cluster never saved or removed; errors from
// the etcd client keep a stable code.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  Connections,
  fromClientError,
  type SecretBox,
} from '../../../node-core/services/connections'

const box: SecretBox = {
  kind: 'os',
  seal: (s) => Buffer.from(s).toString('base64'),
  open: (s) => Buffer.from(s, 'base64').toString(),
}

const CA = '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n'
const CERT = '-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n'
const KEY = '-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n'

describe('connection profiles', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raftdesk-profiles-'))
  const file = join(dir, 'connections.json')
  const opened: Connections[] = []
  const make = (b: SecretBox = box) => {
    const c = new Connections({ file, box: b })
    opened.push(c)
    return c
  }
  afterEach(() => {
    for (const c of opened.splice(0)) c.closeAll()
  })

  it('saves profiles to a 0600 file with the password sealed, and reads them back', async () => {
    const a = make()
    a.add({ id: 'local', name: 'local cluster', endpoints: ['127.0.0.1:2379'], builtin: true })
    const info = await a.addProfile({
      name: 'prod',
      endpoints: ['10.0.0.1:2379', 'http://10.0.0.2:2379'],
      username: 'ops',
      password: 's3cret',
      readOnly: true,
      production: true,
    })
    expect(info).toMatchObject({
      tls: false,
      name: 'prod',
      readOnly: true,
      production: true,
      builtin: false,
      username: 'ops',
    })
    expect(statSync(file).mode & 0o777).toBe(0o600)
    const text = readFileSync(file, 'utf8')
    expect(text).not.toContain('s3cret')
    expect(text).not.toContain('local cluster')

    const b = make()
    await b.loadProfiles()
    const prod = b.get(info.id)
    expect(prod.spec).toMatchObject({
      name: 'prod',
      username: 'ops',
      password: 's3cret',
      readOnly: true,
      production: true,
    })
    await expect(b.addProfile({ name: 'prod', endpoints: ['x:1'] })).rejects.toMatchObject({
      code: 'NAME_TAKEN',
    })
    await b.removeProfile(info.id)
    const c = make()
    await c.loadProfiles()
    expect(c.list()).toEqual([])
    await expect(a.removeProfile('local')).rejects.toMatchObject({ code: 'BUILTIN' })
  })

  it('refuses TLS files it cannot use, saying so, and saves nothing', async () => {
    const a = make()
    await expect(
      a.addProfile({ name: 'bad tls', endpoints: ['h:1'], tls: { ca: CA, cert: CERT, key: KEY } }),
    ).rejects.toMatchObject({ code: 'BAD_TLS', message: expect.stringMatching(/^the TLS files/) })
    expect(a.list()).toEqual([])
    const check = await a.test({ name: 'bad', endpoints: ['h:1'], tls: { ca: CA } })
    expect(check.ok).toBe(false)
  })

  it('loads a profile whose password another box sealed without the password', async () => {
    const a = make()
    const info = await a.addProfile({
      name: 'app',
      endpoints: ['h:1'],
      username: 'u',
      password: 'p',
    })
    const web = make({ kind: 'file', seal: (s) => s, open: (s) => s })
    await web.loadProfiles()
    expect(web.get(info.id).spec.password).toBeUndefined()
    rmSync(file)
  })

  it('waits for a connection announced as starting, and fails with its error', async () => {
    const conns = make()
    let ready!: (v: { id: string; name: string; endpoints: string[] }) => void
    conns.expect('local', new Promise((r) => (ready = r)))
    const use = conns.use('local')
    ready({ id: 'local', name: 'local', endpoints: ['127.0.0.1:1'] })
    expect((await use).spec.name).toBe('local')
    conns.expect('broken', Promise.reject(new Error('port 2379 in use')))
    await expect(conns.use('broken')).rejects.toThrow('port 2379 in use')
  })

  it('names client errors by their class', () => {
    class EtcdPermissionDeniedError extends Error {}
    class GRPCUnavailableError extends Error {}
    expect(fromClientError(new EtcdPermissionDeniedError('denied'))).toMatchObject({
      code: 'PERMISSION_DENIED',
      message: 'denied',
    })
    expect(
      fromClientError(new GRPCUnavailableError('14 UNAVAILABLE: connection refused')),
    ).toMatchObject({ code: 'UNAVAILABLE', message: 'connection refused' })
  })
})
