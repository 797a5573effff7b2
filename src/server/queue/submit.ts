import type { SubmitJob } from '../../shared/api.js';
import { isValidBranchName } from '../../shared/git.js';
import type { BranchCache } from '../git/branch-cache.js';
import type { JobRow } from '../store/jobs.js';
import type { RepoStore } from '../store/repos.js';
import type { Agents } from './agents.js';
import type { Queue } from './queue.js';
import { ApiError } from '../errors.js';

export interface SubmitSources {
  queue: Queue;
  repos: RepoStore;
  branches: BranchCache;
  agents: () => Agents;
  defaultTimeoutS: number;
}

/** Checks a submission against the repo, its branches and the known agents, then queues it. */
export async function submitJob(body: SubmitJob, from: SubmitSources): Promise<JobRow> {
  const repo = from.repos.find(body.repo_id);
  if (!repo) throw new ApiError(404, `repo not found: ${body.repo_id}`);
  const agent = body.agent ?? (body.command !== undefined ? 'shell' : undefined);
  if (!agent) throw new ApiError(400, 'a job needs a command (for the shell agent) or an agent');
  if (agent === 'shell' && !body.command) throw new ApiError(400, 'the shell agent needs a command');
  if (agent !== 'shell') {
    if (body.command !== undefined) throw new ApiError(400, `give either a command or an agent ("${agent}" runs its own command)`);
    const agents = from.agents();
    if (!agents.has(agent)) throw new ApiError(400, `unknown agent "${agent}"; known: shell, ${[...agents.keys()].join(', ')}`);
  }
  const baseBranch = body.base_branch ?? repo.default_branch;
  if (!isValidBranchName(baseBranch)) throw new ApiError(400, `invalid branch name: ${JSON.stringify(baseBranch)}`);
  if (!(await from.branches.has(repo.id, baseBranch))) {
    throw new ApiError(400, `base branch "${baseBranch}" does not exist in repo ${repo.name}; push it first: lazyaf push --branch ${baseBranch}`);
  }
  return from.queue.submit({
    repo_id: repo.id,
    title: body.title,
    description: body.description ?? '',
    agent,
    command: agent === 'shell' ? (body.command ?? null) : null,
    base_branch: baseBranch,
    labels: JSON.stringify([...new Set(body.labels ?? [])].sort()),
    timeout_s: body.timeout_s ?? from.defaultTimeoutS,
    max_attempts: body.max_attempts,
  });
}
