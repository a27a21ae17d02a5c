// `npm start`: the desktop app (electron-vite builds it, then opens the window with the embedded
// cluster). Installed without Electron's binary (ELECTRON_SKIP_BINARY_DOWNLOAD, or no network),
// it says so in one sentence and names the headless way instead of electron's bare error.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const electronDir = join(root, 'node_modules', 'electron')
const pathFile = join(electronDir, 'path.txt')
const binary = existsSync(pathFile)
  ? join(electronDir, 'dist', readFileSync(pathFile, 'utf8').trim())
  : null

if (!binary || !existsSync(binary)) {
  process.stderr.write(
    "raftdesk: Electron's binary is not installed here (npm install skipped or could not download it), " +
      'so the desktop window cannot open; run `npm run serve` for the same window in your browser.\n',
  )
  process.exit(1)
}

const cli = join(
  root,
  'node_modules',
  '.bin',
  process.platform === 'win32' ? 'electron-vite.cmd' : 'electron-vite',
)
const child = spawn(cli, ['preview', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' })
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
