// A part of `npm run build` (scripts/build.js): bundles the runner's entry (src/cli/runner-main.ts) and the
// packages it uses into one file, dist/bundle/runner.mjs, which the runner image runs. Two levels
// below the root, like every module of dist/, so it finds package.json for its version.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/cli/runner-main.ts'],
  outfile: 'dist/bundle/runner.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // commander is CommonJS: its require() of Node's own modules needs a require in an ES module.
  banner: { js: "import { createRequire as lazyafCreateRequire } from 'node:module'; const require = lazyafCreateRequire(import.meta.url);" },
  legalComments: 'linked',
  logLevel: 'warning',
});
