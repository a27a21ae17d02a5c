/**
 * Failover as a new user's program sees it: a fresh etcd3 client (default options) on the members
 * that will survive puts a key every 10 ms, the leader is killed with SIGKILL, and the figure is
 * the time from the kill to the first acknowledged put sent after it, with the errors the client
 * saw. Shared by the e2e test and `npm run bench -- failover` (raftdesk beside a real etcd).
 */
import { Etcd3 } from 'etcd3'

export interface FailoverTarget {
  endpoints: ReadonlyMap<string, string>
  leader(): Promise<string>
  kill(name: string): Promise<void>
  restart(name: string): Promise<void>
}

export interface KillResult {
  /** From the kill to the first acknowledged put sent after it (Infinity: none within 15 s). */
  firstAckMs: number
  /** Calls that failed, as the application saw them (after the client's own retries). */
  errors: number
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function killLeaderOnce(t: FailoverTarget, tag: string): Promise<KillResult> {
  const leader = await t.leader()
  const survivors = [...t.endpoints].filter(([n]) => n !== leader).map(([, e]) => `http://${e}`)
  const client = new Etcd3({ hosts: survivors })
  let killedAt = Number.POSITIVE_INFINITY
  let firstAck = Number.POSITIVE_INFINITY
  let errors = 0
  let seq = 0
  const timer = setInterval(() => {
    const startedAt = Date.now()
    client
      .put(`failover/${tag}/${seq++}`)
      .value('v')
      .then(
        () => {
          const at = Date.now()
          if (startedAt > killedAt && at < firstAck) firstAck = at
        },
        () => errors++,
      )
  }, 10)
  try {
    await sleep(300)
    killedAt = Date.now()
    await t.kill(leader)
    const deadline = Date.now() + 15_000
    while (firstAck === Number.POSITIVE_INFINITY && Date.now() < deadline) await sleep(10)
    // Errors that come soon after the recovery count too (a breaker opening late, say).
    await sleep(500)
  } finally {
    clearInterval(timer)
    client.close()
  }
  await t.restart(leader)
  await sleep(500)
  return { firstAckMs: firstAck - killedAt, errors }
}

export function describeKills(name: string, results: readonly KillResult[]): string {
  const sorted = results.map((r) => r.firstAckMs).sort((a, b) => a - b)
  return (
    `${name} kill -9 leader -> first acknowledged put: median ` +
    `${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted.at(-1)} ms over ${sorted.length} ` +
    `kills; errors per kill: ${results.map((r) => r.errors).join(' ')}`
  )
}
