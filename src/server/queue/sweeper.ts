import type { AttemptRow } from '../store/attempts.js';
import { endEach, type AttemptFailure, type EndRequest } from './attempt-end.js';
import type { QueueCore } from './core.js';
import { appendSystemLine } from './log-append.js';
import { strandedJobs } from './no-runner.js';
import type { Queue } from './queue.js';

export interface SweepLog {
  error: (fields: object, msg: string) => void;
}

export interface SweepResult {
  expired: number;
  timedOut: number;
  failed: AttemptFailure[];
  offline: string[];
  stranded: number;
}

/** Leases expire on time even when no request arrives. Returns the function that stops it. */
export function startSweeper(queue: Queue, log: SweepLog): () => void {
  const sweepMs = Math.min(5000, Math.max(100, Math.floor(queue.leaseTtlMs / 4)));
  const sweeper = setInterval(() => {
    try {
      for (const f of queue.sweep().failed) log.error({ attempt: f.attempt_id, err: f.error }, 'could not expire a lease; retrying on the next sweep');
    } catch (err) {
      log.error({ err }, 'lease sweep failed');
    }
  }, sweepMs);
  sweeper.unref();
  return () => clearInterval(sweeper);
}

/**
 * What time does, in five parts: lapsed leases expire (the job is requeued, or failed past its
 * cap); attempts past their deadline end (timed out, or cancelled past the cancel grace); silent
 * runners go offline; long-gone runners are pruned; jobs no runner could take for too long fail.
 * Each lease ends in its own transaction: one that fails stays active, is reported in `failed`
 * and is tried again on the next sweep, while the others end.
 */
export function sweep(core: QueueCore): SweepResult {
  const now = core.now();
  const expired = expireLeases(core, now);
  const timedOut = endOverdue(core, now);
  const offline = markSilentOffline(core, now);
  pruneRunners(core, now);
  const stranded = failStranded(core, now);
  return { expired: expired.ended, timedOut: timedOut.ended, failed: [...expired.failed, ...timedOut.failed], offline, stranded };
}

function expireLeases(core: QueueCore, now: number): Ended {
  return endPaged(
    core,
    (after) => core.store.attempts.expired(now, after),
    () => ({ outcome: 'lost', error: 'lease expired: the runner stopped renewing it' }),
  );
}

/** A runner can be alive but stuck: it renews the lease and never reports (nor stops when cancelled). */
function endOverdue(core: QueueCore, now: number): Ended {
  const graceS = Math.round(core.opts.timeoutGraceMs / 1000);
  return endPaged(
    core,
    (after) => core.store.attempts.overdue(now, after),
    (attempt) => {
      const job = core.store.jobs.get(attempt.job_id);
      if (job?.cancel_requested)
        return {
          outcome: 'cancelled',
          error: `the runner did not report within ${core.opts.cancelGraceMs / 1000} s of the cancel, so the server ended the attempt`,
        };
      return {
        outcome: 'timeout',
        error: `timed out after ${job?.timeout_s} s: the runner had not reported ${graceS} s later, so the server ended the attempt`,
      };
    },
  );
}

function markSilentOffline(core: QueueCore, now: number): string[] {
  const offline = core.store.runners.markOffline(now - core.opts.leaseTtlMs);
  for (const id of offline) core.runnerChanged(id, 'offline');
  return offline;
}

/** Runners come and go (a pool restarts, a machine leaves): the table would only grow. */
function pruneRunners(core: QueueCore, now: number): void {
  for (const id of core.store.runners.prune(now - core.opts.runnerPruneAfterMs)) core.emit({ type: 'runner.removed', runner_id: id });
}

/**
 * Fails the queued jobs that no registered runner could take for longer than the no-runner
 * timeout, with that reason, rather than leaving them to wait for ever. Off when it is 0.
 */
function failStranded(core: QueueCore, now: number): number {
  const timeoutMs = core.opts.noRunnerTimeoutMs ?? 0;
  if (timeoutMs <= 0) return 0;
  const { jobs, runners } = core.store;
  let failed = 0;
  core.transactions.run(() => {
    for (const { job, why } of strandedJobs(jobs, runners, now, timeoutMs)) {
      core.decide(job, { type: 'no-runner' });
      if (!jobs.failNoRunner(job.id, `no runner can take this job: ${why}`, core.iso())) continue;
      appendSystemLine(core, job, `failed: no runner can take this job: ${why}`);
      core.changed(job, 'failed');
      failed++;
    }
  }, 'immediate');
  return failed;
}

interface Ended {
  ended: number;
  failed: AttemptFailure[];
}

/** Ends every attempt `page` yields, page by page: a cursor, so attempts that keep failing at the head cannot hide the ones behind them. */
function endPaged(core: QueueCore, page: (after?: AttemptRow) => AttemptRow[], req: (attempt: AttemptRow) => EndRequest): Ended {
  let ended = 0;
  const failed: AttemptFailure[] = [];
  for (let rows = page(); rows.length > 0; rows = page(rows.at(-1))) {
    const rowsFailed = endEach(core, rows, req);
    ended += rows.length - rowsFailed.length;
    failed.push(...rowsFailed);
  }
  return { ended, failed };
}
