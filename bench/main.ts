/**
 * `npm run bench [-- part ...]`: runs the benchmark parts (all by default) and prints one summary
 * table of figures against the targets in DESIGN.md. Each part also writes
 * .bench/results-<part>.json. Settings: BENCH_RUNS (repetitions, default 3; medians are reported).
 *
 * To add a part, add a module exporting a BenchPart and one line to PARTS.
 */
import path from 'node:path';
import { cleanupAll } from './lib/proc.js';
import { printFigures, wholeNumberFromEnv, writeResults, type BenchContext, type BenchPart, type PartResult } from './lib/report.js';
import { ROOT } from './lib/servers.js';

const PARTS: Record<string, () => Promise<BenchPart>> = {
  git: async () => (await import('./git.js')).gitPart,
  queue: async () => (await import('./queue.js')).queuePart,
  hostile: async () => (await import('./hostile.js')).hostilePart,
  'hostile-jobs': async () => (await import('./hostile-jobs.js')).hostileJobsPart,
  docker: async () => (await import('./docker.js')).dockerPart,
  cli: async () => (await import('./cli.js')).cliPart,
  ui: async () => (await import('./ui.js')).uiPart,
  agents: async () => (await import('./agents.js')).agentsPart,
  webhooks: async () => (await import('./webhooks.js')).webhooksPart,
  runners: async () => (await import('./runners.js')).runnersPart,
  watchers: async () => (await import('./watchers.js')).watchersPart,
};

function usage(): string {
  return `usage: npm run bench [-- PART ...]   parts: ${Object.keys(PARTS).join(', ')} (default: all)`;
}

function selectedParts(argv: string[]): string[] {
  const names = argv
    .flatMap((a) => a.split(','))
    .map((a) => a.trim())
    .filter(Boolean);
  if (names.includes('-h') || names.includes('--help')) {
    process.stdout.write(usage() + '\n');
    process.exit(0);
  }
  const unknown = names.filter((n) => !(n in PARTS));
  if (unknown.length > 0) throw new Error(`unknown bench part: ${unknown.join(', ')}\n${usage()}`);
  return names.length > 0 ? [...new Set(names)] : Object.keys(PARTS);
}

async function main(): Promise<void> {
  const names = selectedParts(process.argv.slice(2));
  const ctx: BenchContext = {
    root: ROOT,
    cacheDir: path.join(ROOT, '.bench'),
    runs: wholeNumberFromEnv('BENCH_RUNS', 3, 1, 50),
    log: (message) => process.stderr.write(`[bench] ${message}\n`),
  };
  const results: PartResult[] = [];
  const failed: string[] = [];
  for (const name of names) {
    const part = await PARTS[name]!();
    ctx.log(`part ${name}: ${part.description} (${ctx.runs} runs each)`);
    const started = performance.now();
    try {
      const result = await part.run(ctx);
      results.push(result);
      const file = writeResults(ctx, result);
      ctx.log(`part ${name} done in ${((performance.now() - started) / 1000).toFixed(1)} s; results in ${path.relative(ROOT, file)}`);
    } catch (err) {
      failed.push(name);
      process.stderr.write(`[bench] part ${name} failed: ${(err as Error).stack ?? String(err)}\n`);
    }
  }
  if (results.length > 0) {
    process.stdout.write('\n');
    printFigures(results);
  }
  if (failed.length > 0) throw new Error(`failed parts: ${failed.join(', ')}`);
}

process.on('exit', cleanupAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    process.stderr.write(`[bench] ${signal}: stopping\n`);
    cleanupAll();
    process.exit(130);
  });
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`[bench] ${err.message}\n`);
    process.exit(1);
  },
);
