// The raft store: the live topic opens only while someone follows and the host has a local
// cluster; the first message replaces the history, later ones append (bounded); the log window
// pages back and returns to following the tail; an action's failure is kept as a sentence.
import { createPinia, setActivePinia } from 'pinia'
import { createApp } from 'vue'
import { describe, expect, it } from 'vitest'
import type {
  RaftClusterView,
  RaftEvent,
  RaftLive,
  RaftdeskBridge,
  TopicMessage,
} from '../../contract'
import { createApiClient } from '../../renderer/src/api/client'
import { provideApi } from '../../renderer/src/api/inject'
import { LOG_WINDOW, RAFT_EVENTS_KEPT, useRaftStore } from '../../renderer/src/stores/raft'

const cluster = (leader: string): RaftClusterView => ({
  nodes: [],
  links: [],
  leader,
  term: 2,
  voters: 3,
  quorum: 2,
  healthyVoters: 3,
  timeouts: { electionMsMin: 150, electionMsMax: 300, heartbeatMs: 50 },
  maxMembers: 9,
  remote: false,
  canFail: 1,
  atMs: 0,
})
const event = (seq: number): RaftEvent => ({
  seq,
  atMs: seq,
  node: 'n1',
  kind: 'role',
  term: 1,
  text: `e${seq}`,
})

function setup(answers: Record<string, (args: unknown[]) => unknown>) {
  let listener: ((m: TopicMessage<RaftLive>) => void) | null = null
  let opened = 0
  let closed = 0
  const calls: Array<[string, unknown[]]> = []
  const bridge = {
    invoke: async (channel: string, ...args: unknown[]) => {
      calls.push([channel, args])
      try {
        return { ok: true, value: answers[channel]?.(args) ?? null }
      } catch (err) {
        return { ok: false, error: { name: 'Error', code: 'X', message: (err as Error).message } }
      }
    },
    subscribe: (_t: string, _a: unknown, l: (m: TopicMessage<RaftLive>) => void) => {
      opened++
      listener = l
      return () => closed++
    },
  } as unknown as RaftdeskBridge
  const app = createApp({})
  provideApi(app, createApiClient(bridge))
  const pinia = createPinia()
  app.use(pinia)
  setActivePinia(pinia)
  let raft!: ReturnType<typeof useRaftStore>
  app.runWithContext(() => (raft = useRaftStore()))
  const send = (live: RaftLive) => listener!({ type: 'event', event: live })
  return { raft, send, calls, counts: () => ({ opened, closed }) }
}

const settle = () => new Promise((r) => setTimeout(r, 0))

describe('raft store', () => {
  it('streams only while followed, replacing the history first and appending after', async () => {
    const { raft, send, counts } = setup({ 'raft/available': () => true })
    const stop = raft.follow()
    await settle()
    expect(counts().opened).toBe(1)
    send({ cluster: cluster('n1'), events: [event(1), event(2)], samples: [] })
    send({ cluster: cluster('n2'), events: [event(3)], samples: [{ atMs: 1, nodes: [] }] })
    expect(raft.cluster?.leader).toBe('n2')
    expect(raft.events.map((e) => e.seq)).toEqual([1, 2, 3])
    expect(raft.samples).toHaveLength(1)
    send({
      cluster: cluster('n2'),
      events: Array.from({ length: RAFT_EVENTS_KEPT }, (_, i) => event(10 + i)),
      samples: [],
    })
    expect(raft.events).toHaveLength(RAFT_EVENTS_KEPT)
    expect(raft.events[0]!.seq).toBe(10)
    stop()
    expect(counts().closed).toBe(1)
  })

  it('opens nothing where the host runs no local cluster', async () => {
    const { raft, counts } = setup({ 'raft/available': () => false })
    raft.follow()
    await settle()
    expect(raft.available).toBe(false)
    expect(counts().opened).toBe(0)
  })

  it('pages the log back and returns to following the tail', async () => {
    const slice = (last: number) => [
      {
        node: 'n1',
        firstIndex: 1,
        lastIndex: last,
        stableIndex: last,
        commit: last,
        applied: last,
        entries: [],
      },
    ]
    const { raft, calls } = setup({ 'raft/log': () => slice(200) })
    await raft.loadLog()
    raft.scrollLog(-LOG_WINDOW)
    await settle()
    expect(raft.logTo).toBe(200 - LOG_WINDOW)
    raft.scrollLog(-1000)
    await settle()
    expect(raft.logTo).toBe(LOG_WINDOW)
    raft.scrollLog(+1000)
    await settle()
    expect(raft.logTo).toBe(0)
    expect(
      calls.filter(([c]) => c === 'raft/log').map(([, a]) => (a[0] as { to: number }).to),
    ).toEqual([0, 200 - LOG_WINDOW, LOG_WINDOW, 0])
  })

  it('keeps a failed action’s sentence and clears it on the next one', async () => {
    let fail = true
    const { raft } = setup({
      'raft/act': () => {
        if (fail) throw new Error('no node named "n9" (have n1, n2, n3)')
        return null
      },
    })
    expect(await raft.act({ type: 'kill', node: 'n9' }, 'Kill')).toBe(false)
    expect(raft.actionError).toBe('no node named "n9" (have n1, n2, n3)')
    expect(raft.busy).toBeNull()
    fail = false
    expect(await raft.act({ type: 'heal' }, 'Heal')).toBe(true)
    expect(raft.actionError).toBeNull()
  })
})
