import type { LogAck } from '../../shared/protocol.js';
import type { Redactor } from '../../shared/redact.js';
import type { AttemptRow } from '../store/attempts.js';
import type { JobRow } from '../store/jobs.js';
import type { QueueCore } from './core.js';
import { hideValueAcrossChunks } from './split-values.js';
import { ApiError } from '../errors.js';
import { LEASE_GONE, leaseIsLive } from './leases.js';

const TRUNCATION_MARKER = (cap: number) => `\n[lazyaf: log truncated at ${cap} bytes; further output was dropped]\n`;

/** Appends a chunk once (a resent `seq` is ignored), up to the job's cap, then a marker; with `redactor`, a value cut between it and the stored log is hidden. */
export function appendLog(core: QueueCore, attempt: AttemptRow, seq: number, text: string, redactor?: Redactor): LogAck {
  const { jobs, attempts, logs } = core.store;
  return core.transactions.run((): LogAck => {
    const job = jobs.logState(attempt.job_id)!;
    if (!attempts.acceptLogSeq(attempt.id, seq)) {
      // Refused: a resend, or the attempt ended since the caller read it (its lease is the fence).
      const current = attempts.get(attempt.id);
      if (!current || !leaseIsLive(current, core.now())) throw new ApiError(409, LEASE_GONE);
      return { accepted: false, truncated: job.log_truncated === 1 };
    }
    // A rewritten stored log is news of its own: followers drop what they hold of it and read it again.
    const rewrote = () => core.transactions.afterCommit(() => core.wakeups.jobChanged(job.id));
    const data = Buffer.from(redactor && !job.log_truncated ? hideValueAcrossChunks(logs, job, text, redactor, rewrote) : text, 'utf8');
    if (job.log_truncated) {
      jobs.addLog(job.id, 0, true);
      return { accepted: true, truncated: true };
    }
    const cap = core.opts.logCapBytes;
    const room = cap - job.log_bytes;
    if (data.length <= room) {
      logWritten(core, job, data, false);
      return { accepted: true, truncated: false };
    }
    logWritten(core, job, Buffer.concat([data.subarray(0, Math.max(0, room)), Buffer.from(TRUNCATION_MARKER(cap))]), true);
    return { accepted: true, truncated: true };
  });
}

/** A line of lazyaf's own in the job log (attempt starts and ends). Not counted against `seq`. Runs inside the caller's transaction. */
export function appendSystemLine(core: QueueCore, job: Pick<JobRow, 'id' | 'log_bytes' | 'log_truncated'>, line: string): void {
  if (job.log_truncated) return;
  logWritten(core, job, Buffer.from(`${job.log_bytes > 0 ? '\n' : ''}[lazyaf] ${line}\n`), false);
}

/** Appends `data` at the end of the job's log. Runs inside the caller's transaction. */
function logWritten(core: QueueCore, job: Pick<JobRow, 'id' | 'log_bytes'>, data: Buffer, truncated: boolean): void {
  core.store.logs.append(job.id, job.log_bytes, data);
  core.store.jobs.addLog(job.id, data.length, truncated);
  const offset = job.log_bytes;
  core.transactions.afterCommit(() => core.wakeups.jobChanged(job.id, { offset, data }));
  core.emit({ type: 'log.appended', job_id: job.id, log_bytes: job.log_bytes + data.length });
}
