/**
 * TLS between peers, with self-signed certificates made by `openssl` for the test (skipped only
 * where there is no openssl binary).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { message } from '../../../node-core/raft/types'
import type { TcpTlsOptions } from '../../../node-core/transport/tcp'
import {
  hb,
  meshPeers,
  peerStats,
  startTcpNode,
  stopAll,
  waitConnected,
  waitFor,
  type TcpNode,
} from './helpers'

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

const dir = mkdtempSync(join(tmpdir(), 'raftdesk-tls-'))

/** A self-signed certificate for 127.0.0.1, usable as its own CA. */
function selfSigned(name: string): TcpTlsOptions {
  const key = join(dir, `${name}.key`)
  const cert = join(dir, `${name}.crt`)
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
      .concat(['-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${name}`])
      .concat(['-addext', 'subjectAltName=IP:127.0.0.1']),
    { stdio: 'ignore' },
  )
  const pem = readFileSync(cert)
  return { key: readFileSync(key), cert: pem, ca: pem }
}

const nodes: TcpNode[] = []
afterEach(() => stopAll(nodes))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe.skipIf(!hasOpenssl())('TcpTransport over TLS', () => {
  let tls: TcpTlsOptions
  let otherCa: TcpTlsOptions
  beforeAll(() => {
    tls = selfSigned('raftdesk-cluster')
    otherCa = selfSigned('someone-else')
  })

  it('exchanges messages and a snapshot between two TLS transports', async () => {
    const a = await startTcpNode(1, { tls }, nodes)
    const b = await startTcpNode(2, { tls }, nodes)
    meshPeers([a, b])
    a.t.send([hb(1, 2, 3)])
    b.t.send([hb(2, 1, 4)])
    await waitFor('TLS deliveries', () => a.received.length === 1 && b.received.length === 1)
    expect(b.received[0]!.term).toBe(3)
    expect(a.received[0]!.term).toBe(4)

    let bytes = 0
    b.t.onSnapshot(async (_m, img) => {
      for await (const c of img) bytes += c.byteLength
    })
    const snap = message({
      type: 'MsgSnap',
      from: 1,
      to: 2,
      term: 3,
      snapshot: {
        metadata: { index: 9, term: 3, confState: { voters: [1, 2], learners: [] } },
        data: new Uint8Array(),
      },
    })
    await a.t.sendSnapshot(2, snap, async function* () {
      yield new Uint8Array(300_000)
    })
    expect(bytes).toBe(300_000)
  })

  it('refuses a plain client and a client whose certificate it does not trust', async () => {
    const a = await startTcpNode(1, { tls }, nodes)
    const b = await startTcpNode(2, { tls }, nodes)
    meshPeers([a, b])
    await waitConnected(a, 2)

    const plain = await startTcpNode(3, {}, nodes)
    b.t.addPeer(3, plain.t.address())
    plain.t.addPeer(2, b.t.address())
    await waitFor('plain client refused', () => b.log.withCode('TRANSPORT_TLS').length > 0)
    await waitFor(
      'plain client sees the failure',
      () => peerStats(plain, 2).lastError !== undefined,
    )
    expect(peerStats(plain, 2).connected).toBe(false)

    await plain.t.stop()
    b.t.removePeer(3)
    const refusedBefore = b.log.withCode('TRANSPORT_TLS').length

    // Trusts b, but presents a certificate from a CA that b does not trust.
    const stranger = await startTcpNode(4, { tls: { ...otherCa, ca: tls.ca } }, nodes)
    stranger.t.addPeer(2, b.t.address())
    await waitFor(
      'untrusted certificate refused',
      () => b.log.withCode('TRANSPORT_TLS').length > refusedBefore,
    )
    await waitFor('stranger sees the failure', () => peerStats(stranger, 2).lastError !== undefined)
    expect(peerStats(stranger, 2).connects).toBe(0)

    const before = b.received.length
    a.t.send([hb(1, 2, 11)])
    await waitFor('good TLS peer still delivers', () => b.received.length === before + 1)
    expect(b.t.stats().refusedConnections).toBeGreaterThanOrEqual(2)
  })
})
