/**
 * The connections the window works with, each an etcd v3 client (the `etcd3` package: several
 * endpoints with failover, users with tokens refreshed, watches resumed from their last revision
 * after a reconnect): `local`, the cluster this host runs (the embedded one in the app, the
 * served one in web mode), and saved profiles of any raftdesk or etcd 3.x cluster.
 *
 * Profiles live in one JSON file (mode 0600) in the data directory. Passwords in it are sealed
 * by the host's SecretBox: Electron's safeStorage (the OS keychain) in the app; in web mode the
 * file's permissions are the protection, and the box says so (`kind: 'file'`).
 */
import { Buffer } from 'node:buffer'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { Etcd3 } from 'etcd3'
import type { ConnectionCheck, ConnectionInfo, NewConnection, TlsFiles } from '../../contract'
import { NotFoundError, RaftdeskError, ValidationError } from '../errors'
import { writeFileAtomic } from '../kernel/fs'
import type { Handlers } from './router'

/** Seals the passwords of saved profiles. */
export interface SecretBox {
  kind: 'os' | 'file'
  seal(secret: string): string
  open(sealed: string): string
}

/** Web mode's box: the profile file's mode 0600 is the protection. */
export const FILE_BOX: SecretBox = { kind: 'file', seal: (s) => s, open: (s) => s }

interface SavedProfile {
  id: string
  name: string
  endpoints: string[]
  username?: string
  /** Sealed by the SecretBox of `box`. */
  password?: string
  box?: SecretBox['kind']
  readOnly?: boolean
  production?: boolean
  /** PEM; the key sealed by the box, like the password. */
  tls?: TlsFiles
}

export interface ConnectionSpec {
  id: string
  name: string
  /** host:port of every member's client URL. */
  endpoints: string[]
  /** Enforced by the services: writes are refused with READ_ONLY. */
  readOnly?: boolean
  /** Deletes need the key or prefix typed to confirm them: refused with CONFIRM_DELETE. */
  production?: boolean
  /** Per-call deadline. */
  timeoutMs?: number
  username?: string
  password?: string
  /** The host's own cluster: listed first, never saved or removed. */
  builtin?: boolean
  tls?: TlsFiles
}

/** clientFor(), refusing TLS files gRPC cannot read with one sentence instead of OpenSSL's. */
function clientFor(
  spec: Pick<ConnectionSpec, 'endpoints' | 'username' | 'password' | 'timeoutMs' | 'tls'>,
): Etcd3 {
  try {
    return newClient(spec)
  } catch (err) {
    if (!spec.tls) throw err
    throw new ValidationError('BAD_TLS', `the TLS files cannot be used: ${(err as Error).message}`)
  }
}

function newClient(
  spec: Pick<ConnectionSpec, 'endpoints' | 'username' | 'password' | 'timeoutMs' | 'tls'>,
) {
  const tls = spec.tls
  const scheme = tls ? 'https' : 'http'
  return new Etcd3({
    hosts: spec.endpoints.map((e) =>
      e.includes('://') ? e.replace(/^https?:/, `${scheme}:`) : `${scheme}://${e}`,
    ),
    ...(tls
      ? {
          credentials: {
            // Without a CA of its own, the system's roots judge the members' certificates.
            rootCertificate: tls.ca ? Buffer.from(tls.ca) : (undefined as unknown as Buffer),
            ...(tls.cert ? { certChain: Buffer.from(tls.cert) } : {}),
            ...(tls.key ? { privateKey: Buffer.from(tls.key) } : {}),
          },
        }
      : {}),
    ...(spec.username ? { auth: { username: spec.username, password: spec.password ?? '' } } : {}),
    defaultCallOptions: () => ({ deadline: Date.now() + (spec.timeoutMs ?? 5_000) }),
  })
}

export interface Connection {
  spec: ConnectionSpec
  client: Etcd3
}

/** How long a call waits for a connection that is still coming up (the embedded cluster). */
export const CONNECTION_WAIT_MS = 60_000

export interface ProfilesOptions {
  /** The JSON file of saved profiles (created mode 0600). */
  file: string
  box: SecretBox
}

export class Connections {
  private readonly open = new Map<string, Connection>()
  /** One client per (connection, member endpoint), with the connection's credentials. */
  private readonly members = new Map<string, Etcd3>()

  constructor(private readonly profiles?: ProfilesOptions) {}
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

  /**
   * useWritable() for a delete of `key` (or of every key under it): a production connection
   * also needs the person to have typed the key, exactly.
   */
  async useForDelete(
    id: string,
    key: Uint8Array,
    confirm: string | undefined,
  ): Promise<Connection> {
    const c = await this.useWritable(id)
    if (!c.spec.production) return c
    const text = new TextDecoder().decode(key)
    if (confirm !== text) {
      throw new RaftdeskError(
        'CONFIRM_DELETE',
        `${c.spec.name} is a production connection: type ${JSON.stringify(text)} to confirm the delete`,
      )
    }
    return c
  }

  /**
   * A client of one member of the connection's cluster, with the connection's credentials
   * (Maintenance calls such as status, defragment and hashKV answer for the member they reach).
   */
  async memberClient(id: string, endpoint: string): Promise<Etcd3> {
    const c = await this.use(id)
    const key = `${id}\u0000${endpoint}`
    let m = this.members.get(key)
    if (!m) {
      m = clientFor({ ...c.spec, endpoints: [endpoint] })
      this.members.set(key, m)
    }
    return m
  }

  add(spec: ConnectionSpec): Connection {
    if (this.open.has(spec.id)) throw new RaftdeskError('EXISTS', `connection ${spec.id} exists`)
    const c = { spec, client: clientFor(spec) }
    this.open.set(spec.id, c)
    return c
  }

  get(id: string): Connection {
    const c = this.open.get(id)
    if (!c) throw new NotFoundError('NO_CONNECTION', `no connection named ${JSON.stringify(id)}`)
    return c
  }

  /** Every connection, the host's own first; no passwords. */
  list(): ConnectionInfo[] {
    const all = [...this.open.values()].map((c) => c.spec)
    for (const id of this.pending.keys()) {
      if (!this.open.has(id)) all.push({ id, name: id, endpoints: [], builtin: true })
    }
    return all
      .sort((a, b) => Number(b.builtin ?? false) - Number(a.builtin ?? false))
      .map((s) => ({
        id: s.id,
        name: s.name,
        endpoints: s.endpoints,
        readOnly: s.readOnly ?? false,
        production: s.production ?? false,
        builtin: s.builtin ?? false,
        tls: s.tls !== undefined,
        clientCert: s.tls?.cert !== undefined,
        ...(s.username ? { username: s.username } : {}),
      }))
  }

  /** Reads the saved profiles and opens a connection for each. */
  async loadProfiles(): Promise<void> {
    if (!this.profiles) return
    let saved: SavedProfile[]
    try {
      saved = (
        JSON.parse(await readFile(this.profiles.file, 'utf8')) as { profiles: SavedProfile[] }
      ).profiles
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw new RaftdeskError('BAD_PROFILES', `${this.profiles.file}: ${(err as Error).message}`)
    }
    for (const p of saved) {
      if (this.open.has(p.id)) continue
      let password: string | undefined
      if (p.password !== undefined) {
        // A password sealed by another box (the app's keychain, read in web mode) cannot be
        // opened here: the profile comes without it, and its calls say why they fail.
        password = p.box === this.profiles.box.kind ? this.profiles.box.open(p.password) : undefined
      }
      this.add({
        id: p.id,
        name: p.name,
        endpoints: p.endpoints,
        ...(p.username ? { username: p.username } : {}),
        ...(password !== undefined ? { password } : {}),
        ...(p.readOnly ? { readOnly: true } : {}),
        ...(p.production ? { production: true } : {}),
        ...(p.tls ? { tls: this.openTls(p.tls, p.box) } : {}),
      })
    }
  }

  /** A saved profile's TLS files with the key opened (dropped if another box sealed it). */
  private openTls(tls: TlsFiles, box: SecretBox['kind'] | undefined): TlsFiles {
    const { key, ...rest } = tls
    if (key === undefined || !this.profiles) return rest
    return box === this.profiles.box.kind ? { ...rest, key: this.profiles.box.open(key) } : rest
  }

  private async saveProfiles(): Promise<void> {
    const profiles = this.profiles
    if (!profiles) return
    const saved: SavedProfile[] = [...this.open.values()]
      .filter((c) => !c.spec.builtin)
      .map(({ spec }) => ({
        id: spec.id,
        name: spec.name,
        endpoints: spec.endpoints,
        ...(spec.username ? { username: spec.username } : {}),
        ...(spec.password !== undefined
          ? { password: profiles.box.seal(spec.password), box: profiles.box.kind }
          : {}),
        ...(spec.readOnly ? { readOnly: true } : {}),
        ...(spec.production ? { production: true } : {}),
        ...(spec.tls
          ? {
              tls: {
                ...spec.tls,
                ...(spec.tls.key ? { key: profiles.box.seal(spec.tls.key) } : {}),
              },
              box: profiles.box.kind,
            }
          : {}),
      }))
    await writeFileAtomic(
      profiles.file,
      `${JSON.stringify({ version: 1, profiles: saved }, null, 2)}\n`,
      0o600,
    )
  }

  /** Saves a new profile and opens it. */
  async addProfile(n: NewConnection): Promise<ConnectionInfo> {
    if ([...this.open.values()].some((c) => c.spec.name === n.name)) {
      throw new ValidationError('NAME_TAKEN', `a connection named ${JSON.stringify(n.name)} exists`)
    }
    const id = `c${randomBytes(5).toString('hex')}`
    this.add({
      id,
      name: n.name,
      endpoints: n.endpoints,
      ...(n.username ? { username: n.username, password: n.password ?? '' } : {}),
      ...(n.readOnly ? { readOnly: true } : {}),
      ...(n.production ? { production: true } : {}),
      ...(n.tls ? { tls: n.tls } : {}),
    })
    await this.saveProfiles()
    return this.list().find((c) => c.id === id)!
  }

  async removeProfile(id: string): Promise<void> {
    const c = this.get(id)
    if (c.spec.builtin) throw new ValidationError('BUILTIN', `${c.spec.name} cannot be removed`)
    c.client.close()
    this.open.delete(id)
    for (const [key, m] of this.members) {
      if (key.startsWith(`${id}\u0000`)) {
        m.close()
        this.members.delete(key)
      }
    }
    await this.saveProfiles()
  }

  /** Tries a connection without keeping it: the members answer, and which version they run. */
  async test(n: NewConnection): Promise<ConnectionCheck> {
    let client: Etcd3
    try {
      client = clientFor({ ...n, timeoutMs: 3_000 })
    } catch (err) {
      return { ok: false, error: (err as Error).message }
    }
    try {
      const members = await client.cluster.memberList({})
      const status = await client.maintenance.status()
      return { ok: true, version: status.version, members: members.members.length }
    } catch (err) {
      const e = fromClientError(err)
      return { ok: false, error: e instanceof Error ? e.message : String(e) }
    } finally {
      client.close()
    }
  }

  closeAll(): void {
    for (const c of this.open.values()) c.client.close()
    this.open.clear()
    for (const m of this.members.values()) m.close()
    this.members.clear()
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

/** `fn`, with errors from the etcd client rethrown as fromClientError names them. */
export function withClientErrors<A extends unknown[], R>(
  fn: (...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await fn(...args)
    } catch (err) {
      throw fromClientError(err)
    }
  }
}

export function createConnectionHandlers(
  conns: Connections,
): Pick<
  Handlers,
  'connections/list' | 'connections/add' | 'connections/remove' | 'connections/test'
> {
  return {
    'connections/list': () => conns.list(),
    'connections/add': (n) => conns.addProfile(n),
    'connections/remove': async ({ id }) => {
      await conns.removeProfile(id)
      return null
    },
    'connections/test': (n) => conns.test(n),
  }
}
