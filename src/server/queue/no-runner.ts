import type { JobRow, JobStore } from '../store/jobs.js';
import type { RunnerStore } from '../store/runners.js';
import { needsOf, offerOf, whyNoRunner } from './matching.js';

/**
 * "No job waits in silence": why no registered runner can take a queued job, and the queued jobs
 * that have been so for too long. Both read the runners' distinct offers (one scan of the runners
 * table: about 2 ms at 10,000 runners, 40 µs for a whole view at 20) and, for the sweep, the queued
 * jobs' distinct needs: never a query per job or per runner.
 */

/** Why no registered runner can take this job (a sentence), or null when one can or it is not queued. */
export function noRunnerFor(job: Pick<JobRow, 'status' | 'labels' | 'agent'>, runners: RunnerStore): string | null {
  if (job.status !== 'queued') return null;
  return whyNoRunner(needsOf(job), runners.offers().map(offerOf));
}

/**
 * Starts the no-runner clock of the queued jobs no registered runner can take and stops it for
 * the others, then returns those stranded since before `now - timeoutMs`, each with why.
 * Runs inside the caller's transaction.
 */
export function strandedJobs(jobs: JobStore, runners: RunnerStore, now: number, timeoutMs: number): { job: JobRow; why: string }[] {
  const needs = jobs.queuedNeeds();
  if (needs.length === 0) return [];
  const offers = runners.offers().map(offerOf);
  const why = new Map<string, string>();
  const key = (n: { labels: string; agent: string }) => `${n.agent}\n${n.labels}`;
  for (const n of needs) {
    const reason = whyNoRunner(needsOf(n), offers);
    jobs.setNoRunner(n, reason === null ? null : now);
    if (reason !== null) why.set(key(n), reason);
  }
  if (why.size === 0) return [];
  return jobs.strandedSince(now - timeoutMs).flatMap((job) => {
    const reason = why.get(key(job));
    return reason === undefined ? [] : [{ job, why: reason }];
  });
}
