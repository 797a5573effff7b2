// A part of `npm run build` (scripts/build.js): bundles the runner's entry (src/cli/runner-main.ts)
// and the packages it uses into dist/bundle/runner.mjs, which the runner image runs. Two levels
// below the root, like every module of dist/, so it finds package.json for its version.
//
// Split: what only a job needs (runner.ts imports job.ts when the first job comes) goes into
// chunks beside it, so that an idle runner does not load it. The server's answers are checked by
// code generated from the protocol's schemas (answer-checks.js) rather than by typebox.
//
// A runner started from an earlier build loads that build's job chunk at its first job, so a build
// leaves earlier chunks where they are (their names carry a hash of their content) and removes
// only those no build has written for a week. outputs.json lists this build's files: the runner
// image takes those alone.
import path from 'node:path';
import process from 'node:process';
import { build } from 'esbuild';
import { answerChecksModule } from './answer-checks.js';
import { pruneEarlierOutputs } from './earlier-outputs.js';

const OUT = 'dist/bundle';
const ANSWER_CHECKS = path.resolve('src/runner/answer-checks.ts');

const generatedAnswerChecks = {
  name: 'generated-answer-checks',
  setup(b) {
    b.onResolve({ filter: /\/answer-checks\.js$/ }, (args) => {
      const target = path.resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts'));
      return target === ANSWER_CHECKS ? { path: target, namespace: 'answer-checks' } : undefined;
    });
    b.onLoad({ filter: /.*/, namespace: 'answer-checks' }, async () => ({
      contents: await answerChecksModule(),
      loader: 'js',
      resolveDir: process.cwd(),
    }));
  },
};

const result = await build({
  entryPoints: { runner: 'src/cli/runner-main.ts' },
  outdir: OUT,
  outExtension: { '.js': '.mjs' },
  // Beside the entry, at its depth: version.ts finds package.json two levels up from its module.
  chunkNames: '[name]-[hash]',
  splitting: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // commander is CommonJS: its require() of Node's own modules needs a require in an ES module.
  banner: { js: "import { createRequire as lazyafCreateRequire } from 'node:module'; const require = lazyafCreateRequire(import.meta.url);" },
  legalComments: 'linked',
  logLevel: 'warning',
  metafile: true,
  plugins: [generatedAnswerChecks],
});
pruneEarlierOutputs(
  OUT,
  Object.keys(result.metafile.outputs).map((f) => path.relative(OUT, f)),
);
