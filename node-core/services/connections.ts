/**
 * The connections the window works with, each an etcd v3 client (the `etcd3` package: several
 * endpoints with failover, TLS, users with tokens refreshed, watches resumed from their last
 * revision after a reconnect). Today there is one, `local`: the cluster this host runs (the
 * embedded one in the app, the served one in web mode). Saved remote profiles come next.
 */
import { Etcd3 } from 'etcd3'
import { NotFoundError, RaftdeskError } from '../errors'

export interface ConnectionSpec {
  id: string
  name: string
  /** host:port of every member's client URL. */
  endpoints: string[]
  /** Enforced by the services: writes are refused with READ_ONLY. */
  readOnly?: boolean
  /** Per-call deadline. */
  timeoutMs?: number
}

export interface Connection {
  spec: ConnectionSpec
  client: Etcd3
}

/** How long a call waits for a connection that is still coming up (the embedded cluster). */
export const CONNECTION_WAIT_MS = 60_000

export class Connections {
  private readonly open = new Map<string, Connection>()
  /** Connections announced but not ready yet: calls wait for them. */
  private readonly pending = new Map<string, Promise<Connection>>()

  /**
   * Announces a connection that becomes usable when `spec` resolves (a cluster starting);
   * calls meanwhile wait for it, and get its error if it fails.
   */
  expect(id: string, spec: Promise<ConnectionSpec>): void {
    const ready = spec.then((s) => this.add({ ...s, id }))
    ready.catch(() => undefined).finally(() => this.pending.delete(id))
    this.pending.set(id, ready)
  }

  /** The connection, waiting for it if it was announced and is still coming up. */
  async use(id: string): Promise<Connection> {
    const open = this.open.get(id)
    if (open) return open
    const pending = this.pending.get(id)
    if (!pending) return this.get(id)
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new RaftdeskError('STARTING', `connection ${id} is still starting`)),
        CONNECTION_WAIT_MS,
      )
    })
    try {
      return await Promise.race([pending, late])
    } finally {
      clearTimeout(timer)
    }
  }

  /** use(), refusing a read-only connection. */
  async useWritable(id: string): Promise<Connection> {
    const c = await this.use(id)
    if (c.spec.readOnly) {
      throw new RaftdeskError('READ_ONLY', `connection ${c.spec.name} is read-only`)
    }
    return c
  }

  add(spec: ConnectionSpec): Connection {
    if (this.open.has(spec.id)) throw new RaftdeskError('EXISTS', `connection ${spec.id} exists`)
    const client = new Etcd3({
      hosts: spec.endpoints.map((e) => `http://${e}`),
      defaultCallOptions: () => ({ deadline: Date.now() + (spec.timeoutMs ?? 5_000) }),
    })
    const c = { spec, client }
    this.open.set(spec.id, c)
    return c
  }

  get(id: string): Connection {
    const c = this.open.get(id)
    if (!c) throw new NotFoundError('NO_CONNECTION', `no connection named ${JSON.stringify(id)}`)
    return c
  }

  closeAll(): void {
    for (const c of this.open.values()) c.client.close()
    this.open.clear()
  }
}

/**
 * An error from the etcd client as the window shows it: a stable code from its class
 * (EtcdPermissionDeniedError -> PERMISSION_DENIED, GRPCUnavailableError -> UNAVAILABLE) and the
 * server's own sentence.
 */
export function fromClientError(err: unknown): unknown {
  if (err instanceof RaftdeskError || !(err instanceof Error)) return err
  const bare = err.constructor.name.replace(/^(Etcd|GRPC)/, '').replace(/Error$/, '')
  if (!bare || bare === err.constructor.name) return err
  const code = bare.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()
  // grpc-js prefixes the status ("3 INVALID_ARGUMENT: "): the code says that already.
  return new RaftdeskError(code, err.message.replace(/^\d+ [A-Z_]+: /, ''))
}
