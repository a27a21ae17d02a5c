/**
 * How the supervisor starts a node process. One interface, two hosts: child_process.fork for
 * the headless `raftdesk serve` and the tests, Electron's utilityProcess in the desktop app
 * (main/ provides that one; node-core never imports electron).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { NODE_CONFIG_ENV, type FromNode, type NodeProcessConfig, type ToNode } from './protocol'

export interface NodeProcessHandle {
  readonly pid: number
  send(msg: ToNode): void
  onMessage(listener: (msg: FromNode) => void): void
  /** Called once when the process is gone, with its exit code or the signal that ended it. */
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void
  kill(signal: NodeJS.Signals): boolean
}

export interface NodeLauncher {
  launch(config: NodeProcessConfig): NodeProcessHandle
}

/** Names the node entry every ForkLauncher uses by default (serve sets it to node-bundle.ts's). */
export const NODE_ENTRY_ENV = 'RAFTDESK_NODE_ENTRY'

/**
 * The node entry point: $RAFTDESK_NODE_ENTRY when set (a built bundle), else the TypeScript
 * source next to this module, run under tsx.
 */
export function defaultNodeEntry(): string {
  return process.env[NODE_ENTRY_ENV] || fileURLToPath(new URL('./node-main.ts', import.meta.url))
}

export interface ForkLauncherOptions {
  entry?: string
  /** Where the child's stderr goes: inherited (default) or handed to a function line by line. */
  onStderrLine?: (name: string, line: string) => void
  /** More flags for each node's Node.js (a benchmark's `--cpu-prof`, say). */
  execArgv?: string[]
  /** More environment variables for each node (a benchmark comparing two settings). */
  env?: Record<string, string>
}

export class ForkLauncher implements NodeLauncher {
  private readonly entry: string
  constructor(private readonly options: ForkLauncherOptions = {}) {
    this.entry = options.entry ?? defaultNodeEntry()
  }

  launch(config: NodeProcessConfig): NodeProcessHandle {
    const execArgv = [
      ...(this.entry.endsWith('.ts') ? ['--import', 'tsx'] : []),
      ...(this.options.execArgv ?? []),
    ]
    const onLine = this.options.onStderrLine
    const child: ChildProcess = fork(this.entry, [], {
      env: { ...process.env, ...this.options.env, [NODE_CONFIG_ENV]: JSON.stringify(config) },
      execArgv,
      stdio: ['ignore', 'inherit', onLine ? 'pipe' : 'inherit', 'ipc'],
      serialization: 'advanced',
    })
    if (onLine && child.stderr) {
      let rest = ''
      child.stderr.setEncoding('utf8')
      child.stderr.on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n')
        rest = lines.pop() ?? ''
        for (const line of lines) onLine(config.name, line)
      })
    }
    if (child.pid === undefined) throw new Error(`could not start node ${config.name}`)
    const pid = child.pid
    return {
      pid,
      send(msg) {
        // A process killed a moment ago may still look connected: the write then fails with
        // EPIPE, which the callback takes (the request fails when the exit is seen) instead of
        // an 'error' event nobody would handle.
        if (child.connected) child.send(msg, () => undefined)
      },
      onMessage(listener) {
        child.on('message', (m) => listener(m as FromNode))
      },
      onExit(listener) {
        child.once('exit', (code, signal) => listener(code, signal))
      },
      kill(signal) {
        return child.kill(signal)
      },
    }
  }
}
