import type { JobStatus } from '../../shared/api.js';
import type { AttemptEndReason, CompleteRequest } from '../../shared/protocol.js';
import { ApiError } from '../errors.js';
import type { AttemptRow } from '../store/attempts.js';
import type { QueueCore } from './core.js';
import { leaseIsLive } from './leases.js';
import { checksVerdict, mustBeValidChecks, type ChecksVerdict } from './checks.js';
import { appendSystemLine } from './log-append.js';
import { needsOf } from './matching.js';

/** Why the server itself ends an attempt. */
export type EndRequest = { outcome: AttemptEndReason; error?: string; exit_code?: null; commit?: null };

/** An attempt the server could not end now; it stays active and is tried again later. */
export interface AttemptFailure {
  attempt_id: string;
  error: string;
}

/**
 * Ends an attempt with the runner's report. Idempotent: the same report sent again after a lost
 * answer gets the same result; any other report on an ended attempt is refused.
 */
export function complete(core: QueueCore, attempt: AttemptRow, req: CompleteRequest): JobStatus {
  const { attempts, jobs } = core.store;
  mustBeValidChecks(req.checks);
  return core.transactions.run((): JobStatus => {
    const current = attempts.get(attempt.id)!;
    if (!current.active) {
      if (current.end_reason === req.outcome) return jobs.get(current.job_id)!.status;
      throw new ApiError(409, `attempt ${attempt.id} already ended (${current.end_reason}); its lease is gone`);
    }
    if (!leaseIsLive(current, core.now())) throw new ApiError(409, `the lease of attempt ${attempt.id} expired`);
    return endAttempt(core, current, req);
  });
}

/** Ends each attempt in its own transaction, so that one which fails (and stays active) cannot stop the others. */
export function endEach(core: QueueCore, attempts: AttemptRow[], req: (attempt: AttemptRow) => EndRequest): AttemptFailure[] {
  const failed: AttemptFailure[] = [];
  for (const attempt of attempts) {
    try {
      core.transactions.run(() => endAttempt(core, attempt, req(attempt)));
    } catch (err) {
      failed.push({ attempt_id: attempt.id, error: (err as Error).message });
    }
  }
  return failed;
}

/** Must run inside a transaction. Returns the job's new status. */
function endAttempt(core: QueueCore, attempt: AttemptRow, req: CompleteRequest | EndRequest): JobStatus {
  const { attempts, jobs, runners } = core.store;
  const job = jobs.get(attempt.job_id)!;
  const now = core.iso();
  // The attempt keeps the runner's outcome (a resent report must match it); the job's status may
  // also weigh its checks, as the attempt's assignment said (the repo may have changed since), else as submitted.
  const verdict: ChecksVerdict = 'checks' in req ? checksVerdict(req, (attempt.require_checks ?? job.require_checks) === 1) : { reason: req.outcome };
  const reason = verdict.reason;
  const ended = attempts.end(attempt.id, {
    exit_code: req.exit_code ?? null,
    end_reason: req.outcome,
    error: req.error ?? null,
    now,
    // An agent's report: what it used and the conversation a follow-up resumes.
    usage: 'usage' in req && req.usage ? JSON.stringify(req.usage) : null,
    session_id: 'session_id' in req ? (req.session_id ?? null) : null,
    // What the repo's environment did: its setup and checks, shown on the job.
    setup: 'setup' in req && req.setup ? JSON.stringify(req.setup) : null,
    checks: 'checks' in req && req.checks ? JSON.stringify(req.checks) : null,
  });
  // Ended meanwhile (the caller read it before this transaction): whoever ended it moved the job too.
  if (!ended) return job.status;
  // Only a lost attempt is weighed by how many were lost (state.ts): any other end asks nothing.
  const lostAttempts = reason === 'lost' ? attempts.lostCount(job.id, job.retried_after) : 0;
  const status = core.decide(job, {
    type: 'attempt-ended',
    reason,
    lostAttempts,
    maxAttempts: job.max_attempts,
    cancelRequested: job.cancel_requested === 1,
  });
  // Work is kept whatever the outcome: a failed, timed-out or cancelled job's branch holds what it left.
  const commit = status === 'queued' ? null : (req.commit ?? null);
  const error =
    status === 'failed' && reason === 'lost'
      ? `lost its runner ${lostAttempts} times (the cap is ${job.max_attempts})`
      : status === 'queued'
        ? null
        : (verdict.error ?? req.error ?? (reason === 'timeout' ? `timed out after ${job.timeout_s}s` : null));
  const moved = jobs.endAttempt({
    id: job.id,
    attempt_id: attempt.id,
    status,
    branch: commit ? job.branch_name : null,
    commit_sha: commit,
    base_commit: 'base_commit' in req ? (req.base_commit ?? null) : null,
    exit_code: status === 'queued' ? null : (req.exit_code ?? null),
    error,
    end_reason: reason,
    now,
  });
  // An active attempt is its running job's current one (claim and this end keep it so, each in one
  // transaction): a job that is not is a broken invariant, and the whole end rolls back.
  if (!moved) throw new Error(`job ${job.id} is not running attempt ${attempt.id}; the attempt was not ended`);
  const runner = runners.get(attempt.runner_id);
  if (runner && runner.status === 'busy') {
    runners.setStatus(runner.id, 'idle');
    core.runnerChanged(runner.id, 'idle');
  }
  appendSystemLine(
    core,
    job,
    `attempt ${attempt.number} ended: ${req.outcome}${req.exit_code != null ? ` (exit code ${req.exit_code})` : ''}${verdict.error ? `; ${verdict.error}, and the job requires its checks` : ''}${status === 'queued' ? '; back in the queue' : ''}`,
  );
  core.emit({ type: 'attempt.ended', attempt_id: attempt.id, job_id: job.id, runner_id: attempt.runner_id, reason: req.outcome });
  core.changed(job, status);
  if (status === 'queued') core.transactions.afterCommit(() => core.wakeups.jobAvailable(needsOf(job)));
  return status;
}
