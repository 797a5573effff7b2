/**
 * CLI part of `npm run bench`: P9 a client command starting (`lazyaf --version`, `lazyaf list`)
 * against bare `node -e 0` in the same run, and P8 `jobs submit --wait` of a no-op job end to end,
 * CLI start included, on a server with a pool of one warm runner. Both run the installed binary
 * (dist/cli/main.js), as `npm link` does.
 */
import path from 'node:path';
import { isolatedGitEnv } from './lib/git-env.js';
import { median, run } from './lib/proc.js';
import type { BenchContext, BenchPart, Figure, PartResult } from './lib/report.js';
import { ADMIN, call, setup, teardown, type Setup } from './queue.js';
import { ROOT } from './lib/servers.js';

const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');

/** Starting processes is short and noisy: many samples, and the commands interleaved so drift hits each alike. */
const STARTS_PER_RUN = 10;

async function wallMs(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return (await run(process.execPath, args, { env, cwd: ROOT })).seconds * 1000;
}

/** Median wall time of each command, sampled in turns. */
async function interleaved(commands: Record<string, string[]>, env: NodeJS.ProcessEnv, samples: number): Promise<Record<string, number>> {
  const times = new Map<string, number[]>(Object.keys(commands).map((k) => [k, []]));
  for (const args of Object.values(commands)) await wallMs(args, env); // warm the file cache
  for (let i = 0; i < samples; i++) for (const [name, args] of Object.entries(commands)) times.get(name)!.push(await wallMs(args, env));
  return Object.fromEntries([...times].map(([name, t]) => [name, median(t)]));
}

/** P9: the same env for every command; `list` asks the bench server. */
async function clientStart(ctx: BenchContext, s: Setup, env: NodeJS.ProcessEnv): Promise<Record<string, number>> {
  const samples = STARTS_PER_RUN * ctx.runs;
  ctx.log(`P9: ${samples} starts each of node -e 0, lazyaf --version, lazyaf list`);
  return interleaved({ node: ['-e', '0'], version: [CLI, '--version'], list: [CLI, 'list'] }, { ...env, LAZYAF_SERVER: s.server.url }, samples);
}

/**
 * P8: `jobs submit --wait` of `true` after one warm-up job, so the runner's repo cache is warm;
 * also the job's own part of it (created → finished, from the server's timestamps), the rest
 * being the CLI's start and requests.
 */
async function submitWait(ctx: BenchContext, s: Setup, env: NodeJS.ProcessEnv): Promise<{ p50: number; max: number; n: number; jobP50: number }> {
  const r = await call(`${s.server.url}/api/pool`, 'PUT', ADMIN, { desired: 1 });
  if (r.status !== 200) throw new Error(`PUT /api/pool: ${r.status}`);
  const args = [CLI, 'jobs', 'submit', '--repo', 'bench', '--title', 'no-op', '--command', 'true', '--wait'];
  const cliEnv = { ...env, LAZYAF_SERVER: s.server.url };
  // The warm-up job waits for the pool runner to register, then clones.
  await run(process.execPath, args, { env: cliEnv, cwd: ROOT, timeoutMs: 120_000 });
  const n = STARTS_PER_RUN * ctx.runs;
  ctx.log(`P8: ${n} jobs submit --wait`);
  const samples: number[] = [];
  const jobMs: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await run(process.execPath, args, { env: cliEnv, cwd: ROOT });
    samples.push(r.seconds * 1000);
    const id = /Submitted job ([0-9a-f-]+)/.exec(r.stderr)?.[1];
    const job = (await call<{ created_at: string; finished_at: string }>(`${s.server.url}/api/jobs/${id}`, 'GET', ADMIN)).body;
    jobMs.push(Date.parse(job.finished_at) - Date.parse(job.created_at));
  }
  return { p50: median(samples), max: Math.max(...samples), n, jobP50: median(jobMs) };
}

export const cliPart: BenchPart = {
  name: 'cli',
  description: 'P9 client command start vs bare node, P8 jobs submit --wait of a no-op job on a warm runner',
  async run(ctx: BenchContext): Promise<PartResult> {
    const s = await setup(ctx, 'cli', {}, 20);
    // The CLI finds the token in LAZYAF_TOKEN; HOME is the bench's own, so no admin_token of a real server is read.
    const env = { ...isolatedGitEnv(path.join(s.dir, 'home')), LAZYAF_TOKEN: ADMIN };
    try {
      const start = await clientStart(ctx, s, env);
      const wait = await submitWait(ctx, s, env);
      const figures: Figure[] = [
        {
          metric: 'P9 lazyaf --version start vs node -e 0',
          value: start.version! / start.node!,
          unit: 'x',
          target: 2,
          raw: `lazyaf ${start.version!.toFixed(0)} ms / node ${start.node!.toFixed(0)} ms`,
        },
        {
          metric: 'P9 lazyaf list vs node -e 0',
          value: start.list! / start.node!,
          unit: 'x',
          target: 2,
          raw: `lazyaf ${start.list!.toFixed(0)} ms / node ${start.node!.toFixed(0)} ms`,
        },
        {
          metric: 'P8 jobs submit --wait, no-op job, warm runner, p50',
          value: wait.p50,
          unit: 'ms',
          target: 150,
          raw: `max ${wait.max.toFixed(0)} ms over ${wait.n} jobs; the job created → finished p50 ${wait.jobP50.toFixed(0)} ms; node -e 0 ${start.node!.toFixed(0)} ms`,
        },
      ];
      return { part: 'cli', figures, details: { startMs: start, submitWait: wait } };
    } finally {
      await teardown(s);
    }
  },
};
