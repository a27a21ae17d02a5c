/**
 * The `connections/*` namespace: the clusters the window works with. `local` is the cluster
 * this host runs (built in, cannot be removed); others are saved profiles: any raftdesk cluster
 * or real etcd 3.x, with endpoints (failover between them), a user and password, read-only.
 * Passwords never come back to the window.
 */

export interface ConnectionInfo {
  id: string
  name: string
  endpoints: string[]
  /** Writes are refused by the services, whatever the window sends. */
  readOnly: boolean
  /** Deletes need the key or prefix typed to confirm them (enforced by the services). */
  production: boolean
  /** The host's own cluster. */
  builtin: boolean
  /** Talks TLS (a CA, and a client certificate when `clientCert`). */
  tls: boolean
  clientCert: boolean
  username?: string
}

export interface NewConnection {
  name: string
  /** host:port or http://host:port, one per member. */
  endpoints: string[]
  username?: string
  password?: string
  readOnly?: boolean
  production?: boolean
  /**
   * TLS, as PEM text: the CA that signed the members' certificates, and a client certificate
   * with its key for clusters that ask for one (--client-cert-auth). The key is kept like a
   * password; none of it comes back to the window.
   */
  tls?: TlsFiles
}

export interface TlsFiles {
  ca?: string
  cert?: string
  key?: string
}

export interface ConnectionCheck {
  ok: boolean
  /** The version the first member that answered reports. */
  version?: string
  members?: number
  error?: string
}

export interface ConnectionsCalls {
  'connections/list': { args: []; result: ConnectionInfo[] }
  'connections/add': { args: [NewConnection]; result: ConnectionInfo }
  'connections/remove': { args: [{ id: string }]; result: null }
  /** Tries a connection without saving it. */
  'connections/test': { args: [NewConnection]; result: ConnectionCheck }
}
