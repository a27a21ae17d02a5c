/**
 * Free TCP ports on 127.0.0.1 for test servers.
 *
 * Ports are drawn below the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999
 * by default). A port in that range can be taken between our check and the server's bind by the
 * source port of any outgoing connection, including the test cluster's own peer connections; CI
 * once lost a run to exactly that (a node's listen got EADDRINUSE). Below the range only another
 * listener can take it, and the check catches those that already exist.
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

const LOWEST = 10_000

function ephemeralLow(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)
    const n = Number(low)
    if (Number.isInteger(n) && n > LOWEST + 2_000) return n
  } catch {
    // not Linux: fall through to the usual default
  }
  return 32_768
}

const HIGHEST = ephemeralLow()

function draw(span: number): number {
  return LOWEST + Math.floor(Math.random() * (HIGHEST - LOWEST - span))
}

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = draw(1)
    if (await isFree(port)) return port
  }
  throw new Error('no free port found')
}

/** A base port P such that P, P+1, P+100, P+101, ... (n nodes) are all free right now. */
export async function freePortBlock(nodes: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = draw(100 * nodes + 2)
    const ports = Array.from({ length: nodes }, (_, i) => [
      base + 100 * i,
      base + 100 * i + 1,
    ]).flat()
    if ((await Promise.all(ports.map(isFree))).every(Boolean)) return base
  }
  throw new Error('no free block of ports found')
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.unref()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}
