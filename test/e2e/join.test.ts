// Joining a running cluster from another raftdesk: the joining node is added as a learner via
// the Admin API (token checked), catches up over a snapshot (the cluster's log is compacted
// past its start), is promoted once caught up, serves linearizable reads, and leaves again.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { EtcdClient } from '../../node-core/client/etcd-client'
import { JoinedNode } from '../../node-core/cluster/join'
import { ForkLauncher } from '../../node-core/cluster/launcher'
import { sleep, startTestCluster, type TestCluster } from '../helpers/cluster'
import { freePortBlock } from '../helpers/ports'

let tc: TestCluster | null = null
let joined: JoinedNode | null = null
let otherDir: string | null = null
afterEach(async () => {
  await joined?.kill().catch(() => undefined)
  joined = null
  await tc?.dispose()
  tc = null
  if (otherDir) rmSync(otherDir, { recursive: true, force: true })
  otherDir = null
})

describe('join a remote cluster', () => {
  it('adds a learner that catches up over a snapshot, is promoted, serves reads and leaves', async () => {
    tc = await startTestCluster({ snapshotCount: 100, snapshotCatchUpEntries: 10 })
    const t = tc
    const leader = await t.cluster.waitForLeader()
    const writer = t.client(leader)
    for (let i = 0; i < 300; i++) await writer.put(`j/${String(i).padStart(3, '0')}`, `v${i}`)
    const leaderStatus = await t.cluster.status(leader)
    expect(leaderStatus.firstIndex).toBeGreaterThan(10) // the log no longer starts at 1

    // A wrong token changes nothing.
    otherDir = mkdtempSync(join(tmpdir(), 'raftdesk-joiner-'))
    const port = await freePortBlock(1)
    const logs: string[] = []
    const launcher = new ForkLauncher({ onStderrLine: (_n, line) => logs.push(line) })
    const peer = t.cluster.info('n2').peer
    await expect(
      JoinedNode.join({
        peer,
        token: 'wrong',
        name: 'remote1',
        dataDir: otherDir,
        clientPort: port,
        launcher,
      }),
    ).rejects.toThrow(/wrong cluster token/)
    expect((await writer.memberList()).length).toBe(3)

    joined = await JoinedNode.join({
      peer,
      token: t.cluster.clusterToken,
      name: 'remote1',
      dataDir: otherDir,
      clientPort: port,
      launcher,
    })
    const members = await writer.memberList()
    expect(members.find((m) => m.name === 'remote1')?.isLearner).toBe(true)

    // It catches up: first a snapshot, then the log.
    const deadline = Date.now() + 20_000
    let applied = 0
    while (Date.now() < deadline) {
      applied = (await joined.status()).applied
      if (applied >= leaderStatus.commit) break
      await sleep(100)
    }
    expect(applied).toBeGreaterThanOrEqual(leaderStatus.commit)
    expect(logs.join('\n')).toMatch(/received snapshot/)

    // Promoted through a follower, which forwards to the leader as etcd's members do (only the
    // leader knows whether a learner is in sync).
    const follower = t.client(['n1', 'n2', 'n3'].find((n) => n !== leader)!)
    let promoteError = ''
    for (let attempt = 0; attempt < 50; attempt++) {
      promoteError = await follower.memberPromote(String(joined.memberId)).then(
        () => '',
        (err: Error) => err.message,
      )
      if (!/in sync with leader/.test(promoteError)) break
      await sleep(200)
    }
    follower.close()
    expect(promoteError).toBe('')
    await joined.promote() // already a voter: returns at once
    const after = await writer.memberList()
    expect(after.find((m) => m.name === 'remote1')?.isLearner).toBe(false)
    const status = await joined.status()
    expect(status.confState.voters).toContain(joined.memberId)

    // It serves linearizable reads and takes writes like any member.
    const client = new EtcdClient(joined.endpoint)
    expect(await client.get('j/299')).toBe('v299')
    await client.put('j/from-joined', 'yes')
    expect(await writer.get('j/from-joined')).toBe('yes')
    client.close()

    await joined.leave()
    joined = null
    const final = await writer.memberList()
    expect(final.map((m) => m.name).sort()).toEqual(['n1', 'n2', 'n3'])
    await writer.put('j/after-leave', 'ok')
  }, 180_000)
})
