/**
 * A job's statuses and which of them are final, without typebox: the CLI checks a status given on
 * its command line, and whether a followed job has ended, without loading the API's schemas (about
 * 680 module files). `api.ts` builds its JobStatus schema from this list.
 */
export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatusName = (typeof JOB_STATUSES)[number];

/** The statuses a job's runs have ended in: it stays there, unless someone retries a failed or cancelled one (back to queued). */
export const FINISHED_JOB_STATUSES: readonly JobStatusName[] = ['succeeded', 'failed', 'cancelled'];
export const isFinished = (status: JobStatusName): boolean => FINISHED_JOB_STATUSES.includes(status);

/** The `agent` of a job that runs a plain shell `command`: every runner can take it. */
export const SHELL_AGENT = 'shell';

/** An agent job that succeeded without a commit: its agent changed nothing, which a list of jobs says. */
export const succeededWithoutChanges = (job: { status: JobStatusName; agent: string; commit: string | null }): boolean =>
  job.status === 'succeeded' && job.agent !== SHELL_AGENT && job.commit === null;

/**
 * How an attempt ended, as people read it. The attempt keeps the runner's outcome; a check the job
 * required can still fail the job after a command that succeeded, which its last attempt then says
 * ("succeeded, but check ci failed") rather than leave a failed job with a succeeded attempt.
 */
export function attemptEnd(
  job: { status: JobStatusName; attempt_count: number; error: string | null },
  attempt: { number: number; end_reason: string | null },
): string | null {
  if (attempt.end_reason === 'succeeded' && job.status === 'failed' && attempt.number === job.attempt_count)
    return `succeeded, but ${job.error ?? 'the job failed'}`;
  return attempt.end_reason;
}
