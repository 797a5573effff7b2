import fs from 'node:fs';
import path from 'node:path';
import { RunnerRoutes } from '../../src/shared/protocol.js';
import { run } from '../lib/proc.js';
import type { Tally, Target } from './target.js';
import { claim, honest, register, submit, type SeededRepo } from './world.js';

export interface CheckResult {
  ok: boolean;
  error?: string;
  seconds: number;
}

async function checked(what: () => Promise<void>): Promise<CheckResult> {
  const started = performance.now();
  try {
    await what();
    return { ok: true, seconds: (performance.now() - started) / 1000 };
  } catch (err) {
    return { ok: false, error: (err as Error).message.split('\n')[0], seconds: (performance.now() - started) / 1000 };
  }
}

function expect(cond: boolean, message: string): void {
  if (!cond) throw new Error(message);
}

/**
 * After the attack, one job goes the whole way as a runner takes it: claim, clone with the job
 * token, push the job branch with the real git, a log chunk, complete; the job must end
 * succeeded with that commit and that log.
 */
export function queueStillWorks(
  target: Target,
  tally: Tally,
  s: { registration: string; repo: SeededRepo },
  dir: string,
  gitEnv: NodeJS.ProcessEnv,
): Promise<CheckResult> {
  return checked(async () => {
    const runner = await register(target, s.registration, 'after-the-attack');
    const a = await claim(target, runner.token, await submit(target, s.repo.id, 'after the attack'));
    const work = path.join(dir, 'after-the-attack');
    const url = new URL(a.clone_url);
    url.username = 'x';
    url.password = a.job_token;
    await run('git', ['clone', '-q', '--branch', a.base_branch, url.toString(), work], { env: gitEnv });
    fs.writeFileSync(path.join(work, 'after.txt'), 'the queue still works\n');
    const git = (args: string[]) => run('git', args, { cwd: work, env: gitEnv });
    await git(['add', '-A']);
    await git(['commit', '-q', '-m', 'after the attack']);
    await git(['push', '-q', 'origin', `HEAD:refs/heads/${a.branch}`]);
    const commit = (await git(['rev-parse', 'HEAD'])).stdout.trim();
    const logged = await honest(target, tally, 'job', 'log chunk (after the attack)', 'POST', RunnerRoutes.logs(a.attempt_id), a.job_token, {
      seq: 1,
      data: 'the queue still works\n',
    });
    expect(logged.status === 200, `log chunk: ${logged.status}`);
    const done = await honest<{ job_status: string }>(
      target,
      tally,
      'job',
      'complete (after the attack)',
      'POST',
      RunnerRoutes.complete(a.attempt_id),
      a.job_token,
      { outcome: 'succeeded', exit_code: 0, commit },
    );
    expect(done.status === 200 && done.body.job_status === 'succeeded', `complete: ${done.status} ${done.raw.body.toString().slice(0, 200)}`);
    const job = await honest<{ status: string; commit: string }>(
      target,
      tally,
      'admin',
      'show the job (after the attack)',
      'GET',
      `/api/jobs/${a.job_id}`,
      target.adminToken,
    );
    expect(job.body.status === 'succeeded' && job.body.commit === commit, `the job is ${job.body.status} with commit ${job.body.commit}`);
    const log = await honest<{ content: string }>(
      target,
      tally,
      'admin',
      'read the log (after the attack)',
      'GET',
      `/api/jobs/${a.job_id}/logs`,
      target.adminToken,
    );
    expect(log.body.content.includes('the queue still works'), 'the log chunk is not in the job log');
    await honest(target, tally, 'runner', 'deregister (after the attack)', 'POST', RunnerRoutes.deregister, runner.token);
  });
}

/**
 * A claimed attempt whose runner goes silent must be lost and its job requeued by the sweeper
 * alone, within a few TTLs, although another runner keeps naming the attempt in its heartbeats.
 */
export function leaseStillExpires(target: Target, tally: Tally, s: { registration: string; repo: SeededRepo }, ttlSeconds: number): Promise<CheckResult> {
  return checked(async () => {
    const silent = await register(target, s.registration, 'goes-silent');
    const meddler = await register(target, s.registration, 'meddler');
    const jobId = await submit(target, s.repo.id, 'its runner goes silent');
    const a = await claim(target, silent.token, jobId);
    const deadline = Date.now() + (ttlSeconds * 3 + 10) * 1000;
    let status = 'running';
    while (status === 'running') {
      expect(
        Date.now() < deadline,
        `the lease did not expire within ${ttlSeconds * 3 + 10} s (TTL ${ttlSeconds} s): the sweeper is stuck, or a foreign heartbeat renewed it`,
      );
      await honest(target, tally, 'runner', "heartbeat naming another runner's attempt", 'POST', RunnerRoutes.heartbeat, meddler.token, {
        status: 'busy',
        attempts: [a.attempt_id],
      });
      await new Promise((r) => setTimeout(r, 300));
      const job = await honest<{ status: string }>(target, tally, 'admin', 'show the job (lease check)', 'GET', `/api/jobs/${jobId}`, target.adminToken);
      status = job.body.status;
    }
    expect(status === 'queued', `after its lease ran out the job is ${status}, not queued again`);
    const late = await honest(target, tally, 'job', 'log chunk of a lost attempt', 'POST', RunnerRoutes.logs(a.attempt_id), a.job_token, {
      seq: 1,
      data: 'late\n',
    });
    expect(late.status === 409 || late.status === 401, `a lost attempt's log chunk got ${late.status}`);
    const batch = await honest(target, tally, 'job', 'transcript batch of a lost attempt', 'POST', RunnerRoutes.transcript(a.attempt_id), a.job_token, {
      seq: 1,
      entries: [{ type: 'message', text: 'late' }],
    });
    expect(batch.status === 409 || batch.status === 401, `a lost attempt's transcript batch got ${batch.status}`);
    const done = await honest(target, tally, 'job', 'completion of a lost attempt', 'POST', RunnerRoutes.complete(a.attempt_id), a.job_token, {
      outcome: 'succeeded',
      exit_code: 0,
      usage: { input_tokens: 1, output_tokens: 1 },
      session_id: 'late',
    });
    expect(done.status === 409 || done.status === 401, `a lost attempt's completion got ${done.status}`);
    await honest(target, tally, 'admin', 'cancel (lease check)', 'POST', `/api/jobs/${jobId}/cancel`, target.adminToken);
    for (const r of [silent, meddler]) await honest(target, tally, 'runner', 'deregister (lease check)', 'POST', RunnerRoutes.deregister, r.token);
  });
}
