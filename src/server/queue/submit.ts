import type { FollowupJob, SubmitJob } from '../../shared/api.js';
import { isValidBranchName } from '../../shared/git.js';
import { SHELL_AGENT } from '../../shared/job-status.js';
import type { BranchCache } from '../git/branch-cache.js';
import type { JobRow } from '../store/jobs.js';
import type { RepoStore } from '../store/repos.js';
import type { Agents } from './agents.js';
import type { Queue } from './queue.js';
import { ApiError } from '../errors.js';

export interface SubmitSources {
  /** What a submission needs of the queue: a caller may write more in the submit's transaction (see Queue.transaction). */
  queue: Pick<Queue, 'submit' | 'mustBeFinished' | 'transaction' | 'emit'>;
  repos: RepoStore;
  branches: BranchCache;
  agents: () => Agents;
  defaultTimeoutS: number;
}

/** How a new job follows another: its parent, and whether it continues the parent's agent conversation. */
export interface Lineage {
  parentJobId: string | null;
  resumeParent: boolean;
}

/** What the queue stores of a submission once it was checked. */
export type JobInput = Parameters<Queue['submit']>[0];

/** Checks a submission against the repo, its branches and the known agents, then queues it (recording the job it follows up, if any). */
export async function submitJob(body: SubmitJob, from: SubmitSources, lineage: Lineage = { parentJobId: null, resumeParent: false }): Promise<JobRow> {
  return from.queue.submit(await checkedSubmission(body, from, lineage));
}

/** A submission checked against the repo, its branches and the known agents: what the queue stores, not yet stored. */
export async function checkedSubmission(
  body: SubmitJob,
  from: SubmitSources,
  lineage: Lineage = { parentJobId: null, resumeParent: false },
): Promise<JobInput> {
  const repo = from.repos.find(body.repo_id);
  if (!repo) throw new ApiError(404, `repo not found: ${body.repo_id}`);
  const agent = body.agent ?? (body.command !== undefined ? SHELL_AGENT : undefined);
  if (!agent) throw new ApiError(400, 'a job needs a command (for the shell agent) or an agent');
  if (agent === SHELL_AGENT && !body.command) throw new ApiError(400, 'the shell agent needs a command');
  if (agent === SHELL_AGENT && body.model !== undefined) throw new ApiError(400, 'a model is for an agent job; a shell command chooses its own');
  if (agent !== SHELL_AGENT) {
    if (body.command !== undefined) throw new ApiError(400, `give either a command or an agent ("${agent}" runs its own command)`);
    const agents = from.agents();
    if (!agents.has(agent)) throw new ApiError(400, `unknown agent "${agent}"; known: shell, ${[...agents.keys()].join(', ')}`);
  }
  const baseBranch = body.base_branch ?? repo.default_branch;
  if (!isValidBranchName(baseBranch)) throw new ApiError(400, `invalid branch name: ${JSON.stringify(baseBranch)}`);
  if (!(await from.branches.has(repo.id, baseBranch))) {
    throw new ApiError(400, `base branch "${baseBranch}" does not exist in repo ${repo.name}; push it first: lazyaf push --branch ${baseBranch}`);
  }
  return {
    repo_id: repo.id,
    title: body.title,
    description: body.description ?? '',
    agent,
    command: agent === SHELL_AGENT ? (body.command ?? null) : null,
    base_branch: baseBranch,
    labels: JSON.stringify([...new Set(body.labels ?? [])].sort()),
    timeout_s: body.timeout_s ?? from.defaultTimeoutS,
    max_attempts: body.max_attempts,
    parent_job_id: lineage.parentJobId,
    model: body.model ?? null,
    resume_parent: lineage.resumeParent && agent !== SHELL_AGENT ? 1 : 0,
    require_checks: body.require_checks === undefined ? null : body.require_checks ? 1 : 0,
  };
}

/**
 * A finished job again as a new job with its own branch: the same inputs (and the same parent),
 * checked again as a submission is (its agent or base branch may be gone since).
 */
export async function rerunJob(job: JobRow, from: SubmitSources): Promise<JobRow> {
  from.queue.mustBeFinished(job, 'rerun');
  return submitJob(
    {
      repo_id: job.repo_id,
      title: job.title,
      description: job.description,
      agent: job.agent,
      command: job.command ?? undefined,
      base_branch: job.base_branch,
      labels: JSON.parse(job.labels) as string[],
      timeout_s: job.timeout_s,
      model: job.model ?? undefined,
      require_checks: requireChecksOf(job),
    },
    from,
    { parentJobId: job.parent_job_id, resumeParent: job.resume_parent === 1 },
  );
}

/**
 * A new job on top of `parent`'s branch, recording the parent; labels and timeout default to the
 * parent's. A parent that changed nothing has no branch to build on: its base is the place. A
 * follow-up by the parent's agent continues its conversation (unless `fresh`) and keeps its model
 * unless given another; a follow-up by another agent starts its own.
 */
export async function followUpJob(parent: JobRow, body: FollowupJob, from: SubmitSources): Promise<JobRow> {
  from.queue.mustBeFinished(parent, 'follow up');
  if (!parent.commit_sha || !parent.branch) {
    throw new ApiError(
      409,
      `job ${parent.id} changed nothing, so ${parent.branch_name} holds no commit to build on; submit the follow-up on its base instead (lazyaf jobs submit --base ${parent.base_branch})`,
    );
  }
  const sameAgent = body.command === undefined && body.agent === parent.agent && parent.agent !== SHELL_AGENT;
  return submitJob(
    {
      repo_id: parent.repo_id,
      title: body.title,
      description: body.description,
      command: body.command,
      agent: body.agent,
      base_branch: parent.branch,
      labels: body.labels ?? (JSON.parse(parent.labels) as string[]),
      timeout_s: body.timeout_s ?? parent.timeout_s,
      model: body.model ?? (sameAgent ? (parent.model ?? undefined) : undefined),
      // A follow-up is judged as its parent was: it continues the same piece of work.
      require_checks: requireChecksOf(parent),
    },
    from,
    { parentJobId: parent.id, resumeParent: sameAgent && !body.fresh },
  );
}

/** A job's `require_checks` as it was submitted, for a submission of the same work: undefined leaves it to the repo. */
function requireChecksOf(job: JobRow): boolean | undefined {
  return job.require_checks === null ? undefined : job.require_checks === 1;
}
