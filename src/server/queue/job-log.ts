import { isFinished, type JobLogs } from '../../shared/api.js';
import type { QueueStores } from './core.js';
import type { Wakeups } from './wakeups.js';

/** A page of a job's log from a byte offset, and whether it is the end of a finished job's log. */
export function logPage(store: Pick<QueueStores, 'jobs' | 'logs'>, jobId: string, offset: number, limit: number): JobLogs {
  const data = store.logs.read(jobId, offset, limit);
  const fresh = store.jobs.get(jobId)!;
  const next = offset + data.length;
  return {
    job_id: jobId,
    offset,
    next_offset: next,
    content: data.toString('utf8'),
    truncated: fresh.log_truncated === 1,
    pruned: fresh.log_pruned_ms !== null,
    // A pruned log is complete with what is left of it: nothing.
    complete: isFinished(fresh.status) && (next >= fresh.log_bytes || fresh.log_pruned_ms !== null),
  };
}

/**
 * A job's log from a byte offset as it grows: what is there, then each new chunk, until the job
 * has finished and all of it was given, the server closes, or `signal` aborts. `hold` wraps each
 * wait for news (the HTTP edge lifts its idle timeout while the server is the one waiting).
 */
export async function* followLog(
  store: Pick<QueueStores, 'jobs' | 'logs'>,
  wakeups: Wakeups,
  jobId: string,
  offset: number,
  signal: AbortSignal,
  hold: (wait: Promise<void>) => Promise<void>,
): AsyncGenerator<Buffer> {
  let at = offset;
  while (!signal.aborted) {
    const data = store.logs.read(jobId, at, 256 * 1024);
    if (data.length > 0) {
      at += data.length;
      yield data;
      continue;
    }
    const fresh = store.jobs.get(jobId);
    if (!fresh || (isFinished(fresh.status) && (at >= fresh.log_bytes || fresh.log_pruned_ms !== null)) || wakeups.closed) return;
    await hold(wakeups.waitForJobChange(jobId, 15_000, signal));
  }
}
