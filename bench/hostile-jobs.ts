/**
 * Hostile jobs part of `npm run bench`: R9 and R10 of DESIGN.md (bench/hostile/jobs.ts says what
 * the jobs do). A real `lazyaf server` with two pool runners that must sandbox their jobs; the
 * runners offer `claude` (not installed: an agent job fails once claimed, which is all the
 * follow-up needs).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { removeTempDir } from './lib/proc.js';
import { jsonRequest } from './lib/raw-http.js';
import type { BenchContext, BenchPart, Figure, PartResult } from './lib/report.js';
import { jobAttacks, type JobAttackResult, type Probe } from './hostile/jobs.js';
import { Target } from './hostile/target.js';
import { seedRepo } from './hostile/world.js';

const ADMIN = 'lzadm_bench_hostile_jobs_admin_token';
const RUNNERS = 2;

async function runnersIdle(target: Target, count: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await jsonRequest<{ idle_runners: number }>(target.url, 'GET', '/api/runners/status', ADMIN);
    if (r.status === 200 && r.body.idle_runners >= count) return;
    await sleep(200);
  }
  throw new Error(`${count} pool runners did not become idle within ${timeoutMs / 1000} s`);
}

export const hostileJobsPart: BenchPart = {
  name: 'hostile-jobs',
  description: "R9 a job's huge tree and files read by the server, R10 a job forking, filling its tmpfs and holding connections",
  async run(ctx: BenchContext): Promise<PartResult> {
    const env = { LAZYAF_SANDBOX: 'require', LAZYAF_AGENTS: 'claude', LAZYAF_LONG_POLL: '5' };
    const { target, dir, gitEnv } = await Target.inTempDir('lazyaf-bench-hostile-jobs-', ADMIN, env, RUNNERS);
    try {
      await runnersIdle(target, RUNNERS);
      const repo = await seedRepo(target, 'hostile-jobs', dir, gitEnv);
      ctx.log(`server ${target.url} with ${RUNNERS} sandboxed runners; the jobs attack`);
      const result = await jobAttacks(target, repo, Number(new URL(target.url).port));
      for (const line of [...result.lost, ...result.serverErrors, ...target.crashes.map((c) => `crash after ${c.after}: ${c.how}`)]) ctx.log(line);
      ctx.log(`diff: ${result.diff.detail}; follow-up: ${result.followup.detail}; bystander: ${result.bystander.detail}`);
      ctx.log(`noisy job: ${JSON.stringify(result.attacker)}`);
      return { part: 'hostile-jobs', figures: figures(result, target), details: { ...result, crashes: target.crashes } };
    } finally {
      await target.stop();
      removeTempDir(dir);
    }
  },
};

function figures(r: JobAttackResult, target: Target): Figure[] {
  const count = (metric: string, value: number, raw?: string): Figure => ({ metric, value, unit: 'count', target: 0, raw });
  const check = (metric: string, c: { ok: boolean; detail: string }): Figure => ({
    metric,
    value: 0,
    unit: 'count',
    check: c.ok,
    raw: c.detail,
    ...(c.ok ? {} : { error: c.detail }),
  });
  const timed = (metric: string, p: Probe): Figure => ({
    metric,
    value: p.p99,
    unit: 'ms',
    target: 100,
    raw: `p50 ${p.p50.toFixed(1)} ms, max ${p.max.toFixed(0)} ms, ${p.probes} probes, ${p.failures} failed`,
  });
  return [
    count('R9/R10 crashes', target.crashes.length),
    count('R9/R10 server errors (5xx or no answer)', r.serverErrors.length),
    count('R9/R10 jobs lost', r.lost.length),
    check('R9 the diff of a 160,000-entry deep tree answers', r.diff),
    check('R9 an agent follow-up on a 600 MB README is claimed', r.followup),
    check('R10 another job succeeds beside a noisy one', r.bystander),
    timed('R10 /api/health p99 beside the noisy job', r.health),
    timed('R10 admin API (GET /api/jobs) p99 beside the noisy job', r.admin),
    count(
      'R10 connections the noisy job opened to the server',
      Number.isNaN(r.attacker.connected) ? 0 : r.attacker.connected,
      `of 2,000 attempts; ${r.attacker.refused} refused; job ${r.attacker.status}`,
    ),
    { metric: 'R10 what the noisy job wrote to its tmpfs', value: r.attacker.tmpfsMiB, unit: 'MiB', raw: 'LAZYAF_JOB_TMPFS caps it' },
  ];
}
