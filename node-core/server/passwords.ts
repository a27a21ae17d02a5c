/**
 * Password hashing for etcd's auth: salted scrypt from node:crypto, with its costs named here and
 * nowhere else. The member that receives UserAdd or UserChangePassword hashes the password with a
 * fresh random salt and proposes only the hash, so the raft log, the WAL, snapshots and every
 * member's store hold hashes, never the password (etcd 3.4 hashes on every member at apply, with
 * bcrypt).
 *
 * Checking a password costs one scrypt whether the user exists or not: an unknown user is checked
 * against a fixed dummy hash of the same costs, so a wrong password and a missing user take the
 * same time and give the same answer ("authentication failed, invalid user ID or password").
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import type { PasswordHash } from '../mvcc/auth'

/**
 * scrypt's costs: N = 2^14, r = 8, p = 1 (the interactive-login parameters of the scrypt paper,
 * about 16 MiB and tens of milliseconds a hash here), a 16-byte salt and a 32-byte hash.
 */
export const SCRYPT_COSTS = { N: 2 ** 14, r: 8, p: 1 } as const
const SALT_BYTES = 16
const HASH_BYTES = 32

function derive(
  password: string,
  salt: Uint8Array,
  costs: ScryptOptions & { N: number },
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxmem: scrypt needs 128 * N * r bytes; leave room above it for the costs a record names.
    const maxmem = 256 * costs.N * (costs.r ?? 8) + 1024 * 1024
    scrypt(password, salt, HASH_BYTES, { ...costs, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    )
  })
}

export async function hashPassword(password: string): Promise<PasswordHash> {
  const salt = new Uint8Array(randomBytes(SALT_BYTES))
  const hash = await derive(password, salt, SCRYPT_COSTS)
  return { kdf: 'scrypt', ...SCRYPT_COSTS, salt, hash: new Uint8Array(hash) }
}

const DUMMY: PasswordHash = {
  kdf: 'scrypt',
  ...SCRYPT_COSTS,
  salt: new Uint8Array(SALT_BYTES),
  hash: new Uint8Array(HASH_BYTES),
}

/**
 * Whether `password` matches `stored`; with `stored` undefined (no such user, or a user without a
 * password) the same work is done against a dummy hash and the answer is false.
 */
export async function verifyPassword(
  stored: PasswordHash | undefined,
  password: string,
): Promise<boolean> {
  const against = stored ?? DUMMY
  // A record whose costs are out of bounds is damage, not a reason to burn memory.
  const sane = against.N <= 2 ** 20 && against.r <= 32 && against.p <= 16
  const hash = await derive(password, against.salt, sane ? against : DUMMY)
  const expected = Buffer.from(against.hash)
  const same = expected.length === hash.length && timingSafeEqual(hash, expected)
  return stored !== undefined && sane && same
}
