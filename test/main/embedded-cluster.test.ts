// The desktop app's embedded cluster, through main's real wiring with a mocked `electron` whose
// utility processes are real node processes: the window's `local` connection answers once the
// nodes are up (calls made earlier wait for it), quitting stops every node (leadership handed
// over) and keeps the data, and the next start finds it again.
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { defaultNodeEntry } from '../../node-core/cluster/launcher'
import { freePortBlock } from '../helpers/ports'
import { createElectronMock, FakeBrowserWindow, FakeUtilityProcess } from './electron-mock'

const mock = createElectronMock()
vi.mock('electron', () => ({ ...mock.electron, default: mock.electron }))

const pids: number[] = []
mock.realNodes((entry, options) => {
  const child = fork(entry, [], {
    env: options['env'] as NodeJS.ProcessEnv,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'advanced',
  })
  const p = new FakeUtilityProcess()
  p.pid = child.pid
  if (child.pid) pids.push(child.pid)
  p.stderr = child.stderr
  p.postMessage = (m: unknown) => {
    if (child.connected) child.send(m as never)
  }
  p.kill = () => child.kill('SIGTERM')
  child.on('message', (m) => p.emit('message', m))
  child.once('exit', (code) => p.emit('exit', code ?? 1))
  return p
})

const { startApp } = await import('../../main/app')

const dir = mkdtempSync(join(tmpdir(), 'raftdesk-app-'))
const enc = (s: string) => new TextEncoder().encode(s)

async function appStarted(clientPort: number) {
  mock.reset()
  const embedded = await startApp({
    nodeEntry: defaultNodeEntry(),
    clusterDir: join(dir, 'cluster'),
    clientPort,
  })
  const win = FakeBrowserWindow.instances[0]!
  const event = { sender: win.webContents, senderFrame: win.webContents.mainFrame }
  const call = (channel: string, ...args: unknown[]) =>
    (mock.ipcHandlers.get(channel)! as (...a: unknown[]) => Promise<unknown>)(event, ...args)
  const quit = async () => {
    const ev = { defaultPrevented: false, preventDefault: () => (ev.defaultPrevented = true) }
    for (const l of mock.appListeners.get('before-quit') ?? []) l(ev)
    expect(ev.defaultPrevented).toBe(true) // quit waits for the nodes
    await embedded.stop()
  }
  return { embedded, call, quit }
}

afterAll(() => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // gone
    }
  }
  rmSync(dir, { recursive: true, force: true })
})

describe('embedded cluster', () => {
  it('starts three nodes as utility processes, serves the window, and keeps data across a quit', async () => {
    const port = await freePortBlock(3)
    const first = await appStarted(port)
    // Called before the nodes are up: the call waits for the cluster.
    const put = first.call('kv/put', { conn: 'local', key: enc('app/started'), value: enc('yes') })
    await expect(put).resolves.toMatchObject({ ok: true, value: { ok: true } })
    expect(mock.forks).toHaveLength(3)
    expect(await first.call('app/startup')).toMatchObject({
      ok: true,
      value: {
        state: 'ready',
        nodes: ['n1', 'n2', 'n3'].map((name) => ({ name, state: 'running' })),
      },
    })
    expect(mock.forks.every((f) => f.entry === defaultNodeEntry())).toBe(true)
    const summary = (await first.call('cluster/summary', { conn: 'local' })) as {
      value: { members: Array<{ healthy: boolean }>; leader: string }
    }
    expect(summary.value.members.map((m) => m.healthy)).toEqual([true, true, true])
    expect(summary.value.leader).not.toBe('')

    const cluster = await first.embedded.cluster
    const nodePids = cluster.list().map((n) => n.pid!)
    await first.quit()
    for (const pid of nodePids) expect(() => process.kill(pid, 0)).toThrow()

    const second = await appStarted(port)
    const got = (await second.call('kv/get', { conn: 'local', key: enc('app/started') })) as {
      value: { value: Uint8Array } | null
    }
    expect(new TextDecoder().decode(got.value!.value)).toBe('yes')
    await second.quit()
  }, 60_000)
})
