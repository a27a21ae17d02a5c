// etcd's simple tokens on one member (server/auth-tokens.ts) and password hashing
// (server/passwords.ts): a token lives for its TTL after its last use, dies with its user's
// password, and the table stays bounded; a password check costs the same for a missing user.
import { describe, expect, it } from 'vitest'
import { tokenIndex, tokenPrefix, TokenKeeper } from '../../../node-core/server/auth-tokens'
import { hashPassword, SCRYPT_COSTS, verifyPassword } from '../../../node-core/server/passwords'

describe('TokenKeeper', () => {
  it('keeps a token for its TTL after its last use, each use starting the time again', () => {
    let now = 1000
    const keeper = new TokenKeeper(300, () => now)
    keeper.assign('a.5', 'alice')
    now += 299
    expect(keeper.user('a.5')).toBe('alice')
    now += 299
    expect(keeper.user('a.5')).toBe('alice')
    now += 300
    expect(keeper.user('a.5')).toBeUndefined()
    expect(keeper.user('a.5')).toBeUndefined()
  })

  it("drops a user's tokens, or all of them", () => {
    const keeper = new TokenKeeper(1000, () => 0)
    keeper.assign('a.1', 'alice')
    keeper.assign('b.2', 'alice')
    keeper.assign('c.3', 'bob')
    keeper.invalidateUser('alice')
    expect([keeper.user('a.1'), keeper.user('b.2'), keeper.user('c.3')]).toEqual([
      undefined,
      undefined,
      'bob',
    ])
    keeper.clear()
    expect(keeper.user('c.3')).toBeUndefined()
  })

  it('stays bounded, forgetting the least recently used token first', () => {
    const keeper = new TokenKeeper(1000, () => 0, 3)
    for (const t of ['t.1', 't.2', 't.3']) keeper.assign(t, 'u')
    expect(keeper.user('t.1')).toBe('u') // now the most recently used
    keeper.assign('t.4', 'u')
    expect(keeper.size).toBe(3)
    expect(keeper.user('t.2')).toBeUndefined()
    expect(keeper.user('t.1')).toBe('u')
  })

  it('reads the raft index of a token and refuses malformed ones', () => {
    expect(tokenIndex('abcdefghijklmnop.42')).toBe(42)
    expect(tokenIndex(`${tokenPrefix()}.7`)).toBe(7)
    for (const bad of ['', 'noindex', '.5', 'a.', 'a.-1', 'a.1e3', 'a.99999999999999999']) {
      expect(tokenIndex(bad), bad).toBeUndefined()
    }
    expect(tokenPrefix()).toMatch(/^[a-zA-Z]{16}$/)
    expect(tokenPrefix()).not.toBe(tokenPrefix())
  })
})

describe('passwords', () => {
  it('stores a salted hash with its costs, and checks it', async () => {
    const a = await hashPassword('secret')
    const b = await hashPassword('secret')
    expect(a).toMatchObject({ kdf: 'scrypt', ...SCRYPT_COSTS })
    expect(Buffer.from(a.salt).equals(Buffer.from(b.salt))).toBe(false)
    expect(Buffer.from(a.hash).toString('utf8')).not.toContain('secret')
    expect(await verifyPassword(a, 'secret')).toBe(true)
    expect(await verifyPassword(a, 'Secret')).toBe(false)
    expect(await verifyPassword(undefined, 'secret')).toBe(false)
  })

  it('refuses a record with absurd costs instead of spending memory on it', async () => {
    const a = await hashPassword('x')
    expect(await verifyPassword({ ...a, N: 2 ** 30 }, 'x')).toBe(false)
  })
})
