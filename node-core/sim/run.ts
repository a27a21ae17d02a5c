/**
 * Runs the simulator over a range of seeds and summarises: the CLI (`npm run sim`) and the tests
 * both come through here. Seeds alternate cluster sizes (even: 3 nodes, odd: 5 nodes) unless a
 * size is forced, so a seed alone says which cluster it ran.
 */
import { Simulation, type SimOptions, type SimResult } from './world'

export interface RunOptions {
  seeds: number
  start: number
  steps: number
  /** Force a cluster size; default alternates 3 and 5 by seed. */
  nodes?: number
  /** Called after each seed (progress display). */
  onResult?: (result: SimResult) => void
  /** Extra simulator options (tests use them for small, fast runs). */
  sim?: Partial<Omit<SimOptions, 'seed' | 'steps' | 'nodes'>>
}

export interface RunSummary {
  seeds: number
  steps: number
  virtualMs: number
  elections: number
  opsOk: number
  opsUnknown: number
  failures: SimResult[]
  leaderRecoveriesMs: number[]
}

export function nodesForSeed(seed: number, forced?: number): number {
  return forced ?? (seed % 2 === 0 ? 3 : 5)
}

export function runSeeds(options: RunOptions): RunSummary {
  const summary: RunSummary = {
    seeds: 0,
    steps: 0,
    virtualMs: 0,
    elections: 0,
    opsOk: 0,
    opsUnknown: 0,
    failures: [],
    leaderRecoveriesMs: [],
  }
  for (let seed = options.start; seed < options.start + options.seeds; seed++) {
    const result = new Simulation({
      ...options.sim,
      seed,
      steps: options.steps,
      nodes: nodesForSeed(seed, options.nodes),
    }).run()
    summary.seeds++
    summary.steps += result.steps
    summary.virtualMs += result.virtualMs
    summary.elections += result.elections
    summary.opsOk += result.opsOk
    summary.opsUnknown += result.opsUnknown
    summary.leaderRecoveriesMs.push(...result.leaderRecoveriesMs)
    if (result.violation) summary.failures.push(result)
    options.onResult?.(result)
  }
  return summary
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)
  return sorted[Math.max(0, rank)]!
}

export function reproCommand(result: SimResult, steps: number, forcedNodes?: number): string {
  const nodes = forcedNodes === undefined ? '' : ` --nodes ${forcedNodes}`
  return `npm run sim -- --seeds 1 --start ${result.seed} --steps ${steps}${nodes} --verbose`
}

export function formatFailure(result: SimResult, steps: number, forcedNodes?: number): string {
  const v = result.violation!
  return [
    `VIOLATION seed ${result.seed} (${result.nodes} nodes): ${v.invariant} at ${v.atMs} ms, step ${v.step}`,
    ...v.message.split('\n').map((l) => `  ${l}`),
    '  last events:',
    ...result.trace.map((l) => `    ${l}`),
    `  reproduce: ${reproCommand(result, steps, forcedNodes)}`,
  ].join('\n')
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s % 60}s` : `${s}s`
}

export function formatSummary(summary: RunSummary, wallMs: number): string {
  const rec = [...summary.leaderRecoveriesMs].sort((a, b) => a - b)
  const recovery =
    rec.length === 0
      ? 'no leader crashes measured'
      : `leader crash -> new leader: median ${percentile(rec, 50)} ms, p99 ${percentile(rec, 99)} ms, max ${rec[rec.length - 1]} ms (n=${rec.length})`
  const stepsPerSec = Math.round(summary.steps / (wallMs / 1000))
  return [
    `sim: seeds ${summary.seeds}, steps ${summary.steps}, violations ${summary.failures.length}, ` +
      `elections ${summary.elections}, virtual time ${formatDuration(summary.virtualMs)}, ` +
      `ops ${summary.opsOk} ok / ${summary.opsUnknown} unknown, ` +
      `wall ${(wallMs / 1000).toFixed(1)} s (${stepsPerSec} steps/s)`,
    `sim: ${recovery}`,
  ].join('\n')
}
