import fs from 'node:fs';
import path from 'node:path';
import { git, GitError, gitOk, isValidBranchName, lastGitMessage, redactUrls, type GitOptions } from '../shared/git.js';
import { discardTree, removeTree, restoreAccess } from '../shared/remove-tree.js';
import { cachePath, createCache, inspectCache } from './cache.js';
import type { Assignment } from '../shared/protocol.js';
import { gitEnv } from './env.js';
import { retryTransientGit, type GitRetryOptions } from './git-retry.js';

/** A step of preparing or publishing a workspace failed; the message is one line for the job's error. */
export class WorkspaceError extends Error {}

export type WorkspaceJob = Pick<Assignment, 'repo_id' | 'attempt_id' | 'clone_url' | 'job_token' | 'base_branch' | 'base_commit' | 'branch' | 'prompt'>;

export interface WorkspaceOptions {
  /** The runner's own folder: `cache/<repo id>.git` and the checkout `work/<repo id>` per repo, `jobs/<attempt id>` per job. */
  workdir: string;
  /** Progress, one line at a time ("cloning", "using cached repo"). */
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export interface Workspace {
  /** The checkout the command runs in (one per repo, reused): a fresh repository on the job branch at the base commit. */
  dir: string;
  /** The runner's bare cache of the repo; the checkout borrows its objects. */
  cacheDir: string;
  baseCommit: string;
  /** Holds the prompt file, outside the checkout; removed by `removeJobFiles`. */
  jobDir: string;
  promptFile: string;
  /** Whether this job had to clone (false: the cache was fetched into). */
  cloned: boolean;
}

/**
 * Brings the repo's cache up to date (cloning only the first time, or when a job tampered with
 * it), then readies the repo's checkout for this job: a new repository whose objects come from
 * the cache (as alternates) on the job branch at the base branch's commit. Nothing a previous job
 * did to the checkout survives it. The job token reaches git through its environment only.
 */
export async function prepareWorkspace(job: WorkspaceJob, opts: WorkspaceOptions): Promise<Workspace> {
  assertSafeId(job.repo_id, 'repo id');
  assertSafeId(job.attempt_id, 'attempt id');
  if (!isValidBranchName(job.base_branch)) throw new WorkspaceError(`invalid base branch name: ${job.base_branch}`);
  if (!isValidBranchName(job.branch)) throw new WorkspaceError(`invalid job branch name: ${job.branch}`);
  if (!/^https?:\/\/[^\s"\\]+$/.test(job.clone_url)) throw new WorkspaceError('invalid clone URL from the server');
  const log = opts.log ?? (() => {});
  const cacheDir = cachePath(opts.workdir, job.repo_id);
  const git: GitOptions = { cwd: cacheDir, env: gitEnv({ url: job.clone_url, token: job.job_token }), signal: opts.signal };
  const retry: GitRetryOptions = { signal: opts.signal, log };

  let cloned = false;
  /** The fetch, or a clone when the cache is missing, distrusted or unusable: the base commit. */
  const refresh = async (distrust: string | undefined): Promise<string> => {
    if (distrust === undefined) {
      log('using cached repo');
      try {
        return await fetchBase(job, git, retry);
      } catch (err) {
        if (err instanceof WorkspaceError) throw err;
        log(`cached repo is unusable (${errorLine(err)}); cloning again`);
      }
    } else {
      if (distrust !== 'none yet') log(`cached repo cannot be trusted (${distrust}); cloning again`);
      log(`cloning ${redactUrls(job.clone_url)}`);
    }
    cloned = true;
    return cloneBase(job, git, retry);
  };
  const distrust = fs.existsSync(cacheDir) ? await inspectCache(cacheDir) : 'none yet';
  const skipFetch = distrust === undefined && job.base_commit !== undefined && fetchedBases.get(cacheDir)?.get(job.base_branch) === job.base_commit;
  if (skipFetch) log('using cached repo (at the base commit already)');
  let baseCommit = skipFetch ? job.base_commit! : await assignedOrFetched(job, await refresh(distrust), cacheDir, log, opts.signal);

  const dir = path.join(opts.workdir, 'work', job.repo_id);
  try {
    await step(checkout(job, dir, cacheDir, baseCommit, log, opts.signal), 'cannot check out the job branch');
  } catch (err) {
    if (!skipFetch || isAbort(err)) throw err;
    // Without a fetch nothing read the cache's objects since the last job: one that ran unsandboxed
    // may have closed or broken them (chmod 000), which the inspection does not look for. The
    // fetch finds out, and a clone starts over.
    log(`the cached repo cannot give the base commit (${errorLine(err)}); fetching it`);
    fetchedBases.delete(cacheDir);
    baseCommit = await assignedOrFetched(job, await refresh(undefined), cacheDir, log, opts.signal);
    await step(checkout(job, dir, cacheDir, baseCommit, log, opts.signal), 'cannot check out the job branch');
  }
  const jobDir = path.join(opts.workdir, 'jobs', job.attempt_id);
  fs.rmSync(jobDir, { recursive: true, force: true });
  fs.mkdirSync(jobDir, { recursive: true, mode: 0o700 });
  const promptFile = path.join(jobDir, 'prompt.md');
  fs.writeFileSync(promptFile, job.prompt, { mode: 0o600 });
  return { dir, cacheDir, baseCommit, jobDir, promptFile, cloned };
}

/**
 * The commit the job starts from: the one its assignment names (the base branch at the claim, or
 * for a task's candidate the commit of the task's submit, which all its candidates share) when the
 * fetch brought it, else the branch as fetched (the commit is gone: the branch was replaced).
 */
async function assignedOrFetched(job: WorkspaceJob, fetched: string, cacheDir: string, log: (line: string) => void, signal?: AbortSignal): Promise<string> {
  const assigned = job.base_commit;
  if (assigned === undefined || assigned === fetched) return fetched;
  // The protocol's schema holds it to a full hex object name: never an option or a revision expression.
  const found = await git(['cat-file', '-e', `${assigned}^{commit}`], { cwd: cacheDir, signal });
  if (found.code === 0) {
    log(`starting from ${assigned.slice(0, 12)} as assigned (${job.base_branch} is at ${fetched.slice(0, 12)} now)`);
    return assigned;
  }
  log(`the assigned base commit ${assigned.slice(0, 12)} is not on ${job.base_branch} any more; starting from ${fetched.slice(0, 12)}`);
  return fetched;
}

export function removeJobFiles(ws: Pick<Workspace, 'jobDir'>): void {
  fs.rmSync(ws.jobDir, { recursive: true, force: true });
}

async function cloneBase(job: WorkspaceJob, git: GitOptions, retry: GitRetryOptions): Promise<string> {
  fetchedBases.delete(git.cwd as string);
  await step(createCache(git.cwd as string), 'cannot create the repo cache');
  return fetchBase(job, git, retry);
}

/**
 * The runner's own index of each repo's checkout, as it left it, with the index file's time.
 * Kept in this process's memory, where no job can reach it; a runner that restarts does one full
 * checkout per repo. The time matters: git re-reads a file whose time is not older than the
 * index's (a change in the same clock tick keeps size and time), so the index goes back with its
 * old time (cut to milliseconds: never later than it was, so git re-reads at least as much).
 */
const savedIndexes = new Map<string, { data: Buffer; mtime: Date }>();

/**
 * Makes the repo's checkout ready for the job (see resetCheckout). A previous job may have closed
 * directories of it (chmod 000 in the work tree or in .git), which a runner that is not root cannot
 * clean: their owner opens them again and tries once more; what even that cannot clean (another
 * user's directory, an immutable file) is moved aside for a fresh checkout, which costs one full
 * checkout instead of every later job of the repo.
 */
async function checkout(
  job: WorkspaceJob,
  dir: string,
  cacheDir: string,
  baseCommit: string,
  log: (line: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  const reset = () => resetCheckout(job, dir, cacheDir, baseCommit, signal);
  try {
    return await reset();
  } catch (err) {
    if (isAbort(err)) throw err;
    log(`the checkout cannot be cleaned (${errorLine(err)}); opening its directories again`);
  }
  await restoreAccess(dir);
  try {
    return await reset();
  } catch (err) {
    if (isAbort(err)) throw err;
    log(`the checkout still cannot be cleaned (${errorLine(err)}); starting a fresh checkout`);
  }
  savedIndexes.delete(cacheDir);
  await discardTree(dir, (aside, why) => log(`the old checkout stays at ${aside}: ${why.split('\n')[0]}`));
  await reset();
}

function isAbort(err: unknown): boolean {
  return (err as Error).name === 'AbortError';
}

/**
 * Makes the repo's checkout ready for the job: a new `.git` (so no config, hook, ref or object a
 * previous job left in its repository survives), with objects borrowed from the cache, `origin`
 * naming the internal server (without credentials) and `origin/<base>` at the base commit; then
 * the job branch at the base commit, reset hard and cleaned. The files of the previous checkout
 * stay, so only what changed is rewritten: the runner's own index from last time tells git which
 * files are untouched (a file a job changed has a new ctime, which nobody can set back).
 */
async function resetCheckout(job: WorkspaceJob, dir: string, cacheDir: string, baseCommit: string, signal?: AbortSignal): Promise<void> {
  const gitDir = path.join(dir, '.git');
  await removeTree(gitDir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const local: GitOptions = { cwd: dir, env: gitEnv(), signal };
  await initRepo(dir, job.branch, local);
  fs.writeFileSync(path.join(gitDir, 'objects', 'info', 'alternates'), `${path.join(cacheDir, 'objects')}\n`);
  fs.appendFileSync(path.join(gitDir, 'config'), `[remote "origin"]\n\turl = ${job.clone_url}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n`);
  const baseRef = path.join(gitDir, 'refs', 'remotes', 'origin', ...job.base_branch.split('/'));
  fs.mkdirSync(path.dirname(baseRef), { recursive: true });
  fs.writeFileSync(baseRef, `${baseCommit}\n`);

  const indexFile = path.join(gitDir, 'index');
  const saved = savedIndexes.get(cacheDir);
  if (saved) {
    fs.writeFileSync(indexFile, saved.data);
    fs.utimesSync(indexFile, saved.mtime, saved.mtime);
  }
  await gitOk(['reset', '-q', '--hard', baseCommit], local);
  await gitOk(['clean', '-q', '-ffdx'], local);
  saveIndex(dir, cacheDir);
}

function saveIndex(dir: string, cacheDir: string): void {
  const indexFile = path.join(dir, '.git', 'index');
  savedIndexes.set(cacheDir, { data: fs.readFileSync(indexFile), mtime: fs.statSync(indexFile).mtime });
}

/**
 * After the runner changed the checkout's files' owner (a job user's wall): their new owner and
 * ctime go into the index the runner keeps, or the next job's reset, seeing every file's stat
 * changed, would write every file again (0.3 s for 500 files in a container), hand them all to
 * the job user again, and so on at every job.
 */
export async function rememberCheckout(ws: Pick<Workspace, 'dir' | 'cacheDir'>, signal?: AbortSignal): Promise<void> {
  // -q: files whose content differs (none, right after the reset) would otherwise be an error.
  await gitOk(['update-index', '-q', '--refresh'], { cwd: ws.dir, env: gitEnv(), signal });
  saveIndex(ws.dir, ws.cacheDir);
}

/** The config `git init` writes on this machine (it probes the file system), learnt from the first checkout. */
let initConfig: string | undefined;

/**
 * `git init --template=` on the first checkout; after that the same few files are written
 * directly, one git process less between assignment and command.
 */
async function initRepo(dir: string, branch: string, local: GitOptions): Promise<void> {
  const gitDir = path.join(dir, '.git');
  if (initConfig === undefined) {
    await gitOk(['init', '-q', '--template=', `--initial-branch=${branch}`, dir], local);
    initConfig = fs.readFileSync(path.join(gitDir, 'config'), 'utf8');
    return;
  }
  for (const sub of ['objects/info', 'objects/pack', 'refs/heads', 'refs/tags']) fs.mkdirSync(path.join(gitDir, sub), { recursive: true });
  fs.writeFileSync(path.join(gitDir, 'config'), initConfig);
  fs.writeFileSync(path.join(gitDir, 'HEAD'), `ref: refs/heads/${branch}\n`);
}

/**
 * What this process last fetched into each cache, per base branch: the commit its
 * `refs/remotes/origin/<branch>` holds, so the cache has it and keeps it (a reachable commit is
 * never pruned). A job whose assignment names that commit skips the fetch: it was the largest
 * step between the claim and the command (40-240 ms of a warm agent job's 70-300 ms on the
 * 2-core machine; git, git-remote-http, a connectivity check and auto-maintenance, and an
 * upload-pack on the server). Kept in memory, where no job can reach it (jobs see the cache's
 * objects only, read-only), and checked after the cache was inspected; a cache cloned again
 * starts empty.
 */
const fetchedBases = new Map<string, Map<string, string>>();

/**
 * Fetches only the base branch into the cache and returns its commit, read from FETCH_HEAD (one
 * git process less on the path from assignment to command); WorkspaceError when the server has no
 * such branch.
 */
async function fetchBase(job: WorkspaceJob, git: GitOptions, retry: GitRetryOptions): Promise<string> {
  // Forgotten until this fetch succeeds: a failed one may have moved the ref all the same.
  fetchedBases.get(git.cwd as string)?.delete(job.base_branch);
  try {
    const refspec = `+refs/heads/${job.base_branch}:refs/remotes/origin/${job.base_branch}`;
    await retryTransientGit(() => gitOk(['fetch', '-q', '--no-tags', job.clone_url, refspec], git), retry);
    const fetched = fetchedCommit(git.cwd as string);
    if (!fetched) throw new WorkspaceError(`base branch "${job.base_branch}" not found on the server`);
    const bases = fetchedBases.get(git.cwd as string) ?? new Map<string, string>();
    fetchedBases.set(git.cwd as string, bases.set(job.base_branch, fetched));
    return fetched;
  } catch (err) {
    if (err instanceof GitError && /couldn't find remote ref/i.test(err.result.stderr))
      throw new WorkspaceError(`base branch "${job.base_branch}" not found on the server`);
    // The server refused or could not be reached: cloning again would not help, and would lose the cache.
    if (err instanceof GitError && /unable to access|authentication failed|could not read|RPC failed|HTTP \d{3}/i.test(err.result.stderr)) {
      throw new WorkspaceError(`git fetch failed: ${errorLine(err)}`);
    }
    throw err;
  }
}

function assertSafeId(id: string, what: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id)) throw new WorkspaceError(`invalid ${what} from the server: ${JSON.stringify(id.slice(0, 80))}`);
}

/** Awaits a git step; a failure becomes a one-line WorkspaceError: "<what>: <git's own message>". */
export async function step<T>(promise: Promise<T>, what: string): Promise<T> {
  try {
    return await promise;
  } catch (err) {
    if (err instanceof WorkspaceError || isAbort(err)) throw err;
    throw new WorkspaceError(`${what}: ${errorLine(err)}`);
  }
}

/** One line for an error: for git, the ref it refused and why ("! [remote rejected] ..."), else its last error line. */
export function errorLine(err: unknown): string {
  const refused =
    err instanceof GitError
      ? err.result.stderr
          .split('\n')
          .find((l) => /^\s*! /.test(l))
          ?.trim()
      : undefined;
  const message = refused ?? (err instanceof GitError ? lastGitMessage(err.result.stderr) || err.message : (err as Error).message);
  return redactUrls(message.split('\n')[0] ?? '').slice(0, 500);
}

/** The commit the last fetch into `gitDir` brought: the first line of its FETCH_HEAD. */
export function fetchedCommit(gitDir: string): string | undefined {
  return /^([0-9a-f]{40}(?:[0-9a-f]{24})?)\t/.exec(fs.readFileSync(path.join(gitDir, 'FETCH_HEAD'), 'utf8'))?.[1];
}
