/**
 * The node entry as one JavaScript file, for `raftdesk serve` and the benchmarks. Each node
 * process then starts from plain JavaScript instead of compiling TypeScript under tsx: measured
 * here, a 3-node cluster has its leader after 0.75 s instead of 1.36 s, and an idle member takes
 * 86 MB resident instead of 120 MB. The desktop app does not use this: electron-vite builds its
 * node entry with the app (out/main/node-main.js).
 *
 * Built with esbuild (a development dependency, which tsx brings along in any case) into
 * node_modules/.cache/raftdesk-node/ (packages stay external, so the
 * bundle loads the project's installed libraries, and the .proto files are copied beside it, where
 * api/proto.ts looks for them). It is rebuilt whenever a file under node-core/ is newer than the
 * bundle, and written under a temporary name then renamed, so two servers starting at once never
 * run half a file.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
} from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const NODE_CORE = resolve(fileURLToPath(new URL('..', import.meta.url)))
export const NODE_BUNDLE_DIR = join(NODE_CORE, '..', 'node_modules', '.cache', 'raftdesk-node')

/** The newest modification time of any file under `dir`, in ms. */
function newestMtimeMs(dir: string): number {
  let newest = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name)
    const t = e.isDirectory() ? newestMtimeMs(path) : statSync(path).mtimeMs
    if (t > newest) newest = t
  }
  return newest
}

/** Copies a file so that a reader sees the old or the new one whole (a rename). */
function copyAtomically(from: string, to: string): void {
  const tmp = `${to}.${process.pid}.tmp`
  copyFileSync(from, tmp)
  renameSync(tmp, to)
}

/**
 * The path of an up-to-date bundle of node-main.ts (in `dir`, by default NODE_BUNDLE_DIR),
 * building it first if needed.
 */
export async function bundledNodeEntry(dir: string = NODE_BUNDLE_DIR): Promise<string> {
  const bundle = join(dir, 'node-main.mjs')
  const sourcesMs = newestMtimeMs(NODE_CORE)
  if (existsSync(bundle) && statSync(bundle).mtimeMs >= sourcesMs) return bundle
  const { build } = await import('esbuild')
  mkdirSync(join(dir, 'proto'), { recursive: true })
  const protoDir = join(NODE_CORE, 'api', 'proto')
  for (const name of readdirSync(protoDir)) {
    copyAtomically(join(protoDir, name), join(dir, 'proto', name))
  }
  const tmp = join(dir, `node-main.${process.pid}.tmp.mjs`)
  try {
    await build({
      entryPoints: [join(NODE_CORE, 'cluster', 'node-main.ts')],
      outfile: tmp,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      logLevel: 'silent',
    })
    // Dated as the sources it was built from: a file saved during the build makes it stale.
    const at = new Date(sourcesMs)
    utimesSync(tmp, at, at)
    renameSync(tmp, bundle)
  } finally {
    rmSync(tmp, { force: true })
  }
  return bundle
}
