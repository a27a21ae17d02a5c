/**
 * One running node process as its owner sees it (the local-cluster supervisor, a joined node):
 * the protocol of protocol.ts over a launcher's handle. Requests are matched to replies by id,
 * each with a deadline; everything still waiting fails with NODE_EXITED when the process goes.
 */
import { RaftdeskError } from '../errors'
import type { NodeLauncher, NodeProcessHandle } from './launcher'
import type { RaftEvent } from '../../contract'
import type {
  FromNode,
  NodeArgs,
  NodeCall,
  NodeProcessConfig,
  NodeResult,
  NodeStatus,
} from './protocol'

export class NodeCommandError extends RaftdeskError {}

export interface NodeExit {
  code: number | null
  signal: NodeJS.Signals | null
}

interface Pending {
  resolve: (v: unknown) => void
  reject: (e: unknown) => void
  timer: NodeJS.Timeout
}

export class NodeProcess {
  readonly pid: number
  /** Resolves with the member id once the node serves clients; rejects if it never does. */
  readonly ready: Promise<number>
  /** Resolves once the process is gone, however it went. */
  readonly exited: Promise<NodeExit>
  private readonly pending = new Map<number, Pending>()
  private nextRequestId = 1
  private gone = false

  private constructor(
    private readonly handle: NodeProcessHandle,
    readonly name: string,
    onStatus: (status: NodeStatus, events: RaftEvent[]) => void,
  ) {
    this.pid = handle.pid
    let started!: (id: number) => void
    let failed!: (err: Error) => void
    this.ready = new Promise<number>((resolve, reject) => {
      started = resolve
      failed = reject
    })
    // Whoever only cares about the exit must not be told about a start that failed.
    this.ready.catch(() => undefined)
    handle.onMessage((msg: FromNode) => {
      switch (msg.type) {
        case 'started':
          started(msg.id)
          break
        case 'status':
          onStatus(msg.status, msg.events ?? [])
          break
        case 'reply': {
          const p = this.pending.get(msg.id)
          if (!p) break
          this.pending.delete(msg.id)
          clearTimeout(p.timer)
          if (msg.ok) p.resolve(msg.value)
          else p.reject(new NodeCommandError(msg.error.code, `${name}: ${msg.error.message}`))
          break
        }
        case 'fatal':
          failed(new NodeCommandError(msg.error.code, `${name}: ${msg.error.message}`))
          break
        case 'stopped':
          break
      }
    })
    this.exited = new Promise<NodeExit>((resolve) =>
      handle.onExit((code, signal) => {
        this.gone = true
        for (const p of this.pending.values()) {
          clearTimeout(p.timer)
          p.reject(new NodeCommandError('NODE_EXITED', `${name} exited`))
        }
        this.pending.clear()
        failed(
          new NodeCommandError(
            'NODE_EXITED',
            `${name} exited (code ${code}, signal ${signal}) before it started`,
          ),
        )
        resolve({ code, signal })
      }),
    )
  }

  static launch(
    launcher: NodeLauncher,
    config: NodeProcessConfig,
    onStatus: (status: NodeStatus, events: RaftEvent[]) => void = () => {},
  ): NodeProcess {
    return new NodeProcess(launcher.launch(config), config.name, onStatus)
  }

  /** `ready`, bounded: a node that neither starts nor exits within `timeoutMs` is an error. */
  async waitReady(timeoutMs: number): Promise<number> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new NodeCommandError(
              'NODE_START_TIMEOUT',
              `${this.name} did not start within ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      )
    })
    try {
      return await Promise.race([this.ready, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Sends a call (protocol.ts NodeCalls) and waits for its answer. */
  request<K extends NodeCall>(
    call: K,
    args: NodeArgs<K>,
    timeoutMs = 10_000,
  ): Promise<NodeResult<K>> {
    if (this.gone) {
      return Promise.reject(new NodeCommandError('NODE_NOT_RUNNING', `${this.name} is not running`))
    }
    const id = this.nextRequestId++
    return new Promise<NodeResult<K>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(
          new NodeCommandError(
            'NODE_TIMEOUT',
            `${this.name} did not answer ${call} within ${timeoutMs} ms`,
          ),
        )
      }, timeoutMs)
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer })
      this.handle.send({ type: 'request', id, call, args })
    })
  }

  status(): Promise<NodeStatus> {
    return this.request('status', {})
  }

  signal(signal: NodeJS.Signals): boolean {
    return this.handle.kill(signal)
  }

  /** Asks the node to stop (a leader hands over first when asked); kills it after `timeoutMs`. */
  async stop(transferLeadership: boolean, timeoutMs: number): Promise<NodeExit> {
    await this.request('stop', { transferLeadership }).catch(() => undefined)
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>(
      (resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)),
    )
    const outcome = await Promise.race([this.exited, late])
    clearTimeout(timer)
    if (outcome === 'late') this.signal('SIGKILL')
    return this.exited
  }
}
