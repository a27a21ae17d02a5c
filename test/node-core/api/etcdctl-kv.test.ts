// Debian's etcdctl 3.4 against the raftdesk gRPC layer (FakeBackend behind it) and against a real
// etcd 3.4 started for the test: the same script of key-value commands runs on both, and every
// step must print the same thing (JSON headers compared without the ids and term, which differ
// between two clusters by construction; errors compared by gRPC code and etcdctl's message).
//
// etcdctl 3.4 has no --count-only flag (it came with 3.5); count_only is covered in kv.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  etcdctl,
  etcdctlObserved,
  shouldRunEtcdTests,
  startFakeServer,
  startReferenceEtcd,
  type FakeServer,
  type ReferenceEtcd,
} from './harness'

interface Step {
  args: string[]
  input?: string
}

const script: Step[] = [
  { args: ['put', 'foo', 'bar'] },
  { args: ['put', 'foo2', 'baz'] },
  { args: ['put', 'foo3', 'qux'] },
  { args: ['put', 'zed', '1'] },
  { args: ['get', 'foo'] },
  { args: ['get', 'foo', '-w', 'json'] },
  { args: ['get', '--prefix', 'foo'] },
  { args: ['get', '--prefix', 'foo', '--keys-only'] },
  { args: ['get', '--prefix', 'foo', '--limit', '2', '-w', 'json'] },
  { args: ['get', '--prefix', 'foo', '--sort-by=MODIFY', '--order=DESCEND'] },
  { args: ['get', '--prefix', 'foo', '--sort-by=VALUE', '--order=ASCEND', '--limit', '2'] },
  { args: ['get', '--prefix', 'foo', '--sort-by=CREATE'] },
  { args: ['get', '--from-key', 'foo2', '--keys-only'] },
  { args: ['get', 'foo', '--rev', '1', '-w', 'json'] },
  { args: ['get', 'foo', '--rev', '2'] },
  { args: ['get', 'foo', '--consistency=s', '--print-value-only'] },
  { args: ['get', 'foo', '--hex'] },
  { args: ['get', 'nothing-here', '-w', 'json'] },
  { args: ['put', 'foo', 'bar2', '--prev-kv'] },
  { args: ['put', 'foo', 'bar3', '--prev-kv', '-w', 'json'] },
  { args: ['del', 'foo3', '--prev-kv'] },
  { args: ['del', 'nothing-here'] },
  { args: ['del', '--prefix', 'foo', '-w', 'json'] },
  { args: ['put', 'foo', 'again'] },
  // Interactive txn: compares, success ops, failure ops, each list ended by an empty line.
  {
    args: ['txn', '-i'],
    input: 'value("foo") = "again"\nmod("zed") > "0"\n\nput foo won\nget foo\n\ndel zed\n\n',
  },
  { args: ['txn'], input: 'value("foo") = "lost"\n\nput a b\n\nput c d\nget c\n\n' },
  { args: ['txn', '-w', 'json'], input: 'version("c") = "1"\n\ndel c\nget foo\n\nput e f\n\n' },
  { args: ['txn'], input: 'create("nope") = "0"\n\nput t1 x\nput t2 y\n\n\n' },
  { args: ['txn'], input: '\nput d 1\nput d 2\n\n\n' },
  { args: ['put', '', 'empty'] },
  { args: ['get', ''] },
  { args: ['put', 'x', '1'] },
  { args: ['put', 'x', '2'] },
  { args: ['put', 'x', '3'] },
  { args: ['get', 'x', '-w', 'json'] },
  { args: ['compaction', '14'] },
  { args: ['get', 'x', '--rev', '13'] },
  { args: ['get', 'x', '--rev', '14', '-w', 'json'] },
  { args: ['get', 'x', '--rev', '1000'] },
  { args: ['compaction', '14'] },
  { args: ['compaction', '1000'] },
  { args: ['compaction', '--physical', '15'] },
  { args: ['get', '', '--from-key', '-w', 'json'] },
]

describe.runIf(shouldRunEtcdTests())('etcdctl key-value commands, raftdesk vs etcd 3.4', () => {
  let reference: ReferenceEtcd
  let fake: FakeServer
  const theirs: unknown[] = []
  const ours: unknown[] = []

  beforeAll(async () => {
    ;[reference, fake] = await Promise.all([startReferenceEtcd(), startFakeServer()])
    for (const step of script) {
      theirs.push(etcdctlObserved(await etcdctl(reference.endpoint, step.args, step)))
      ours.push(etcdctlObserved(await etcdctl(fake.endpoint, step.args, step)))
    }
  }, 120_000)

  afterAll(async () => {
    await Promise.all([reference?.stop(), fake?.close()])
  })

  it('ran every step on both sides', () => {
    expect(ours).toHaveLength(script.length)
    expect(theirs).toHaveLength(script.length)
  })

  it.each(script.map((step, i) => [i, step.args.join(' '), step] as const))(
    'step %i: etcdctl %s prints what etcd prints',
    (i) => {
      expect(ours[i]).toEqual(theirs[i])
    },
  )

  it('exercised successes and failures alike', () => {
    const codes = ours.map((o) => (o as { code: number }).code)
    expect(codes.filter((c) => c === 0).length).toBeGreaterThan(30)
    const errors = ours.map((o) => (o as { error: string }).error).filter(Boolean)
    expect(errors).toEqual(
      expect.arrayContaining([
        'Error: etcdserver: key is not provided',
        'Error: etcdserver: duplicate key given in txn request',
        'Error: etcdserver: mvcc: required revision has been compacted',
        'Error: etcdserver: mvcc: required revision is a future revision',
      ]),
    )
  })
})
