// Lint rules per folder keep the environments apart (DESIGN.md, "Rules of the house"):
// node-core is plain Node (no electron, vue or DOM), node-core/raft is pure (no Node builtins, no
// clock, no timers, no Math.random), and the renderer is a web page (no Node, no electron).
// test/lint/boundaries.test.ts proves that each of these rules fires.
import { builtinModules } from 'node:module'
import js from '@eslint/js'
import pluginVue from 'eslint-plugin-vue'
import globals from 'globals'
import tseslint from 'typescript-eslint'

const nodeBuiltins = [...builtinModules.filter((m) => !m.startsWith('_')), 'node:*']
const nodeBuiltinPatterns = nodeBuiltins.flatMap((m) => (m.endsWith('*') ? [m] : [m, `${m}/*`]))

const domGlobals = Object.keys(globals.browser).filter((name) => !(name in globals.node))

const importBans = (names, message) => ({
  group: names,
  message,
})

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
  // Node code: main, preload, node-core, tests, config files.
  {
    files: ['main/**', 'preload/**', 'node-core/**', 'test/**', '*.config.*', '.ci/**'],
    languageOptions: { globals: { ...globals.node } },
  },
  // node-core: no Electron, no Vue, no DOM. It must run headless in plain Node.
  {
    files: ['node-core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            importBans(
              ['electron', 'electron/*', 'vue', 'vue/*', '@vue/*', 'pinia'],
              'node-core runs in plain Node: no Electron and no Vue here (DESIGN.md).',
            ),
          ],
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
  // node-core/raft: a pure, deterministic state machine.
  {
    files: ['node-core/raft/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            importBans(
              ['electron', 'electron/*', 'vue', 'vue/*', '@vue/*', 'pinia'],
              'node-core runs in plain Node: no Electron and no Vue here (DESIGN.md).',
            ),
            importBans(
              nodeBuiltinPatterns,
              'the raft core is pure: no Node builtins (no I/O). Take what you need as input.',
            ),
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
            importBans(
              [...nodeBuiltinPatterns, 'electron', 'electron/*'],
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
