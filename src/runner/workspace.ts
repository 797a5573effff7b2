import fs from 'node:fs';
import path from 'node:path';
import { git as gitRun, GitError, gitOk, isValidBranchName, lastGitMessage, redactUrls, type GitOptions } from '../shared/git.js';
import type { Assignment } from '../shared/protocol.js';
import { gitEnv } from './env.js';
import { retryTransientGit, type GitRetryOptions } from './git-retry.js';

/** A step of preparing or publishing a workspace failed; the message is one line for the job's error. */
export class WorkspaceError extends Error {}

export type WorkspaceJob = Pick<Assignment, 'repo_id' | 'attempt_id' | 'clone_url' | 'job_token' | 'base_branch' | 'branch' | 'prompt'>;

export interface WorkspaceOptions {
  /** The runner's own folder: `repos/<repo id>` holds a cached clone per repo, `jobs/<attempt id>` a job's files. */
  workdir: string;
  /** Progress, one line at a time ("cloning", "using cached repo"). */
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export interface Workspace {
  /** The checkout the command runs in: the repo's cached clone, on the job branch at the base commit. */
  dir: string;
  baseCommit: string;
  /** Outside the checkout, so it is never committed; removed by `removeJobFiles`. */
  jobDir: string;
  promptFile: string;
  /** Whether this job had to clone (false: the cache was fetched into). */
  cloned: boolean;
}

/** What a command may leave in .git that would break or confuse the next job's checkout. */
const LEFTOVER_GIT_STATE = ['index.lock', 'HEAD.lock', 'MERGE_HEAD', 'MERGE_MSG', 'CHERRY_PICK_HEAD', 'REVERT_HEAD', 'BISECT_LOG', 'rebase-merge', 'rebase-apply', 'sequencer'];

/**
 * Brings the repo's cached clone up to date (cloning only the first time), then checks out a
 * clean job branch at the base branch's commit: forced checkout and `git clean -ffdx`, so nothing
 * a previous job left behind leaks into this one. The job token reaches git through its
 * environment only.
 */
export async function prepareWorkspace(job: WorkspaceJob, opts: WorkspaceOptions): Promise<Workspace> {
  assertSafeId(job.repo_id, 'repo id');
  assertSafeId(job.attempt_id, 'attempt id');
  if (!isValidBranchName(job.base_branch)) throw new WorkspaceError(`invalid base branch name: ${job.base_branch}`);
  if (!isValidBranchName(job.branch)) throw new WorkspaceError(`invalid job branch name: ${job.branch}`);
  const log = opts.log ?? (() => {});
  const dir = path.join(opts.workdir, 'repos', job.repo_id);
  const git: GitOptions = { cwd: dir, env: gitEnv({ url: job.clone_url, token: job.job_token }), signal: opts.signal };
  const retry: GitRetryOptions = { signal: opts.signal, log };

  let cloned = false;
  let fetched: string | undefined;
  if (isClone(dir)) {
    log('using cached repo');
    resetGitDir(dir);
    try {
      fetched = await fetchBase(job, git, retry);
    } catch (err) {
      if (err instanceof WorkspaceError) throw err;
      log(`cached repo is unusable (${errorLine(err)}); cloning again`);
      await clone(job, dir, git, retry);
      cloned = true;
    }
  } else {
    log(`cloning ${redactUrls(job.clone_url)}`);
    await clone(job, dir, git, retry);
    cloned = true;
  }

  const baseCommit = fetched ?? (await resolveBase(job, git));
  await step(gitOk(['checkout', '-q', '-f', '-B', job.branch, baseCommit], git), 'cannot check out the job branch');
  await step(gitOk(['clean', '-q', '-ffdx'], git), 'cannot clean the workspace');

  const jobDir = path.join(opts.workdir, 'jobs', job.attempt_id);
  fs.rmSync(jobDir, { recursive: true, force: true });
  fs.mkdirSync(jobDir, { recursive: true, mode: 0o700 });
  const promptFile = path.join(jobDir, 'prompt.md');
  fs.writeFileSync(promptFile, job.prompt, { mode: 0o600 });
  return { dir, baseCommit, jobDir, promptFile, cloned };
}

export function removeJobFiles(ws: Pick<Workspace, 'jobDir'>): void {
  fs.rmSync(ws.jobDir, { recursive: true, force: true });
}

/** After the job: the cache keeps no job branches, so later fetches do not negotiate over thousands of them. */
export async function forgetJobBranch(ws: Pick<Workspace, 'dir'>, branch: string): Promise<void> {
  const local: GitOptions = { cwd: ws.dir, env: gitEnv() };
  try {
    await gitRun(['checkout', '-q', '--detach'], local);
    await gitRun(['branch', '-q', '-D', branch], local);
  } catch {
    // Tidying only: the next job's checkout does not depend on it.
  }
}

async function clone(job: WorkspaceJob, dir: string, git: GitOptions, retry: GitRetryOptions): Promise<void> {
  const attempt = async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(pristineConfigPath(dir), { force: true });
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    await gitOk(['clone', '-q', '--no-checkout', '--no-tags', '--origin', 'origin', job.clone_url, dir], { ...git, cwd: path.dirname(dir) });
  };
  await step(retryTransientGit(attempt, retry), 'git clone failed');
  fs.copyFileSync(path.join(dir, '.git', 'config'), pristineConfigPath(dir));
}

async function resolveBase(job: WorkspaceJob, git: GitOptions): Promise<string> {
  const base = await gitRun(['rev-parse', '--verify', '--quiet', `refs/remotes/origin/${job.base_branch}^{commit}`], git);
  if (base.code !== 0) throw new WorkspaceError(`base branch "${job.base_branch}" not found on the server`);
  return base.stdout.trim();
}

/**
 * Fetches only the base branch and returns its commit, read from FETCH_HEAD (one git process less
 * on the path from assignment to command); WorkspaceError when the server has no such branch.
 */
async function fetchBase(job: WorkspaceJob, git: GitOptions, retry: GitRetryOptions): Promise<string> {
  try {
    const refspec = `+refs/heads/${job.base_branch}:refs/remotes/origin/${job.base_branch}`;
    await retryTransientGit(() => gitOk(['fetch', '-q', '--no-tags', job.clone_url, refspec], git), retry);
    const fetchHead = /^([0-9a-f]{40}(?:[0-9a-f]{24})?)\t/.exec(fs.readFileSync(path.join(git.cwd as string, '.git', 'FETCH_HEAD'), 'utf8'));
    return fetchHead?.[1] ?? (await resolveBase(job, git));
  } catch (err) {
    if (err instanceof GitError && /couldn't find remote ref/i.test(err.result.stderr)) throw new WorkspaceError(`base branch "${job.base_branch}" not found on the server`);
    // The server refused or could not be reached: cloning again would not help, and would lose the cache.
    if (err instanceof GitError && /unable to access|authentication failed|could not read|RPC failed|HTTP \d{3}/i.test(err.result.stderr)) {
      throw new WorkspaceError(`git fetch failed: ${errorLine(err)}`);
    }
    throw err;
  }
}

/** A previous job may have rewritten .git/config or left an operation half done: put both back. */
function resetGitDir(dir: string): void {
  const gitDir = path.join(dir, '.git');
  for (const name of LEFTOVER_GIT_STATE) fs.rmSync(path.join(gitDir, name), { recursive: true, force: true });
  if (fs.existsSync(pristineConfigPath(dir))) fs.copyFileSync(pristineConfigPath(dir), path.join(gitDir, 'config'));
}

function isClone(dir: string): boolean {
  return fs.existsSync(path.join(dir, '.git', 'HEAD'));
}

/** Kept next to the clone, out of the command's checkout. */
function pristineConfigPath(dir: string): string {
  return `${dir}.gitconfig`;
}

function assertSafeId(id: string, what: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id)) throw new WorkspaceError(`invalid ${what} from the server: ${JSON.stringify(id.slice(0, 80))}`);
}

/** Awaits a git step; a failure becomes a one-line WorkspaceError: "<what>: <git's own message>". */
export async function step<T>(promise: Promise<T>, what: string): Promise<T> {
  try {
    return await promise;
  } catch (err) {
    if (err instanceof WorkspaceError || (err as Error).name === 'AbortError') throw err;
    throw new WorkspaceError(`${what}: ${errorLine(err)}`);
  }
}

/** One line for an error: for git, the ref it refused and why ("! [remote rejected] ..."), else its last error line. */
export function errorLine(err: unknown): string {
  const refused = err instanceof GitError ? err.result.stderr.split('\n').find((l) => /^\s*! /.test(l))?.trim() : undefined;
  const message = refused ?? (err instanceof GitError ? lastGitMessage(err.result.stderr) || err.message : (err as Error).message);
  return redactUrls(message.split('\n')[0] ?? '').slice(0, 500);
}
