import fs from 'node:fs';
import path from 'node:path';
import { bareRepoPath } from '../../src/server/git/bare.js';
import { PROTOCOL_VERSION, RunnerRoutes, type Assignment, type RegisterResponse } from '../../src/shared/protocol.js';
import { run } from '../lib/proc.js';
import { jsonRequest } from '../lib/raw-http.js';
import type { Tally, Target, Tier, Tokens } from './target.js';

/** Jobs the attack submits carry this label, which no runner has: they stay queued and never reach a fixture runner. */
export const NEVER_LABEL = 'hostile-never-claimed';

export interface SeededRepo {
  id: string;
  name: string;
  path: string;
  /** The tip of main and its parent. */
  main: string;
  parent: string;
}

/** The requests the bench makes as an honest client: a 5xx there counts like any other. */
export async function honest<T = any>(
  target: Target,
  tally: Tally,
  tier: Tier,
  what: string,
  method: string,
  urlPath: string,
  token: string | undefined,
  body?: unknown,
) {
  const r = await jsonRequest<T>(target.url, method, urlPath, token, body);
  const verdict = r.status >= 500 ? 'server error' : r.status === 0 ? 'no answer' : 'ok';
  tally.add({ group: 'honest traffic', name: what, tier, method, path: urlPath }, r.raw, verdict);
  return r;
}

/** A repo with two commits on main, pushed with the real git. */
export async function seedRepo(target: Target, name: string, dir: string, env: NodeJS.ProcessEnv): Promise<SeededRepo> {
  const created = await jsonRequest<{ id: string; clone_url: string }>(target.url, 'POST', '/api/repos', target.adminToken, { name });
  if (created.status !== 201) throw new Error(`creating repo ${name}: ${created.status} ${created.raw.body.toString()}`);
  const src = path.join(dir, `src-${name}`);
  fs.mkdirSync(src, { recursive: true });
  const git = (args: string[]) => run('git', args, { cwd: src, env });
  await git(['init', '-q', '-b', 'main']);
  for (const n of [1, 2]) {
    fs.writeFileSync(path.join(src, 'README.md'), `# ${name}\n\nrevision ${n}\n`);
    await git(['add', '-A']);
    await git(['commit', '-q', '-m', `revision ${n}`]);
  }
  const url = new URL(created.body.clone_url);
  url.username = 'x';
  url.password = target.adminToken;
  await git(['push', '-q', url.toString(), 'main']);
  const [main, parent] = (await git(['rev-parse', 'HEAD', 'HEAD~1'])).stdout.trim().split('\n') as [string, string];
  return { id: created.body.id, name, path: bareRepoPath(path.join(target.dataDir, 'repos'), created.body.id), main, parent };
}

/** A browser's session: its cookie (`name=value`) and CSRF token, from signing in with the admin token. */
export interface BrowserSession {
  cookie: string;
  csrf: string;
}

/** Signs in as the web UI does; waits out the sign-in limit (the attacks spend it) when it must. */
export async function signIn(target: Target, admin: string): Promise<BrowserSession> {
  for (let tries = 1; ; tries++) {
    const r = await jsonRequest<{ csrf_token: string }>(target.url, 'POST', '/api/session', undefined, { token: admin });
    if (r.status === 200) return { cookie: (r.raw.headers['set-cookie'] ?? '').split(';')[0]!, csrf: r.body.csrf_token };
    if (r.status !== 429 || tries === 3) throw new Error(`sign in: ${r.status} ${r.raw.body.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, Number(r.raw.headers['retry-after'] ?? 1) * 1000));
  }
}

export async function register(target: Target, registrationToken: string, name: string): Promise<RegisterResponse> {
  const r = await jsonRequest<RegisterResponse>(target.url, 'POST', RunnerRoutes.register, registrationToken, { name, protocol_version: PROTOCOL_VERSION });
  if (r.status !== 201) throw new Error(`register ${name}: ${r.status} ${r.raw.body.toString()}`);
  return r.body;
}

export async function submit(target: Target, repoId: string, title: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await jsonRequest<{ id: string }>(target.url, 'POST', '/api/jobs', target.adminToken, { repo_id: repoId, title, command: 'true', ...extra });
  if (r.status !== 201) throw new Error(`submit ${title}: ${r.status} ${r.raw.body.toString()}`);
  return r.body.id;
}

/**
 * Polls until this runner holds `jobId`. Any other job it is handed (left queued by an earlier
 * failure) is completed as failed so that it cannot block the bench.
 */
export async function claim(target: Target, runnerToken: string, jobId: string): Promise<Assignment> {
  for (let i = 0; i < 20; i++) {
    const r = await jsonRequest<Assignment>(target.url, 'POST', RunnerRoutes.poll, runnerToken, { wait_ms: 2000 });
    if (r.status === 204) continue;
    if (r.status !== 200) throw new Error(`poll: ${r.status} ${r.raw.body.toString()}`);
    if (r.body.job_id === jobId) return r.body;
    await jsonRequest(target.url, 'POST', RunnerRoutes.complete(r.body.attempt_id), r.body.job_token, {
      outcome: 'failed',
      exit_code: 1,
      error: 'cleared by the hostile bench',
    });
  }
  throw new Error(`job ${jobId} never reached its runner`);
}

/** Everything one round of attacks aims at; fresh tokens and attempts each round. */
export interface World {
  tokens: Tokens;
  repo: SeededRepo;
  other: SeededRepo;
  /** The attempt the `job` tier holds (on `repo`), and the one `job-other` holds (on `other`). */
  attempt: Assignment;
  otherAttempt: Assignment;
  /** An attempt of `repo` that has ended: its token is dead. */
  deadAttempt: Assignment;
  /** An attempt of `repo` whose job was cancelled and reported so, while its runner keeps heartbeating. */
  cancelledAttempt: Assignment;
  runnerId: string;
  /** Throwaway targets for the destructive admin requests. */
  spareRepoId: string;
  spareRunnerId: string;
  parkedJobId: string;
  /** A browser signed in with the admin token (its cookie takes the admin tier's place, with the CSRF token on writes). */
  session: BrowserSession;
  /** A fresh name, for requests that create things. */
  unique: (prefix: string) => string;
  /** The next log sequence number of `attempt`, and the last one handed out. */
  nextSeq: () => number;
  lastSeq: () => number;
  /** Every token made for this round, to look for in the server's log. */
  secrets: string[];
  /** Stops the fixture runners' heartbeats and ends their attempts. */
  finish: (tally: Tally) => Promise<void>;
}

export async function makeWorld(
  target: Target,
  tally: Tally,
  base: { admin: string; registration: string; repo: SeededRepo; other: SeededRepo },
  round: number,
): Promise<World> {
  const { registration } = base;
  const holder = await register(target, registration, `holder-${round}`);
  const otherHolder = await register(target, registration, `other-holder-${round}`);
  const ender = await register(target, registration, `ender-${round}`);
  const stubborn = await register(target, registration, `stubborn-${round}`);
  const attacker = await register(target, registration, `attacker-${round}`);
  const spare = await register(target, registration, `spare-${round}`);
  const attempt = await claim(target, holder.token, await submit(target, base.repo.id, `held ${round}`));
  const otherAttempt = await claim(target, otherHolder.token, await submit(target, base.other.id, `held elsewhere ${round}`));
  const deadAttempt = await claim(target, ender.token, await submit(target, base.repo.id, `ended ${round}`));
  await honest(target, tally, 'job-dead', 'complete (the attempt that ends)', 'POST', RunnerRoutes.complete(deadAttempt.attempt_id), deadAttempt.job_token, {
    outcome: 'succeeded',
    exit_code: 0,
    commit: null,
  });
  const cancelledAttempt = await claim(target, stubborn.token, await submit(target, base.repo.id, `cancelled ${round}`));
  await honest(target, tally, 'admin', 'cancel a running job', 'POST', `/api/jobs/${cancelledAttempt.job_id}/cancel`, base.admin);
  // A cancelled attempt stays live for the cancel grace, until its runner reports what it left: after the report its token is dead.
  await honest(target, tally, 'job-cancelled', 'report the cancel', 'POST', RunnerRoutes.complete(cancelledAttempt.attempt_id), cancelledAttempt.job_token, {
    outcome: 'cancelled',
    exit_code: null,
  });
  const spareRepo = await jsonRequest<{ id: string }>(target.url, 'POST', '/api/repos', base.admin, { name: `spare-${round}` });
  const parkedJobId = await submit(target, base.repo.id, `parked ${round}`, { labels: [NEVER_LABEL] });
  const session = await signIn(target, base.admin);

  // The held attempts keep their leases for the whole round, as a working runner's would.
  const beats = [
    [holder, attempt],
    [otherHolder, otherAttempt],
    [stubborn, cancelledAttempt],
  ] as const;
  const timer = setInterval(() => {
    for (const [runner, a] of beats) {
      void honest(target, tally, 'runner', 'heartbeat of a working runner', 'POST', RunnerRoutes.heartbeat, runner.token, {
        status: 'busy',
        attempts: [a.attempt_id],
      }).catch(() => undefined);
    }
  }, holder.heartbeat_interval_ms);

  let counter = 0;
  let seq = 0;
  return {
    tokens: {
      wrong: `lzjob_${'A'.repeat(43)}`,
      admin: base.admin,
      registration,
      runner: attacker.token,
      'job-dead': deadAttempt.job_token,
      'job-cancelled': cancelledAttempt.job_token,
      'job-other': otherAttempt.job_token,
      job: attempt.job_token,
    },
    repo: base.repo,
    other: base.other,
    attempt,
    otherAttempt,
    deadAttempt,
    cancelledAttempt,
    runnerId: attacker.runner_id,
    spareRepoId: spareRepo.body.id,
    spareRunnerId: spare.runner_id,
    parkedJobId,
    session,
    secrets: [holder, otherHolder, ender, stubborn, attacker, spare]
      .map((r) => r.token)
      .concat([attempt, otherAttempt, deadAttempt, cancelledAttempt].map((a) => a.job_token))
      .concat([session.cookie.split('=')[1]!, session.csrf]),
    unique: (prefix) => `${prefix}-${round}-${++counter}`,
    nextSeq: () => ++seq,
    lastSeq: () => seq,
    finish: async (t) => {
      clearInterval(timer);
      for (const [runner, a] of beats) {
        await honest(target, t, 'job', 'complete (end of round)', 'POST', RunnerRoutes.complete(a.attempt_id), a.job_token, {
          outcome: 'failed',
          exit_code: 1,
          error: 'end of the round',
        });
        await honest(target, t, 'runner', 'deregister (end of round)', 'POST', RunnerRoutes.deregister, runner.token);
      }
      await honest(target, t, 'runner', 'deregister (end of round)', 'POST', RunnerRoutes.deregister, ender.token);
    },
  };
}
