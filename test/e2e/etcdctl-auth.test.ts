// etcdctl 3.4's auth, user and role commands against a real etcd 3.4 started by the test and
// against a raftdesk cluster of node processes: the same script runs on both and every step must
// print the same thing (JSON headers compared without ids, term and revision; errors by gRPC code
// and etcdctl's message). Permissions are granted and denied, passwords are wrong, users are
// missing or empty, and root is protected, as etcd does it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestCluster, type TestCluster } from '../helpers/cluster'
import {
  etcdctl,
  etcdctlObserved,
  shouldRunEtcdTests,
  startReferenceEtcd,
  type ReferenceEtcd,
} from '../node-core/api/harness'

interface Step {
  args: string[]
  /** user:password for --user. */
  as?: string
  input?: string
}

const ROOT = 'root:rootpw'
const ALICE = 'alice:alicepw'

const script: Step[] = [
  { args: ['auth', 'enable'] }, // no root user yet
  { args: ['user', 'add', 'root', '--new-user-password=rootpw'] },
  { args: ['auth', 'enable'] }, // etcdctl grants root the root role itself
  { args: ['user', 'list'] }, // no credentials: user name is empty
  { args: ['user', 'list'], as: 'root:wrong' },
  { args: ['user', 'list'], as: 'nobody:pw' },
  { args: ['user', 'add', 'alice', '--new-user-password=alicepw'], as: ROOT },
  { args: ['user', 'add', 'alice', '--new-user-password=again'], as: ROOT },
  { args: ['role', 'add', 'app'], as: ROOT },
  { args: ['role', 'add', 'app'], as: ROOT },
  { args: ['role', 'grant-permission', 'app', 'readwrite', 'app/', '--prefix'], as: ROOT },
  { args: ['role', 'grant-permission', 'app', 'read', 'shared'], as: ROOT },
  { args: ['role', 'grant-permission', 'app', 'write', 'w1', 'w3'], as: ROOT },
  { args: ['role', 'grant-permission', 'nope', 'read', 'k'], as: ROOT },
  { args: ['user', 'grant-role', 'alice', 'app'], as: ROOT },
  { args: ['user', 'grant-role', 'alice', 'nope'], as: ROOT },
  { args: ['user', 'grant-role', 'ghost', 'app'], as: ROOT },
  { args: ['user', 'get', 'alice'], as: ROOT },
  { args: ['user', 'get', 'alice', '--detail'], as: ROOT },
  { args: ['user', 'get', 'ghost'], as: ROOT },
  { args: ['role', 'get', 'app'], as: ROOT },
  { args: ['role', 'get', 'nope'], as: ROOT },
  { args: ['role', 'list'], as: ROOT },
  { args: ['user', 'list'], as: ROOT },
  { args: ['user', 'list', '-w', 'json'], as: ROOT },
  // alice within and outside her permissions
  { args: ['put', 'app/1', 'one'], as: ALICE },
  { args: ['put', 'app/2', 'two', '--prev-kv'], as: ALICE },
  { args: ['put', 'other', 'x'], as: ALICE },
  { args: ['put', 'shared', 'x'], as: ALICE },
  { args: ['put', 'w2', 'x'], as: ALICE },
  { args: ['put', 'w2', 'x', '--prev-kv'], as: ALICE },
  { args: ['put', 'shared', 'from-root'], as: ROOT },
  { args: ['get', 'shared'], as: ALICE },
  { args: ['get', 'app/', '--prefix'], as: ALICE },
  { args: ['get', 'app/', '--prefix', '-w', 'json'], as: ALICE },
  { args: ['get', '', '--prefix', '--keys-only'], as: ALICE },
  { args: ['get', 'app/', '--from-key'], as: ALICE },
  { args: ['get', 'app/1'] },
  { args: ['del', 'app/2'], as: ALICE },
  { args: ['del', 'w1', 'w3'], as: ALICE },
  { args: ['del', 'w1', 'w3', '--prev-kv'], as: ALICE },
  {
    args: ['txn'],
    as: ALICE,
    input: 'value("app/1") = "one"\n\nput app/3 three\n\nput app/3 other\n\n',
  },
  { args: ['txn'], as: ALICE, input: 'value("shared") = "x"\n\nput other y\n\n\n' },
  { args: ['txn'], as: ALICE, input: 'value("secret") = "x"\n\nput app/4 y\n\n\n' },
  { args: ['compaction', '1'], as: ALICE },
  { args: ['watch', 'secret'], as: ALICE },
  { args: ['watch', 'app/', '--prefix', '--rev', '1'], as: 'alice:wrong' },
  { args: ['user', 'get', 'alice'], as: ALICE }, // a user may read itself
  { args: ['user', 'get', 'root'], as: ALICE },
  { args: ['role', 'get', 'app'], as: ALICE }, // and its own roles
  { args: ['user', 'list'], as: ALICE },
  { args: ['role', 'add', 'mine'], as: ALICE },
  // root is protected while auth is on
  { args: ['user', 'delete', 'root'], as: ROOT },
  { args: ['user', 'revoke-role', 'root', 'root'], as: ROOT },
  { args: ['role', 'delete', 'root'], as: ROOT },
  // revoking
  { args: ['role', 'revoke-permission', 'app', 'shared'], as: ROOT },
  { args: ['role', 'revoke-permission', 'app', 'shared'], as: ROOT },
  { args: ['get', 'shared'], as: ALICE },
  { args: ['user', 'revoke-role', 'alice', 'nope'], as: ROOT },
  // a changed password: the old one fails, the new one works
  { args: ['user', 'passwd', 'alice', '--interactive=false'], as: ROOT, input: 'newpw\n' },
  { args: ['get', 'app/1'], as: ALICE },
  { args: ['get', 'app/1', '--print-value-only'], as: 'alice:newpw' },
  { args: ['user', 'passwd', 'ghost', '--interactive=false'], as: ROOT, input: 'x\n' },
  { args: ['user', 'delete', 'ghost'], as: ROOT },
  { args: ['role', 'delete', 'nope'], as: ROOT },
  { args: ['role', 'delete', 'app'], as: ROOT },
  { args: ['user', 'get', 'alice'], as: ROOT },
  { args: ['get', 'app/1'], as: 'alice:newpw' },
  { args: ['auth', 'disable'], as: ALICE },
  { args: ['auth', 'disable'], as: ROOT },
  { args: ['auth', 'disable'] },
  { args: ['put', 'open', 'again'] },
  { args: ['get', 'app/1', '--print-value-only'] },
  { args: ['user', 'list'] },
  { args: ['user', 'delete', 'alice'] },
  { args: ['user', 'delete', 'root'] }, // allowed once auth is off
  { args: ['user', 'list'] },
]

async function runScript(endpoint: string): Promise<unknown[]> {
  const out: unknown[] = []
  for (const step of script) {
    const args = step.as ? ['--user', step.as, ...step.args] : step.args
    const result = await etcdctl(endpoint, args, step.input ? { input: step.input } : {})
    out.push({
      step: step.args.join(' '),
      as: step.as ?? '',
      ...(etcdctlObserved(result, ['cluster_id', 'member_id', 'raft_term', 'revision']) as object),
    })
  }
  return out
}

describe.runIf(shouldRunEtcdTests())(
  'etcdctl auth, user and role commands: raftdesk vs etcd 3.4',
  () => {
    let etcd: ReferenceEtcd
    let tc: TestCluster
    let expected: unknown[]

    beforeAll(async () => {
      etcd = await startReferenceEtcd()
      expected = await runScript(etcd.endpoint)
      tc = await startTestCluster()
      await tc.cluster.waitForLeader()
    }, 180_000)

    afterAll(async () => {
      await etcd?.stop()
      await tc?.dispose()
    })

    it('prints what etcd prints at every step', async () => {
      const actual = await runScript(tc.endpoints.get('n2')!)
      if (process.env['DUMP'])
        console.log(JSON.stringify(actual, null, 0).replaceAll('},{', '},\n{'))
      for (let i = 0; i < script.length; i++) expect(actual[i], `step ${i}`).toEqual(expected[i])
    }, 180_000)
  },
)
