import crypto from 'node:crypto';
import { hashToken, JOB_TOKEN_PREFIX, newToken } from '../secrets.js';
import type { AttemptRow } from '../store/attempts.js';
import type { JobRow } from '../store/jobs.js';
import type { RunnerRow } from '../store/runners.js';
import type { QueueCore } from './core.js';
import { appendSystemLine } from './log-append.js';

export interface Claimed {
  job: JobRow;
  attempt: AttemptRow;
  jobToken: string;
}

/**
 * Atomically hands the oldest matching queued job to this runner: one conditional update in
 * one transaction, so no job is ever held by two runners.
 */
export function claim(core: QueueCore, runner: RunnerRow): Claimed | undefined {
  if (runner.status === 'draining') return undefined;
  try {
    return claimIn(core, runner);
  } catch (err) {
    if (err instanceof RunnerGone) return undefined;
    throw err;
  }
}

/** Thrown inside a claim to roll it back: the runner was revoked since its row was read. */
class RunnerGone extends Error {}

function claimIn(core: QueueCore, runner: RunnerRow): Claimed | undefined {
  const { jobs, attempts, runners } = core.store;
  // Looked for once before the transaction: most polls of an idle fleet find nothing, and a write
  // transaction that writes nothing still costs one (15 µs, and the write lock).
  if (!jobs.nextFor(runner.labels, runner.agents)) return undefined;
  return core.transactions.run((): Claimed | undefined => {
    // Again under the write lock: another connection may have taken that one meanwhile.
    const job = jobs.nextFor(runner.labels, runner.agents);
    if (!job) return undefined;
    const jobToken = newToken(JOB_TOKEN_PREFIX);
    const attemptId = crypto.randomUUID();
    const now = core.now();
    core.decide(job, { type: 'claim' });
    const running = jobs.claim(job.id, attemptId, runner.id, new Date(now).toISOString());
    if (!running) return undefined;
    const attempt = attempts.insert({
      id: attemptId,
      job_id: job.id,
      // The claim counted this attempt.
      number: running.attempt_count,
      runner_id: runner.id,
      runner_name: runner.name,
      token_hash: hashToken(jobToken),
      lease_expires_ms: now + core.opts.leaseTtlMs,
      deadline_ms: now + running.timeout_s * 1000 + core.opts.timeoutGraceMs,
      started_at: new Date(now).toISOString(),
    });
    // The caller's row may be a request old: a runner revoked since takes nothing.
    if (!runners.seen(runner.id, 'busy', now)) throw new RunnerGone();
    appendSystemLine(core, running, `attempt ${attempt.number} on runner ${runner.name}`);
    core.changed(running, 'running');
    core.emit({ type: 'attempt.started', attempt_id: attempt.id, job_id: job.id, runner_id: runner.id, number: attempt.number });
    core.runnerChanged(runner.id, 'busy', job.id);
    return { job: running, attempt, jobToken };
  }, 'immediate');
}

/** A poll shows the runner is alive (an offline one is idle again); writing that down once a second is plenty. */
export function markPolled(core: QueueCore, runner: RunnerRow): void {
  const { runners } = core.store;
  const now = core.now();
  if (now - runner.last_seen_ms <= 1000 && runner.status !== 'offline') return;
  const seen = runners.seen(runner.id, 'idle', now);
  if (seen?.changed) core.runnerChanged(runner.id, seen.status);
}
