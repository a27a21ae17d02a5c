/**
 * Whether a local cluster's ports are free before its nodes try them: a node that finds its
 * port taken dies with EADDRINUSE, which says little to a person; this says which port, and
 * that something else (often an etcd) holds it.
 */
import { createServer } from 'node:net'

/** The client and peer ports of `nodes` local nodes from `clientPort` on (supervisor layout). */
export function clusterPorts(clientPort: number, nodes: number): number[] {
  return Array.from({ length: nodes }, (_, i) => [
    clientPort + 100 * i,
    clientPort + 100 * i + 1,
  ]).flat()
}

function free(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)))
  })
}

/** The first of `ports` something else listens on at `host`, or null when all are free. */
export async function firstTakenPort(host: string, ports: number[]): Promise<number | null> {
  for (const port of ports) if (!(await free(host, port))) return port
  return null
}
