// Lint rules per folder keep the environments apart (DESIGN.md, "Rules of the house"):
// node-core is plain Node (no electron, vue or DOM), node-core/raft is pure (no Node builtins, no
// clock, no timers, no Math.random), and the renderer is a web page (no Node, no electron).
// Imports between node-core's folders run one way, down the layers below (LAYERS), and the
// layers under the gRPC one never import grpc-js. test/lint/boundaries.test.ts proves that each
// of these rules fires.
import { builtinModules } from 'node:module'
import js from '@eslint/js'
import importX, { createNodeResolver } from 'eslint-plugin-import-x'
import pluginVue from 'eslint-plugin-vue'
import globals from 'globals'
import tseslint from 'typescript-eslint'

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
/**
 * Bare module names, matched whole: a gitignore-style group pattern would also ban a project
 * file that happens to share a builtin's name (renderer/src/stores/cluster.ts is not `cluster`).
 */
const bareModules = (names, message) => ({
  regex: `^(?:node:.*|(?:${names.map(escapeRe).join('|')})(?:/.*)?)$`,
  message,
})
const bareBuiltins = builtinModules.filter((m) => !m.startsWith('_'))

const domGlobals = Object.keys(globals.browser).filter((name) => !(name in globals.node))

const importBans = (names, message) => ({
  group: names,
  message,
})
const NO_ELECTRON_OR_VUE = importBans(
  ['electron', 'electron/*', 'vue', 'vue/*', '@vue/*', 'pinia'],
  'node-core runs in plain Node: no Electron and no Vue here (DESIGN.md).',
)
const NO_GRPC = importBans(
  ['@grpc/*'],
  'below the gRPC layer (api/, client/): no grpc-js. Use kernel/ error codes and the server port.',
)

// node-core's layers, bottom first. A folder may import its own layer's `peers` and every layer
// below; never a layer above. The shared contract/ and node-core/errors.ts sit under everything.
const LAYERS = [
  { name: 'kernel', folders: ['kernel'] },
  { name: 'raft, storage and state machine', folders: ['raft', 'wal', 'snap', 'mvcc'] },
  { name: 'transport and server', folders: ['transport', 'server'] },
  { name: 'gRPC', folders: ['api', 'client'] },
  { name: 'top', folders: ['cluster', 'services', 'cli', 'sim'] },
]
// Which folders of the same layer each folder may import (all others of its layer are refused).
const PEERS = {
  wal: ['raft'],
  snap: ['raft'],
  server: ['transport'],
  client: ['api'],
  cluster: ['client', 'services'],
  cli: ['cluster', 'services', 'sim'],
  sim: [],
  services: [],
}
const layerOf = (folder) => LAYERS.findIndex((l) => l.folders.includes(folder))
const layerZones = LAYERS.flatMap((layer, i) =>
  layer.folders.flatMap((folder) => {
    const above = LAYERS.slice(i + 1).flatMap((l) => l.folders)
    const samePeersRefused = layer.folders.filter(
      (f) => f !== folder && !(PEERS[folder] ?? []).includes(f),
    )
    return [
      ...above.map((from) => ({
        target: `./node-core/${folder}`,
        from: `./node-core/${from}`,
        message: `imports run down the layers: ${folder}/ (${layer.name}) cannot import ${from}/ (${LAYERS[layerOf(from)].name}, above it). DESIGN.md, "Imports run one way".`,
      })),
      ...samePeersRefused.map((from) => ({
        target: `./node-core/${folder}`,
        from: `./node-core/${from}`,
        message: `imports run down the layers: ${folder}/ and ${from}/ are peers (${layer.name}), and ${folder}/ is not one that may import ${from}/. Move what both need down a layer.`,
      })),
    ]
  }),
)
const outerZones = [
  {
    target: './node-core',
    from: ['./main', './preload', './renderer'],
    message: 'node-core is under the app: it cannot import main/, preload/ or renderer/.',
  },
  {
    target: './contract',
    from: ['./main', './preload', './renderer', './node-core'],
    message: 'contract/ is type-only and shared by every layer: it imports nothing of the project.',
  },
]

export default tseslint.config(
  {
    ignores: [
      'out/**',
      'dist/**',
      'node_modules/**',
      'test/lint/fixtures/**',
      '**/testdata/**',
      'build/**/*.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...pluginVue.configs['flat/recommended'],
  {
    files: ['**/*.vue'],
    languageOptions: { parserOptions: { parser: tseslint.parser } },
  },
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'vue/multi-word-component-names': 'off',
      'vue/max-attributes-per-line': 'off',
      'vue/singleline-html-element-content-newline': 'off',
      'vue/html-self-closing': 'off',
      'vue/html-indent': 'off',
      'vue/html-closing-bracket-newline': 'off',
      'vue/multiline-html-element-content-newline': 'off',
    },
  },
  // Node code: main, preload, node-core, tests, config files, build scripts.
  {
    files: ['main/**', 'preload/**', 'node-core/**', 'test/**', '*.config.*', '.ci/**', 'build/**'],
    languageOptions: { globals: { ...globals.node } },
  },
  // Import directions between node-core's folders, resolved as files (not matched as text).
  {
    files: ['node-core/**/*.ts', 'contract/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'] })],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones: [...layerZones, ...outerZones] }],
    },
  },
  // node-core: no Electron, no Vue, no DOM. It must run headless in plain Node.
  {
    files: ['node-core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [NO_ELECTRON_OR_VUE],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...domGlobals.map((name) => ({
          name,
          message: `node-core has no DOM: '${name}' is a browser global (DESIGN.md).`,
        })),
      ],
    },
  },
  // Below the gRPC layer: no grpc-js. Error codes live in kernel/, the server serves a port.
  {
    files: ['node-core/{kernel,raft,wal,snap,mvcc,transport,server}/**/*.ts', 'node-core/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [NO_ELECTRON_OR_VUE, NO_GRPC],
        },
      ],
    },
  },
  // node-core/raft: a pure, deterministic state machine.
  {
    files: ['node-core/raft/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            NO_ELECTRON_OR_VUE,
            bareModules(
              bareBuiltins,
              'the raft core is pure: no Node builtins (no I/O). Take what you need as input.',
            ),
            NO_GRPC,
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...domGlobals.map((name) => ({
          name,
          message: `node-core has no DOM: '${name}' is a browser global (DESIGN.md).`,
        })),
        ...[
          'Date',
          'performance',
          'setTimeout',
          'setInterval',
          'setImmediate',
          'clearTimeout',
          'clearInterval',
          'clearImmediate',
          'queueMicrotask',
          'process',
          'require',
          'Buffer',
          'crypto',
        ].map((name) => ({
          name,
          message: `the raft core is deterministic: no '${name}'. Time arrives as tick(), randomness from the injected PRNG.`,
        })),
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'Math',
          property: 'random',
          message: 'the raft core is deterministic: use the injected seeded PRNG, not Math.random.',
        },
      ],
    },
  },
  // renderer: a web page. No Node, no Electron: it reaches the world only through the contract.
  {
    files: ['renderer/**/*.ts', 'renderer/**/*.vue'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            bareModules(
              [...bareBuiltins, 'electron'],
              'the renderer is a web page: no Node builtins and no Electron; use the API contract.',
            ),
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...['process', 'require', 'Buffer', '__dirname', '__filename', 'global'].map((name) => ({
          name,
          message: `the renderer is a web page: '${name}' is a Node global.`,
        })),
      ],
    },
  },
)
