/**
 * Queue part of `npm run bench`: P1 dispatch latency, P2 no-op jobs per second through the whole
 * HTTP cycle, P4 job received → command started with a warm repo cache (E1: the same with a cached
 * `npm ci` setup, as a ratio), F1 a task of 8 jobs on 8 runners against one job alone, P5 10,000 simulated runners heartbeating and
 * long-polling (bench/many-runners.ts). Every
 * server is a separate `lazyaf server` process.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { isFinished, type JobStatus } from '../src/shared/api.js';
import { PROTOCOL_VERSION, RunnerRoutes, type Assignment, type RegisterResponse } from '../src/shared/protocol.js';
import { isolatedGitEnv } from './lib/git-env.js';
import { makeTempDir, percentile, removeTempDir, run, stopChild, totalCpu, track } from './lib/proc.js';
import { wholeNumberFromEnv, type BenchContext, type BenchPart, type Figure, type PartResult } from './lib/report.js';
import { manyRunners as fleet, type ManyRunnersResult } from './many-runners.js';
import { ROOT, startLazyaf, type ServerProcess } from './lib/servers.js';
import type { ResolvedEnvironment } from '../src/shared/environment.js';
import { environment, envRelay, nodeProject } from '../test/env-helpers.js';

export const ADMIN = 'lzadm_bench_admin_token';

/** Keep-alive connections, as a runner keeps them; plain node:http costs the bench far less CPU than fetch. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

export function call<T>(url: string, method: string, token: string, body?: unknown): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: http.OutgoingHttpHeaders = { authorization: `Bearer ${token}` };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    const req = http.request(url, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, body: (text ? JSON.parse(text) : null) as T });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export interface Setup {
  server: ServerProcess;
  registrationToken: string;
  repoId: string;
  dir: string;
}

/** A server with one repo (`files` small files on main), pushed with the real git. */
export async function setup(ctx: BenchContext, name: string, env: NodeJS.ProcessEnv, files = 20, extra: Record<string, string> = {}): Promise<Setup> {
  const dir = makeTempDir(`lazyaf-bench-${name}-`);
  const home = path.join(dir, 'home');
  fs.mkdirSync(home);
  const gitEnv = { ...isolatedGitEnv(home), ...env };
  const server = await startLazyaf(path.join(dir, 'data'), ADMIN, gitEnv);
  const registrationToken = fs.readFileSync(path.join(dir, 'data', 'registration_token'), 'utf8').trim();
  const repo = await call<{ id: string; clone_url: string }>(`${server.url}/api/repos`, 'POST', ADMIN, { name: 'bench' });
  const src = path.join(dir, 'src');
  fs.mkdirSync(path.join(src, 'files'), { recursive: true });
  for (let i = 0; i < files; i++) fs.writeFileSync(path.join(src, 'files', `f${i}.txt`), `file ${i}\n`.repeat(20));
  for (const [name, content] of Object.entries(extra)) fs.writeFileSync(path.join(src, name), content);
  const git = (args: string[]) => run('git', args, { cwd: src, env: gitEnv });
  await git(['init', '-q', '-b', 'main']);
  await git(['add', '-A']);
  await git(['commit', '-q', '-m', 'seed']);
  const url = new URL(repo.body.clone_url);
  url.username = 'x';
  url.password = ADMIN;
  await git(['push', '-q', url.toString(), 'main']);
  ctx.log(`${name}: server ${server.url}, repo with ${files} files`);
  return { server, registrationToken, repoId: repo.body.id, dir };
}

export async function teardown(s: Setup): Promise<void> {
  await s.server.stop();
  removeTempDir(s.dir);
}

async function register(s: Setup, name: string): Promise<RegisterResponse> {
  const r = await call<RegisterResponse>(`${s.server.url}${RunnerRoutes.register}`, 'POST', s.registrationToken, { name, protocol_version: PROTOCOL_VERSION });
  if (r.status !== 201) throw new Error(`register: ${r.status}`);
  return r.body;
}

async function submit(s: Setup, title: string, command = 'true'): Promise<string> {
  const r = await call<{ id: string }>(`${s.server.url}/api/jobs`, 'POST', ADMIN, { repo_id: s.repoId, title, command });
  if (r.status !== 201) throw new Error(`submit: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id;
}

async function complete(s: Setup, a: Assignment): Promise<void> {
  const r = await call(`${s.server.url}${RunnerRoutes.complete(a.attempt_id)}`, 'POST', a.job_token, { outcome: 'succeeded', exit_code: 0, commit: null });
  if (r.status !== 200) throw new Error(`complete: ${r.status}`);
}

/** P1: an idle runner is already waiting in its long-poll when the job is submitted. */
async function dispatchLatency(ctx: BenchContext): Promise<{ p50: number; p99: number; n: number }> {
  const s = await setup(ctx, 'p1', {});
  try {
    const samples = await dispatchSamples(s, await register(s, 'p1'), 300);
    return { p50: percentile(samples, 50), p99: percentile(samples, 99), n: samples.length };
  } finally {
    await teardown(s);
  }
}

/** `n` P1 samples (after 20 left out to warm up), each a job submitted while the runner's poll waits. */
async function dispatchSamples(s: Setup, runner: RegisterResponse, n: number, warmUp = 20): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n + warmUp; i++) {
    const received = call<Assignment>(`${s.server.url}${RunnerRoutes.poll}`, 'POST', runner.token, { wait_ms: 10_000 }).then((r) => ({
      r,
      at: performance.now(),
    }));
    // Let the poll reach the server and start waiting.
    await new Promise((r) => setTimeout(r, 5));
    const t0 = performance.now();
    await submit(s, `p1-${i}`);
    const { r, at } = await received;
    if (r.status !== 200) throw new Error(`poll answered ${r.status}`);
    if (i >= warmUp) samples.push(at - t0);
    await complete(s, r.body);
  }
  return samples;
}

interface ThroughputRun {
  jobsPerSecond: number;
  jobs: number;
  seconds: number;
  serverCpuPercent: number;
  clientCpuPercent: number;
}

/** P2: 20 runner clients take no-op jobs through poll → one log chunk → complete while a submitter keeps the queue fed. */
async function throughput(ctx: BenchContext): Promise<ThroughputRun> {
  const s = await setup(ctx, 'p2', {});
  try {
    const runners = await Promise.all(Array.from({ length: 20 }, (_, i) => register(s, `p2-${i}`)));
    return await throughputRun(s, runners, 3000);
  } finally {
    await teardown(s);
  }
}

async function throughputRun(s: Setup, runners: RegisterResponse[], total: number): Promise<ThroughputRun> {
  let submitted = 0;
  let done = 0;
  const cpu0 = { server: totalCpu(s.server.pid), bench: totalCpu('self') };
  const t0 = performance.now();
  const submitters = Array.from({ length: 4 }, async () => {
    while (submitted < total) {
      submitted += 1;
      await submit(s, `p2-${submitted}`);
    }
  });
  const workers = runners.map(async (runner) => {
    while (done < total) {
      const r = await call<Assignment>(`${s.server.url}${RunnerRoutes.poll}`, 'POST', runner.token, { wait_ms: 200 });
      if (r.status === 204) continue;
      const a = r.body;
      await call(`${s.server.url}${RunnerRoutes.logs(a.attempt_id)}`, 'POST', a.job_token, { seq: 1, data: 'ok\n' });
      await complete(s, a);
      done += 1;
    }
  });
  await Promise.all([...submitters, ...workers]);
  const seconds = (performance.now() - t0) / 1000;
  const serverCpu = totalCpu(s.server.pid) - cpu0.server;
  const benchCpu = totalCpu('self') - cpu0.bench;
  return {
    jobsPerSecond: total / seconds,
    jobs: total,
    seconds,
    serverCpuPercent: (serverCpu / seconds) * 100,
    clientCpuPercent: (benchCpu / seconds) * 100,
  };
}

/**
 * BENCH_AB=PATH: P1 and P2 against this build and the build whose `dist/cli/main.js` is PATH, both
 * servers up at once and their rounds interleaved (a P2 batch of 300 jobs and 30 P1 samples each,
 * ROUNDS times), so that load from elsewhere on a shared machine falls on both alike; run one after
 * the other, minutes apart, the two differed more than a change did. The ratios are this build's
 * figure over the other's. BENCH_AB_NODE_ARGS gives the other server node options of its own
 * (BENCH_AB set to this build's own dist/cli/main.js then compares two settings of one build).
 */
async function interleavedAB(ctx: BenchContext, otherCli: string, rounds = 8): Promise<Figure[]> {
  const arms: { name: string; s: Setup; p1: RegisterResponse; p2: RegisterResponse[]; samples: number[]; cpuMs: number; jobs: number; seconds: number }[] = [];
  const saved = { cli: process.env.BENCH_SERVER_CLI, nodeArgs: process.env.BENCH_SERVER_NODE_ARGS };
  const restore = (name: string, value: string | undefined) => {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  };
  try {
    for (const [name, cli, nodeArgs] of [
      ['this', undefined, saved.nodeArgs],
      ['other', otherCli, process.env.BENCH_AB_NODE_ARGS ?? saved.nodeArgs],
    ] as const) {
      restore('BENCH_SERVER_CLI', cli);
      restore('BENCH_SERVER_NODE_ARGS', nodeArgs);
      const s = await setup(ctx, `ab-${name}`, {});
      arms.push({ name, s, p1: await register(s, 'p1'), p2: [], samples: [], cpuMs: 0, jobs: 0, seconds: 0 });
    }
  } finally {
    restore('BENCH_SERVER_CLI', saved.cli);
    restore('BENCH_SERVER_NODE_ARGS', saved.nodeArgs);
  }
  try {
    for (const arm of arms) arm.p2 = await Promise.all(Array.from({ length: 20 }, (_, i) => register(arm.s, `p2-${i}`)));
    // A first round of each warms the servers up and is left out.
    for (let round = 0; round <= rounds; round++) {
      for (const arm of round % 2 === 0 ? arms : [...arms].reverse()) {
        const samples = await dispatchSamples(arm.s, arm.p1, 30, round === 0 ? 10 : 0);
        const run = await throughputRun(arm.s, arm.p2, 300);
        if (round === 0) continue;
        arm.samples.push(...samples);
        arm.cpuMs += (run.serverCpuPercent / 100) * run.seconds * 1000;
        arm.jobs += run.jobs;
        arm.seconds += run.seconds;
      }
    }
  } finally {
    for (const arm of arms) await teardown(arm.s);
  }
  const [self, other] = arms as [(typeof arms)[0], (typeof arms)[0]];
  const fig = (metric: string, f: (a: typeof self) => number, unit: Figure['unit'], digits: number): Figure => ({
    metric: `${metric}, this build ÷ the other`,
    value: f(self) / f(other),
    unit: 'x',
    raw: `${f(self).toFixed(digits)} ${unit} vs ${f(other).toFixed(digits)} ${unit}`,
  });
  return [
    fig('AB P1 p50', (a) => percentile(a.samples, 50), 'ms', 2),
    fig('AB P1 p99', (a) => percentile(a.samples, 99), 'ms', 2),
    fig('AB P2 jobs/s', (a) => a.jobs / a.seconds, 'jobs/s', 0),
    fig('AB P2 server CPU a job', (a) => a.cpuMs / a.jobs, 'ms', 3),
  ];
}

/**
 * P4: a real `lazyaf runner`; the command records when it started. Measured from the claim
 * (the attempt's start, just before the runner receives the job) to that moment, after a first
 * job has warmed the runner's repo cache.
 */
async function runnerStartup(ctx: BenchContext): Promise<{ p50: number; max: number; n: number }> {
  const s = await setup(ctx, 'p4', {}, 500);
  const workdir = path.join(s.dir, 'runner');
  const runner = track(
    spawn(process.execPath, [path.join(ROOT, 'dist', 'cli', 'main.js'), 'runner', '--server', s.server.url, '--name', 'p4', '--workdir', workdir], {
      env: { ...process.env, LAZYAF_TOKEN: s.registrationToken },
      stdio: 'ignore',
    }),
  );
  try {
    return await warmStarts(s, 'p4', 15);
  } finally {
    runner.kill('SIGKILL');
    await teardown(s);
  }
}

/** Polls `url` (a job or a task) until its status says it ended; every 10 ms, a small share of a run of seconds. */
async function untilEnded(url: string, ended: (status: string) => boolean): Promise<void> {
  for (;;) {
    const r = await call<{ status: string }>(url, 'GET', ADMIN);
    if (r.status !== 200) throw new Error(`${url}: ${r.status}`);
    if (ended(r.body.status)) return;
    await new Promise((res) => setTimeout(res, 10));
  }
}

/**
 * F1: a task of 8 command jobs on 8 process runners, submit → all 8 finished, against one job
 * alone on the same runners, as a ratio (ideal 1x with a core per runner; on fewer cores the jobs
 * share them). Each job writes a file, so each commits and pushes its branch. The rounds alternate
 * (one job, then a task), so load from elsewhere falls on both alike; a first task warms every
 * runner's repo cache.
 */
async function taskFanOut(ctx: BenchContext, rounds = 5): Promise<{ single: number; task: number; ratio: number; cores: number; rounds: number }> {
  const s = await setup(ctx, 't1', {});
  const runners = Array.from({ length: 8 }, (_, i) =>
    track(
      spawn(
        process.execPath,
        [path.join(ROOT, 'dist', 'cli', 'main.js'), 'runner', '--server', s.server.url, '--name', `t1-${i}`, '--workdir', path.join(s.dir, `runner-${i}`)],
        {
          env: { ...process.env, LAZYAF_TOKEN: s.registrationToken },
          stdio: 'ignore',
        },
      ),
    ),
  );
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const st = await call<{ idle_runners: number }>(`${s.server.url}/api/runners/status`, 'GET', ADMIN);
      if (st.body.idle_runners >= 8) break;
      if (Date.now() > deadline) throw new Error(`only ${st.body.idle_runners} of 8 runners idle after 60 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const command = 'echo "$LAZYAF_JOB_ID" > answer.txt';
    const runTask = async (title: string): Promise<number> => {
      const t0 = performance.now();
      const r = await call<{ id: string }>(`${s.server.url}/api/tasks`, 'POST', ADMIN, { repo_id: s.repoId, title, command, count: 8 });
      if (r.status !== 201) throw new Error(`task: ${r.status} ${JSON.stringify(r.body)}`);
      await untilEnded(`${s.server.url}/api/tasks/${r.body.id}`, (status) => status === 'finished');
      return performance.now() - t0;
    };
    const runOne = async (title: string): Promise<number> => {
      const t0 = performance.now();
      const id = await submit(s, title, command);
      await untilEnded(`${s.server.url}/api/jobs/${id}`, (status) => isFinished(status as JobStatus));
      return performance.now() - t0;
    };
    await runTask('t1-warm');
    const single: number[] = [];
    const task: number[] = [];
    for (let i = 0; i < rounds; i++) {
      single.push(await runOne(`t1-one-${i}`));
      task.push(await runTask(`t1-task-${i}`));
    }
    const p50 = { single: percentile(single, 50), task: percentile(task, 50) };
    return { ...p50, ratio: p50.task / p50.single, cores: os.availableParallelism(), rounds };
  } finally {
    for (const r of runners) r.kill('SIGKILL');
    await teardown(s);
  }
}

/** A node_modules the size of a mid-sized project's (this repository's has about 12,000 files), made without the registry. */
const BIG_MODULES = 20_000;
const FILL_MODULES = `const fs = require('fs'); const body = 'x'.repeat(2048);
for (let i = 0; i < Number(process.argv[2]); i++) { const d = 'node_modules/p' + (i % 100); fs.mkdirSync(d, { recursive: true }); fs.writeFileSync(d + '/f' + i + '.js', body); }
`;

/**
 * E1: P4 on a repo whose setup is `npm ci` of a real project (one package from the npm registry),
 * cached by `node_modules` and the lockfile: from the second job on the runner restores the cache
 * instead of running setup. Against the same repo without an environment, as a ratio. Each arm has
 * its server, relay (which hands the runner the environment when the server's assignment carries
 * none) and runner, and their jobs alternate: on a shared machine a burst of load then falls on
 * both arms alike (run one after the other, the ratio swung from 0.5x to 2x between runs).
 */
async function setupStartup(
  ctx: BenchContext,
  setupCommand = 'npm ci --no-audit --no-fund',
  extraFiles: Record<string, string> = {},
  /** Shell run by each job after it prints when it started. */
  after = '',
): Promise<{ plain: number; withSetup: number; ratio: number; n: number; max: number }> {
  const project = { ...nodeProject('7.0.0'), ...extraFiles };
  const yml = `setup: ${setupCommand}\ncache:\n  paths: [node_modules]\n  key: [package-lock.json]\n`;
  const arms: { s: Setup; close: () => Promise<void> }[] = [];
  const arm = async (name: string, files: Record<string, string>, env: ResolvedEnvironment | undefined) => {
    const s = await setup(ctx, name, {}, 500, files);
    const relay = await envRelay(s.server, (a) => (env && !a.environment && !a.environment_error ? { environment: env } : undefined));
    const runner = track(
      spawn(
        process.execPath,
        [path.join(ROOT, 'dist', 'cli', 'main.js'), 'runner', '--server', relay.url, '--name', name, '--workdir', path.join(s.dir, 'runner')],
        { env: { ...process.env, LAZYAF_TOKEN: s.registrationToken }, stdio: 'ignore' },
      ),
    );
    const close = async () => {
      // A drain: the runner waits for the cache's spare copies it is still making.
      await stopChild(runner, 30_000);
      await relay.close();
      await teardown(s);
    };
    arms.push({ s, close });
    return s;
  };
  try {
    const plain = await arm('e1-plain', project, undefined);
    const env = environment({ setup: [setupCommand], cache: { paths: ['node_modules'], key: ['package-lock.json'] } });
    const withSetup = await arm('e1-setup', { ...project, '.lazyaf.yml': yml }, env);
    const samples = { plain: [] as number[], withSetup: [] as number[] };
    // The first job of each clones, and the setup arm's runs npm ci: left out.
    for (let i = 0; i <= 15; i++) {
      const a = await commandStartMs(plain, `e1-plain-${i}`, after);
      const b = await commandStartMs(withSetup, `e1-setup-${i}`, after);
      if (i === 0) continue;
      samples.plain.push(a);
      samples.withSetup.push(b);
    }
    const [p, w] = [percentile(samples.plain, 50), percentile(samples.withSetup, 50)];
    return { plain: p, withSetup: w, ratio: w / p, n: samples.withSetup.length, max: Math.max(...samples.withSetup) };
  } finally {
    for (const a of arms) await a.close();
  }
}

/**
 * Runs `n + 1` jobs on the one runner of `s`, each printing when its command started, and returns
 * the time from each claim to that moment; the first job clones (a cold cache) and is left out.
 */
export async function warmStarts(s: Setup, name: string, n: number): Promise<{ p50: number; max: number; n: number }> {
  const samples: number[] = [];
  for (let i = 0; i <= n; i++) {
    const ms = await commandStartMs(s, `${name}-${i}`);
    if (i > 0) samples.push(ms);
  }
  return { p50: percentile(samples, 50), max: Math.max(...samples), n: samples.length };
}

/** Runs one job on the runner of `s` that prints when its command started: the time from its claim to that moment. */
async function commandStartMs(s: Setup, title: string, after = ''): Promise<number> {
  const id = await submit(s, title, `date +%s%3N${after}`);
  let job: { status: JobStatus; attempts: { started_at: string }[] };
  for (;;) {
    job = (await call<typeof job>(`${s.server.url}/api/jobs/${id}`, 'GET', ADMIN)).body;
    if (isFinished(job.status)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  if (job.status !== 'succeeded') throw new Error(`${title} job ${job.status}`);
  const log = (await call<{ content: string }>(`${s.server.url}/api/jobs/${id}/logs`, 'GET', ADMIN)).body.content;
  return Number(/^(\d{13})$/m.exec(log)?.[1]) - Date.parse(job.attempts[0]!.started_at);
}

/**
 * P5: a fleet of idle runners (bench/many-runners.ts): 10,000 at the default lease TTL (60 s: a
 * heartbeat every 20 s) against the targets, and 1,000 at a 15 s TTL (a heartbeat every 5 s), the
 * figure measured before, as the reference. Polls are the default 30 s long. (10,000 at 15 s,
 * BENCH_P5=10000@15, is 2,333 requests a second: on the shared 2-core machine its clients alone
 * could not open their 10,000 connections within two minutes.)
 */
async function manyRunners(ctx: BenchContext, count: number, ttlSeconds: number): Promise<ManyRunnersResult> {
  // The whole fleet registers at once, well past the default registration burst.
  const s = await setup(ctx, `p5-${count}`, { LAZYAF_LEASE_TTL: String(ttlSeconds), LAZYAF_REGISTER_BURST: String(count) });
  try {
    return await fleet({ server: s.server, registrationToken: s.registrationToken, adminToken: ADMIN }, count, ttlSeconds, ctx.log);
  } finally {
    await teardown(s);
  }
}

export const queuePart: BenchPart = {
  name: 'queue',
  description: 'dispatch latency, job throughput, runner start-up, 10,000 runners',
  async run(ctx: BenchContext): Promise<PartResult> {
    const figures: Figure[] = [];
    const details: Record<string, unknown> = {};
    // BENCH_ONLY=P1,P4 runs just those measurements.
    const only = process.env.BENCH_ONLY?.split(',').map((x) => x.trim().toUpperCase());
    const ab = process.env.BENCH_AB;
    if (ab) {
      const rounds = wholeNumberFromEnv('BENCH_AB_ROUNDS', 8, 1, 100);
      return { part: 'queue', figures: await interleavedAB(ctx, path.resolve(ab), rounds), details };
    }
    const attempt = async <T>(name: string, fn: () => Promise<T>, ok: (v: T) => void) => {
      if (only && !only.includes(name.split(' ')[0]!)) return;
      try {
        const v = await fn();
        details[name] = v;
        ok(v);
      } catch (err) {
        figures.push({ metric: name, value: NaN, unit: 'ms', error: (err as Error).message });
      }
    };
    await attempt(
      'P1 dispatch',
      () => dispatchLatency(ctx),
      (v) => {
        figures.push({ metric: 'P1 submit → waiting runner, p50', value: v.p50, unit: 'ms', target: 1, raw: `${v.n} jobs` });
        figures.push({ metric: 'P1 submit → waiting runner, p99', value: v.p99, unit: 'ms', target: 3 });
      },
    );
    await attempt(
      'P2 throughput',
      () => throughput(ctx),
      (v) => {
        figures.push({
          metric: 'P2 no-op jobs/s, 20 runner clients',
          value: v.jobsPerSecond,
          unit: 'jobs/s',
          min: 1000,
          // CPU per job as well: on a shared machine it varies less between runs than jobs/s.
          raw: `${v.jobs} jobs in ${v.seconds.toFixed(2)} s; CPU: server ${v.serverCpuPercent.toFixed(0)}% of a core (${((v.serverCpuPercent * 10) / v.jobsPerSecond).toFixed(2)} ms a job), bench clients ${v.clientCpuPercent.toFixed(0)}%`,
        });
      },
    );
    await attempt(
      'P4 runner start-up',
      () => runnerStartup(ctx),
      (v) => {
        figures.push({
          metric: 'P4 job received → command started (warm), p50',
          value: v.p50,
          unit: 'ms',
          target: 100,
          raw: `max ${v.max.toFixed(0)} ms over ${v.n} jobs`,
        });
      },
    );
    const big = { setupCommand: `node fill-modules.js ${BIG_MODULES}`, files: { 'fill-modules.js': FILL_MODULES } };
    const e1Variants: { name: string; metric: string; target?: number; run: () => ReturnType<typeof setupStartup> }[] = [
      {
        name: 'E1 setup cached, 20,000 files',
        metric: `E1 the same with a node_modules of ${BIG_MODULES.toLocaleString('en')} files ÷ no setup, p50`,
        target: 1.2,
        run: () => setupStartup(ctx, big.setupCommand, big.files),
      },
      {
        // No target: every job changes its copy, so each needs a new one, copied while the one before runs.
        name: 'E1 setup cached, 20,000 files, each job writing into them',
        metric: 'E1 the same, each job writing into its node_modules ÷ no setup, p50',
        run: () => setupStartup(ctx, big.setupCommand, big.files, '; mkdir -p node_modules/p0 && echo changed > node_modules/p0/f0.js'),
      },
      { name: 'E1 setup cached', metric: 'E1 job received → command started, setup npm ci cached ÷ no setup, p50', target: 1.2, run: () => setupStartup(ctx) },
    ];
    for (const variant of e1Variants) {
      await attempt(variant.name, variant.run, (v) => {
        figures.push({
          metric: variant.metric,
          value: v.ratio,
          unit: 'x',
          ...(variant.target === undefined ? {} : { target: variant.target }),
          raw: `${v.withSetup.toFixed(0)} ms with the cache restored, ${v.plain.toFixed(0)} ms without setup (max ${v.max.toFixed(0)} ms over ${v.n} jobs)`,
        });
      });
    }
    await attempt(
      'F1 task fan-out',
      () => taskFanOut(ctx),
      (v) => {
        figures.push({
          metric: 'F1 task of 8 command jobs on 8 runners: submit → all 8 finished, ÷ one job alone, p50',
          value: v.ratio,
          unit: 'x',
          raw: `${v.task.toFixed(0)} ms for the task, ${v.single.toFixed(0)} ms for one job (${v.rounds} rounds each), on ${v.cores} cores`,
        });
      },
    );
    // BENCH_P5=COUNT@TTL,... (runners at a lease TTL in seconds) runs those instead.
    const p5Runs = (process.env.BENCH_P5 || '10000@60,1000@15').split(',').map((run) => {
      const m = /^\s*(\d+)@(\d+)\s*$/.exec(run);
      if (!m || Number(m[1]) < 1 || Number(m[1]) > 100_000 || Number(m[2]) < 3) throw new Error(`BENCH_P5: "${run}" is not RUNNERS@TTL_SECONDS`);
      return { count: Number(m[1]), ttl: Number(m[2]) };
    });
    for (const { count, ttl } of p5Runs) {
      const n = count.toLocaleString('en');
      await attempt(
        `P5 ${n} runners, TTL ${ttl} s`,
        () => manyRunners(ctx, count, ttl),
        (v) => {
          const target = count >= 10_000;
          figures.push({
            metric: `P5 heartbeat round trip, ${n} runners (lease TTL ${ttl} s), p99`,
            value: v.p99,
            unit: 'ms',
            ...(target ? { target: 50 } : {}),
            raw: `p50 ${v.p50.toFixed(1)} ms, ${v.heartbeats} heartbeats and ${v.polls} polls answered, ${v.errors} failed; runner list page p99 ${v.listP99.toFixed(1)} ms`,
          });
          figures.push({
            metric: `P5 idle server CPU, ${n} runners (lease TTL ${ttl} s)`,
            value: v.serverCpuPercent,
            unit: '%',
            ...(target ? { target: 50 } : {}),
            raw: `of one core; ${v.cpuPerRequestUs.toFixed(0)} µs a request; clients: ${v.clients} processes at ${v.clientCpuPercent.toFixed(0)}%, loop delay p99 ${v.clientLoopDelayP99.toFixed(1)} ms`,
          });
        },
      );
    }
    return { part: 'queue', figures, details };
  },
};
