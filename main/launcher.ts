/**
 * The desktop app's node launcher: each node of the embedded cluster is an Electron utility
 * process running the built node entry (out/main/node-main.js; no tsx at run time). It speaks
 * to the supervisor over the utility process's message port (node-main.ts picks it up as
 * process.parentPort), with structured clone, as fork's 'advanced' serialization does.
 */
import type { UtilityProcess } from 'electron'
import { utilityProcess } from 'electron'
import type { NodeLauncher, NodeProcessHandle } from '../node-core/cluster/launcher'
import {
  NODE_CONFIG_ENV,
  type FromNode,
  type NodeProcessConfig,
} from '../node-core/cluster/protocol'

export interface UtilityLauncherOptions {
  /** The node entry script (built JavaScript). */
  entry: string
  /** Each line a node writes to stderr (its log). */
  onStderrLine?: (name: string, line: string) => void
}

export class UtilityProcessLauncher implements NodeLauncher {
  constructor(private readonly options: UtilityLauncherOptions) {}

  launch(config: NodeProcessConfig): NodeProcessHandle {
    const child: UtilityProcess = utilityProcess.fork(this.options.entry, [], {
      env: { ...process.env, [NODE_CONFIG_ENV]: JSON.stringify(config) },
      serviceName: `raftdesk node ${config.name}`,
      stdio: ['ignore', 'inherit', 'pipe'],
    })
    const onLine = this.options.onStderrLine
    if (child.stderr) {
      let rest = ''
      child.stderr.setEncoding('utf8')
      child.stderr.on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n')
        rest = lines.pop() ?? ''
        for (const line of lines) {
          if (onLine) onLine(config.name, line)
          else process.stderr.write(`${line}\n`)
        }
      })
    }
    let exited = false
    child.once('exit', () => (exited = true))
    return {
      get pid() {
        return child.pid ?? 0
      },
      send(msg) {
        if (!exited) child.postMessage(msg)
      },
      onMessage(listener) {
        child.on('message', (m: unknown) => listener(m as FromNode))
      },
      onExit(listener) {
        child.once('exit', (code: number) => listener(code, null))
      },
      kill(signal) {
        if (exited) return false
        if (signal === 'SIGTERM' || !child.pid) return child.kill()
        // SIGKILL, SIGSTOP, SIGCONT (faults): straight to the process.
        try {
          process.kill(child.pid, signal)
          return true
        } catch {
          return false
        }
      },
    }
  }
}
