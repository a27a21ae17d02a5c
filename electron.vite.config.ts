import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'electron-vite'
import type { Plugin } from 'vite'

// The page's own CSP meta tag is the production policy. The dev server injects styles inline and
// talks to its HMR socket, so in dev (and only there) the meta tag is relaxed for exactly that.
function devCspPlugin(): Plugin {
  return {
    name: 'raftdesk-dev-csp',
    apply: 'serve',
    transformIndexHtml(html) {
      return html
        .replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
        .replace("connect-src 'self'", "connect-src 'self' ws: http://localhost:*")
    },
  }
}

// The gRPC API loads its .proto files at run time: the built node entry needs them beside it.
function protoFilesPlugin(): Plugin {
  const dir = resolve(import.meta.dirname, 'node-core/api/proto')
  return {
    name: 'raftdesk-proto-files',
    apply: 'build',
    generateBundle() {
      for (const name of readdirSync(dir)) {
        this.emitFile({
          type: 'asset',
          fileName: `proto/${name}`,
          source: readFileSync(join(dir, name)),
        })
      }
    },
  }
}

// Our folders are top level (main/, preload/, renderer/), not under src/, so every entry is
// named explicitly. Preload is emitted as CommonJS because sandboxed preloads cannot be ESM.
export default defineConfig({
  main: {
    plugins: [protoFilesPlugin()],
    build: {
      outDir: 'out/main',
      // The node entry is built beside main's: the app's utility processes run it as plain
      // JavaScript (main/launcher.ts), with no tsx at run time.
      rollupOptions: {
        input: {
          index: resolve(import.meta.dirname, 'main/index.ts'),
          'node-main': resolve(import.meta.dirname, 'node-core/cluster/node-main.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      rollupOptions: {
        input: { index: resolve(import.meta.dirname, 'preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(import.meta.dirname, 'renderer'),
    plugins: [vue(), devCspPlugin()],
    build: {
      outDir: resolve(import.meta.dirname, 'out/renderer'),
      rollupOptions: { input: resolve(import.meta.dirname, 'renderer/index.html') },
    },
  },
})
