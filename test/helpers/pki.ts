/**
 * Certificates for TLS tests, made with Debian's openssl: a CA, a server certificate for
 * 127.0.0.1 (usable as a client certificate too, as a member presents it when it calls another
 * member) and client certificates whose common names are user names.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { shouldRunEtcdTests } from '../node-core/api/harness'

export const OPENSSL = '/usr/bin/openssl'

export function shouldRunTlsTests(): boolean {
  if (existsSync(OPENSSL) && shouldRunEtcdTests()) return true
  if (process.env['CI'] === 'true') return true
  console.warn(`skipping TLS tests: no ${OPENSSL} (apt-get install openssl)`)
  return false
}

export interface Pki {
  dir: string
  /** File paths: ca.pem, server.pem, server.key, <client>.pem, <client>.key. */
  path(name: string): string
  ca: Buffer
  serverCert: Buffer
  serverKey: Buffer
  /** The first client's certificate and key. */
  clientCert: Buffer
  clientKey: Buffer
}

/** A CA, a server certificate and one client certificate per name (common name = the name). */
export function makePki(clients: string[] = ['client']): Pki {
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
  issue('server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n')
  for (const name of clients) issue(name, 'extendedKeyUsage=clientAuth\n')
  const read = (name: string) => readFileSync(p(name))
  return {
    dir,
    path: p,
    ca: read('ca.pem'),
    serverCert: read('server.pem'),
    serverKey: read('server.key'),
    clientCert: read(`${clients[0]}.pem`),
    clientKey: read(`${clients[0]}.key`),
  }
}
