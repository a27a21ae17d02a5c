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

export class Connections {
  private readonly open = new Map<string, Connection>()

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

  /** The connection, refusing when it is read-only. */
  writable(id: string): Connection {
    const c = this.get(id)
    if (c.spec.readOnly) {
      throw new RaftdeskError('READ_ONLY', `connection ${c.spec.name} is read-only`)
    }
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
