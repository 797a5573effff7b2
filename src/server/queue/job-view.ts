import type { ChainLink } from '../../shared/api.js';
import type { AttemptRow } from '../store/attempts.js';
import type { JobRow, JobStore } from '../store/jobs.js';
import type { RepoStore } from '../store/repos.js';
import type { RunnerStore } from '../store/runners.js';
import { noRunnerFor } from './no-runner.js';

/** A follow-up chain is walked at most this far: a chain is read by people, and a cycle must end. */
export const MAX_CHAIN = 100;

/** What a single job's view adds to the row: names instead of bare ids, its chain, and why it may wait. */
export interface JobDetails {
  repo_name?: string;
  runner_name: string | null;
  chain: ChainLink[];
  no_runner: string | null;
}

/**
 * The name of the runner that holds or last ran the job: as its latest attempt recorded it (the
 * runner may have re-registered under a new id, or been pruned, since), else as the runner is
 * registered now (an attempt recorded before names were kept). Null while no runner has it.
 */
export function runnerNameOf(job: Pick<JobRow, 'runner_id'>, last: AttemptRow | undefined, runners: RunnerStore): string | null {
  if (!job.runner_id) return null;
  const recorded = last?.runner_id === job.runner_id ? last.runner_name : null;
  return recorded ?? runners.get(job.runner_id)?.name ?? null;
}

export function jobDetails(job: JobRow, last: AttemptRow | undefined, from: { jobs: JobStore; runners: RunnerStore; repos: RepoStore }): JobDetails {
  const repo = from.repos.get(job.repo_id);
  return {
    ...(repo ? { repo_name: repo.name } : {}),
    runner_name: runnerNameOf(job, last, from.runners),
    chain: chainOf(job, from.jobs),
    no_runner: noRunnerFor(job, from.runners),
  };
}

/** The jobs `job` follows up, oldest first. */
function chainOf(job: JobRow, jobs: JobStore): ChainLink[] {
  const chain: ChainLink[] = [];
  const seen = new Set([job.id]);
  for (let id = job.parent_job_id; id && chain.length < MAX_CHAIN && !seen.has(id);) {
    const parent = jobs.get(id);
    if (!parent) break;
    seen.add(id);
    chain.push({ id: parent.id, title: parent.title, status: parent.status, branch: parent.branch, commit: parent.commit_sha });
    id = parent.parent_job_id;
  }
  return chain.reverse();
}
