// Lint for the whole tree: typescript-eslint's recommended rules, the import boundaries of
// ARCHITECTURE.md, and no import cycles inside the server. Formatting is Prettier's (`npm run lint` checks both).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import svelte from 'eslint-plugin-svelte';
import tseslint from 'typescript-eslint';

/** Where each folder may not reach (ARCHITECTURE.md): `target` may not import from `from`. */
const boundary = (target, from, why) => ({ target, from, message: why });

export default tseslint.config(
  { ignores: ['dist/', '.bench/', 'node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { 'import-x': importX },
    settings: {
      ...importX.flatConfigs.typescript.settings,
      'import-x/resolver': undefined,
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Matching control characters is the point wherever untrusted text is checked or escaped.
      'no-control-regex': 'off',
      // A variable a cleanup hook reads before the one assignment that follows it stays `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            boundary('./src', './test', 'nothing in src/ imports the tests'),
            boundary('./src', './bench', 'nothing in src/ imports the benchmarks'),
            boundary('./src', './scripts', 'nothing in src/ imports the build scripts'),
            boundary('./src/shared', './src/server', 'shared/ is what both sides of a wire agree on: it imports only Node and typebox'),
            boundary('./src/shared', './src/runner', 'shared/ imports only Node and typebox'),
            boundary('./src/shared', './src/cli', 'shared/ imports only Node and typebox'),
            boundary('./src/runner', './src/server', 'the runner runs on other machines: it never imports the server'),
            boundary('./src/runner', './src/cli', 'the runner does not depend on the CLI'),
            boundary('./src/server', './src/cli', 'the server does not depend on the CLI'),
            boundary('./src/server', './src/runner', 'the server and the runner meet only in shared/'),
            boundary('./src/web', './src/server', 'the web UI imports only shared/'),
            boundary('./src/web', './src/runner', 'the web UI imports only shared/'),
            boundary('./src/web', './src/cli', 'the web UI imports only shared/'),
          ],
        },
      ],
    },
  },
  {
    // Client commands stay fast and server-free; `lazyaf server` loads the server lazily from this one file.
    files: ['src/cli/**/*.ts'],
    ignores: ['src/cli/commands/server.ts'],
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        { zones: [boundary('./src/cli', './src/server', 'the CLI reaches the server only through the lazy import in cli/commands/server.ts')] },
      ],
    },
  },
  {
    files: ['src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(?!node:|typebox$|\\./)', message: 'shared/ imports only Node, typebox and shared/' }] }],
    },
  },
  {
    // The agent adapters and the API's modules, one folder down, import the rest of shared/ by `../`.
    files: ['src/shared/agents/**/*.ts', 'src/shared/api/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^(?!node:|typebox$|\\./|\\.\\./(?!\\.\\.))', message: 'shared/ imports only Node, typebox and shared/' }] },
      ],
    },
  },
  {
    // Tests and benchmarks read JSON answers of every shape.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['src/server/**/*.ts'],
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  // The web UI: Svelte components and rune modules, their <script lang="ts"> read by the TypeScript parser.
  ...svelte.configs.recommended,
  {
    files: ['src/web/**/*.svelte', 'src/web/**/*.svelte.ts'],
    languageOptions: {
      parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] },
    },
    rules: {
      // svelte-check (TypeScript) already knows every name; ESLint's own check knows no browser globals.
      'no-undef': 'off',
      // Svelte's own prefer-const leaves `let { a } = $props()` alone, the idiom of the docs.
      'prefer-const': 'off',
      'svelte/prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // SvelteKit's rule: this app has its own router (lib/router.svelte.ts) and plain hrefs.
      'svelte/no-navigation-without-resolve': 'off',
    },
  },
  prettier,
  ...svelte.configs.prettier,
);
