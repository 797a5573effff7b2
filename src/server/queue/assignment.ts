import type { AgentAdapter } from '../../shared/agents/adapter.js';
import { AGENT_ADAPTERS } from '../../shared/agents/index.js';
import type { AgentRun, Assignment } from '../../shared/protocol.js';
import { shellWord } from '../../shared/git.js';
import { SHELL_AGENT } from '../../shared/job-status.js';
import { agentCredentialNames, agentCredentials } from '../agent-credentials.js';
import type { RepoEnvironment } from '../../shared/environment.js';
import { environmentForJob } from '../environment.js';
import type { SecretLookup } from '../repo-secrets.js';
import { bareRepoPath, readBranchCommit, readFileAt } from '../git/bare.js';
import { BUILTIN_AGENTS, renderPrompt, type Agents } from './agents.js';
import type { Claimed } from './queue.js';
import type { Continuation } from './resume.js';

export interface AssignmentSources {
  reposDir: string;
  agents: () => Agents;
  /** The URL the runner clones from: it depends on how the runner reached the server. */
  cloneUrl: (repoId: string) => string;
  /** The secrets stored for a job of this repo, by name: an agent job's credentials come from them and the environment (agentCredentials). */
  secrets: (repoId: string) => Readonly<Record<string, string>>;
  /** The model of each built-in agent for a job that names none (LAZYAF_AGENT_MODELS); none: the agent's own default. */
  agentModels?: Readonly<Record<string, string>>;
  /** For a follow-up that continues its parent's conversation: what to resume, and the parent's summary (continuationFor). */
  continuation?: (job: Claimed['job'], attemptId: string) => Continuation;
  /** Where a repo's environment comes from besides its `.lazyaf.yml`; without it no environment is read. */
  environment?: EnvironmentSources;
  /** The commit a job of a task must start from whatever its base branch says by now (a task's candidates: the commit of their submit), or undefined. */
  pinnedBase?: (jobId: string) => string | undefined;
}

export interface EnvironmentSources {
  /** The server's override of the repo's environment, or null. */
  override: (repoId: string) => RepoEnvironment | null;
  /** The repo's name, for the command an error about a missing secret suggests. */
  repoName: (repoId: string) => string;
  /** A secret's value by name, for the names `secrets` and `job_secrets` list. */
  lookup: SecretLookup;
}

/** What a runner is told about the job it claimed: the command to run and, for an agent, the prompt with the repo's README. */
export async function assignmentFor(claimed: Claimed, from: AssignmentSources): Promise<Assignment> {
  const { job, attempt, jobToken } = claimed;
  const template = job.agent === SHELL_AGENT ? (job.command ?? '') : (from.agents().get(job.agent) ?? '');
  const adapter = adapterFor(job.agent, template);
  // Read at assignment, not at submit: a queued job gets the default the server has when it runs.
  const model = job.model ?? (adapter && from.agentModels && Object.hasOwn(from.agentModels, adapter.name) ? from.agentModels[adapter.name]! : null);
  const stored = job.agent === SHELL_AGENT ? {} : from.secrets(job.repo_id);
  const agentRun: AgentRun | undefined = adapter && {
    name: adapter.name,
    model,
    env: agentCredentials(adapter.credentials, process.env, stored),
    ...(from.continuation?.(job, attempt.id) ?? { resume: null }),
  };
  // A template (aider, one of agents.json) names no credentials: it gets every agent's the server holds.
  const templateEnv = !adapter && job.agent !== SHELL_AGENT ? agentCredentials(agentCredentialNames(process.env, stored), process.env, stored) : undefined;
  const command = adapter ? displayCommand(adapter, model) : template;
  const repoPath = bareRepoPath(from.reposDir, job.repo_id);
  const readme = job.agent === SHELL_AGENT ? undefined : await readFileAt(repoPath, job.base_branch, 'README.md', 16_000);
  const baseCommit = (job.task_id === null ? undefined : from.pinnedBase?.(job.id)) ?? (await readBranchCommit(repoPath, job.base_branch));
  // At the commit the runner checks out, so the file and the code it prepares are the same version.
  const environment = from.environment;
  const env = environment
    ? await environmentForJob(repoPath, baseCommit ?? `refs/heads/${job.base_branch}`, {
        repoId: job.repo_id,
        // Read only for the message about a missing secret.
        repoName: () => environment.repoName(job.repo_id),
        override: environment.override(job.repo_id),
        lookup: environment.lookup,
        requireChecks: job.require_checks === null ? null : job.require_checks === 1,
      })
    : {};
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
    ...(baseCommit ? { base_commit: baseCommit } : {}),
    branch: job.branch_name,
    agent: job.agent,
    command,
    prompt: renderPrompt(job, readme, env.environment?.checks),
    ...(agentRun ? { agent_run: agentRun } : {}),
    ...(templateEnv ? { agent_env: templateEnv } : {}),
    ...env,
    timeout_ms: job.timeout_s * 1000,
    lease_expires_in_ms: attempt.lease_expires_ms - Date.now(),
  };
}

/** The adapter a job's agent runs through: a built-in one whose template `<data>/agents.json` did not replace. */
function adapterFor(agent: string, template: string): AgentAdapter | undefined {
  const builtin = (BUILTIN_AGENTS as Readonly<Record<string, string>>)[agent];
  return Object.hasOwn(BUILTIN_AGENTS, agent) && template === builtin ? AGENT_ADAPTERS.get(agent) : undefined;
}

/**
 * The adapter's command line as a shell command, for people to read (the job's view): what the
 * runner runs, with the prompt on stdin.
 */
function displayCommand(adapter: AgentAdapter, model: string | null): string {
  const { argv } = adapter.launch({ prompt: '', promptFile: '', home: '', workspace: '', model, resumeSessionId: null, credentials: {} });
  return `${argv.map(shellWord).join(' ')} < "$LAZYAF_PROMPT_FILE"`;
}
