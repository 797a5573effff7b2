/** What a person does to a job: submit it, cancel it, retry it. A rerun or a follow-up is a new submission (submit.ts). */
import crypto from 'node:crypto';
import { ApiError } from '../errors.js';
import type { JobRow, NewJob } from '../store/jobs.js';
import { refusedAs409, type QueueCore } from './core.js';
import { appendSystemLine } from './log-append.js';
import { needsOf } from './matching.js';
import { mustBeFinished } from './state.js';

/** Stores a queued job and wakes one idle runner that can take it. */
export function submit(core: QueueCore, input: Omit<NewJob, 'id' | 'branch_name' | 'max_attempts'> & { max_attempts?: number }): JobRow {
  for (;;) {
    const id = crypto.randomUUID();
    const job: NewJob = { ...input, id, branch_name: `lazyaf/${id.slice(0, 8)}`, max_attempts: input.max_attempts ?? core.opts.maxAttempts };
    let row: JobRow;
    try {
      row = core.store.jobs.insert(job, core.iso());
    } catch (err) {
      // Two jobs of one repo drew the same 8-character prefix: draw again.
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') continue;
      throw err;
    }
    core.wakeups.jobAvailable(needsOf(row));
    core.emit({ type: 'job.created', job_id: id, repo_id: row.repo_id, status: row.status });
    return row;
  }
}

/**
 * Cancels a job. A queued one at once. A running one keeps its attempt (and job token) for the
 * cancel grace: its runner hears of it on its held heartbeat, stops the command, pushes what it
 * left to the job branch and completes as `cancelled`; a runner that does not, the sweeper ends.
 */
export function cancel(core: QueueCore, jobId: string): JobRow {
  const { jobs, attempts } = core.store;
  const job = core.mustGetJob(jobId);
  core.decide(job, { type: 'cancel' });
  const now = core.iso();
  core.transactions.run(() => {
    if (jobs.cancelQueued(job.id, now)) return core.changed(job, 'cancelled');
    if (!jobs.requestCancel(job.id, now)) return;
    const attempt = attempts.get(jobs.get(job.id)?.current_attempt_id ?? '');
    if (!attempt?.active) return;
    attempts.bringDeadline(attempt.id, core.now() + core.opts.cancelGraceMs);
    appendSystemLine(core, jobs.get(job.id)!, 'cancel requested: stopping the command; what it left will be pushed');
    core.changed(job, 'running');
    core.transactions.afterCommit(() => core.wakeups.wakeHeartbeat(attempt.runner_id));
  });
  return jobs.get(job.id)!;
}

/** Puts a failed or cancelled job back in the queue, on its own branch, with a fresh allowance of lost attempts. */
export function retry(core: QueueCore, jobId: string): JobRow {
  const job = core.mustGetJob(jobId);
  core.decide(job, { type: 'retry' });
  // Read, decided and written in one synchronous stretch on the one connection: only a job deleted meanwhile is missed.
  if (!core.store.jobs.retry(job.id, core.iso())) throw new ApiError(404, `job not found: ${jobId}`);
  core.wakeups.jobAvailable(needsOf(job));
  core.changed(job, 'queued');
  return core.store.jobs.get(job.id)!;
}

/** A rerun or a follow-up reads what a job did: a 409 until it has finished. */
export function mustHaveFinished(job: JobRow, action: string): void {
  refusedAs409(job, () => mustBeFinished(job.status, action));
}
