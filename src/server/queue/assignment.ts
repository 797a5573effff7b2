import type { Assignment } from '../../shared/protocol.js';
import { bareRepoPath, readFileAt } from '../git/bare.js';
import { renderPrompt, type Agents } from './agents.js';
import type { Claimed } from './queue.js';

export interface AssignmentSources {
  reposDir: string;
  agents: () => Agents;
  /** The URL the runner clones from: it depends on how the runner reached the server. */
  cloneUrl: (repoId: string) => string;
  /** The secrets stored for a job of this repo, by name: an agent job's credentials come from them and the environment (agentCredentials). */
  secrets: (repoId: string) => Readonly<Record<string, string>>;
}

/** What a runner is told about the job it claimed: the command to run and, for an agent, the prompt with the repo's README. */
export async function assignmentFor(claimed: Claimed, from: AssignmentSources): Promise<Assignment> {
  const { job, attempt, jobToken } = claimed;
  const command = job.agent === 'shell' ? (job.command ?? '') : (from.agents().get(job.agent) ?? '');
  const readme = job.agent === 'shell' ? undefined : await readFileAt(bareRepoPath(from.reposDir, job.repo_id), job.base_branch, 'README.md', 16_000);
  return {
    job_id: job.id,
    attempt_id: attempt.id,
    attempt: attempt.number,
    job_token: jobToken,
    repo_id: job.repo_id,
    clone_url: from.cloneUrl(job.repo_id),
    title: job.title,
    description: job.description,
    base_branch: job.base_branch,
    branch: job.branch_name,
    agent: job.agent,
    command,
    prompt: renderPrompt(job, readme),
    timeout_ms: job.timeout_s * 1000,
    lease_expires_in_ms: attempt.lease_expires_ms - Date.now(),
  };
}
