/**
 * etcd's simple tokens, on one member. A token is `<16 random letters>.<raft index>`: the member
 * that checks the password draws the letters and proposes an authenticate entry; every member
 * that applies it records the token for its user (so a client that moves to another member keeps
 * its token, as with etcd 3.4), and a token whose index a member has not applied yet makes the
 * call wait for it (node.ts).
 *
 * A token lives for `ttlMs` (etcd's --auth-token-ttl, 300 s by default) after its last use; each
 * use starts the time again. Deleting a user or changing their password drops their tokens;
 * enabling or disabling auth drops them all. Tokens are kept in memory only: a restarted member
 * has none, and clients authenticate again on "invalid auth token", as with etcd.
 *
 * The table is bounded (tokensMax): past it, the least recently used token is dropped.
 */
import { randomInt } from 'node:crypto'

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'
const PREFIX_LENGTH = 16
export const AUTH_TOKEN_TTL_MS_DEFAULT = 300_000
const TOKENS_MAX = 100_000

/** A fresh random token prefix (etcd: 16 letters). */
export function tokenPrefix(): string {
  let out = ''
  for (let i = 0; i < PREFIX_LENGTH; i++) out += LETTERS[randomInt(LETTERS.length)]
  return out
}

/** The raft index a well-formed token names, or undefined for a malformed one. */
export function tokenIndex(token: string): number | undefined {
  const dot = token.lastIndexOf('.')
  if (dot <= 0) return undefined
  const digits = token.slice(dot + 1)
  if (!/^[0-9]{1,16}$/.test(digits)) return undefined
  const index = Number(digits)
  return Number.isSafeInteger(index) ? index : undefined
}

export class TokenKeeper {
  /** token -> user and when it expires; Map order is least recently used first. */
  private readonly tokens = new Map<string, { user: string; expiresAtMs: number }>()

  constructor(
    private readonly ttlMs: number = AUTH_TOKEN_TTL_MS_DEFAULT,
    private readonly now: () => number = Date.now,
    private readonly tokensMax: number = TOKENS_MAX,
  ) {}

  get size(): number {
    return this.tokens.size
  }

  assign(token: string, user: string): void {
    this.tokens.delete(token)
    this.tokens.set(token, { user, expiresAtMs: this.now() + this.ttlMs })
    this.sweep()
  }

  /** The user of a live token (its time starts again), or undefined. */
  user(token: string): string | undefined {
    const entry = this.tokens.get(token)
    if (entry === undefined) return undefined
    const now = this.now()
    this.tokens.delete(token)
    if (entry.expiresAtMs <= now) return undefined
    this.tokens.set(token, { user: entry.user, expiresAtMs: now + this.ttlMs })
    return entry.user
  }

  invalidateUser(user: string): void {
    for (const [token, entry] of this.tokens) if (entry.user === user) this.tokens.delete(token)
  }

  clear(): void {
    this.tokens.clear()
  }

  /** Drops expired tokens from the least recently used end, and any above the bound. */
  private sweep(): void {
    const now = this.now()
    for (const [token, entry] of this.tokens) {
      if (entry.expiresAtMs > now && this.tokens.size <= this.tokensMax) break
      this.tokens.delete(token)
    }
  }
}
