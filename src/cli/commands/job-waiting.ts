import type { Job, RunnersStatus } from '../../shared/api.js';
import { printable } from '../../shared/terminal.js';
import type { ApiClient } from '../client.js';

/** A job taken by a warm runner starts within milliseconds; only one still queued after this is worth a line. */
const QUIET_MS = 1000;

/** The warning `jobs submit` prints (stderr) when no registered runner can take the job it queued. */
export function warnNoRunner(job: Job): void {
  if (job.status === 'queued' && job.no_runner) {
    process.stderr.write(printable(`warning: ${job.no_runner}; job ${job.id} stays queued until a runner that can take it registers`) + '\n');
  }
}

/**
 * While a `--wait` job sits in the queue, one stderr line saying what it waits for: at once when
 * no registered runner can take it, otherwise once it is still queued a second later (all the
 * runners that could are busy). Returns what stops it.
 */
export function reportWaiting(client: ApiClient, job: Job): () => void {
  if (job.status !== 'queued') return () => {};
  if (job.no_runner) {
    process.stderr.write(printable(`Waiting for a runner: ${job.no_runner}`) + '\n');
    return () => {};
  }
  let stopped = false;
  const timer = setTimeout(() => {
    void stillQueued(client, job.id)
      .then((line) => {
        if (line && !stopped) process.stderr.write(printable(line) + '\n');
      })
      .catch(() => undefined);
  }, QUIET_MS);
  timer.unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

async function stillQueued(client: ApiClient, jobId: string): Promise<string | undefined> {
  const [job, runners] = await Promise.all([
    client.request<Job>('GET', `/api/jobs/${encodeURIComponent(jobId)}`),
    client.request<RunnersStatus>('GET', '/api/runners/status'),
  ]);
  if (job.status !== 'queued') return undefined;
  if (job.no_runner) return `Waiting for a runner: ${job.no_runner}`;
  const others = runners.queued_jobs - 1;
  const queued = others > 0 ? `; ${others} other job${others === 1 ? '' : 's'} queued` : '';
  const offline = runners.offline_runners > 0 ? `, ${runners.offline_runners} offline` : '';
  return `Waiting for a runner to take it: ${runners.busy_runners} of ${runners.total_runners} runners busy${offline}${queued}`;
}
