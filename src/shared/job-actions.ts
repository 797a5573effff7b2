import { isFinished, type JobStatusName } from './job-status.js';

/**
 * What a person can do with a job in its current state, decided once: the web UI shows a button
 * for each allowed action, the CLI refuses the others with the same reason, and the server's state
 * machine (`server/queue/state.ts`) enforces the transitions behind cancel, retry and rerun. Like
 * `job-status.ts`, it loads no schema library, so the CLI and the browser can import it cheaply.
 */

/** The facts about a job its actions depend on (a subset of the API's Job). */
export interface JobFacts {
  id: string;
  status: JobStatusName;
  commit: string | null;
  branch: string | null;
  cancel_requested: boolean;
  repo_id: string;
  repo_name?: string | null;
}

/**
 * `land`: `lazyaf land JOB` from a person's checkout. `land_remote` and `open_pr`: the server's
 * land of the job (`POST /api/jobs/{id}/land`, the job page's Land and Open PR), which also needs
 * the repo's remote_url.
 */
export type JobAction = 'cancel' | 'retry' | 'rerun' | 'followup' | 'diff' | 'land' | 'land_remote' | 'open_pr';

/**
 * Why the branch of this job cannot be landed at all, not even by its name, or null: while the
 * job is queued its branch may yet be written, and while it runs it is being written. Both lands hold to it: the
 * server's (`POST /api/repos/{id}/land`, which pushes the bare repo's branch to the stored
 * remote_url) and the CLI's (`lazyaf land`, from the person's checkout to its own remote).
 */
export function branchLandRefusal(job: Pick<JobFacts, 'id' | 'status'>): string | null {
  if (isFinished(job.status)) return null;
  const short = job.id.slice(0, 8);
  const why = job.status === 'queued' ? 'it has not run yet' : 'its branch is still being written';
  return `job ${short} is ${job.status}: ${why}, nothing to land until it has finished (or cancel it: lazyaf jobs cancel ${short})`;
}

/**
 * Why this job's branch cannot be landed as it is, or null when it can: a succeeded job with a
 * commit. A failed or cancelled job's branch holds what it left; landing that is possible, but only
 * as a deliberate step (landing the branch by name), which the reason says.
 */
export function landRefusal(job: JobFacts): string | null {
  const unfinished = branchLandRefusal(job);
  if (unfinished) return unfinished;
  const short = job.id.slice(0, 8);
  if (!job.branch || !job.commit) return `job ${short} ${job.status} with no changes: it has no branch to land`;
  if (job.status !== 'succeeded') {
    return `job ${short} ${job.status}; its branch holds what it left. To land it anyway: lazyaf land ${job.repo_name ?? job.repo_id} --branch ${job.branch}`;
  }
  return null;
}

/** Whether each action is open to this job now; `repo`, when known, says whether it has a remote to land on from the server. */
export function jobActions(job: JobFacts, repo?: { remote_url: string | null } | null): Record<JobAction, boolean> {
  const finished = isFinished(job.status);
  const landable = landRefusal(job) === null;
  return {
    cancel: !finished && !job.cancel_requested,
    retry: job.status === 'failed' || job.status === 'cancelled',
    // A succeeded job's branch may have been landed: it runs again only as a new job.
    rerun: job.status === 'succeeded',
    followup: finished && job.commit !== null,
    // A diff needs a commit to compare with the job's base.
    diff: job.commit !== null,
    land: landable,
    land_remote: landable && Boolean(repo?.remote_url),
    open_pr: landable && Boolean(repo?.remote_url),
  };
}
