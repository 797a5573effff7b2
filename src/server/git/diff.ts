import { spawn } from 'node:child_process';
import type { DiffFile, JobDiff } from '../../shared/api.js';
import { git, isValidBranchName, nonInteractiveEnv } from '../../shared/git.js';
import { ApiError } from '../errors.js';

/** What of a job its diff needs: its commit, where its branch started, and its base branch. */
export interface DiffSubject {
  id: string;
  branch_name: string;
  base_branch: string;
  commit_sha: string | null;
  base_commit: string | null;
}

export interface DiffOptions {
  maxBytes: number;
  stat: boolean;
  signal?: AbortSignal;
}

/** A full object name, SHA-1 or SHA-256: the only form a stored commit may reach git in. */
const SHA_RE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/**
 * Options for every diff here: no external diff driver or textconv filter runs (a job could not
 * name one, the bare repo's config is the server's, but a diff must never start a program), no
 * colour, renames found.
 */
const DIFF_ARGS = ['diff', '--no-ext-diff', '--no-textconv', '--no-color', '-M'];

/**
 * The answer's shape is the API's: no user or system git config of the server's account may
 * change it (diff.noprefix, diff.mnemonicPrefix, core.quotePath), nor a replace ref what it shows.
 */
const diffEnv = () => nonInteractiveEnv({ GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_NO_REPLACE_OBJECTS: '1' });

/** The job's changes against the commit its branch started from, read from the bare repo. */
export async function jobDiff(repoPath: string, job: DiffSubject, opts: DiffOptions): Promise<JobDiff> {
  const empty: JobDiff = {
    job_id: job.id,
    branch: job.branch_name,
    commit: null,
    base_commit: job.base_commit,
    files: [],
    added: 0,
    removed: 0,
    diff: '',
    truncated: false,
  };
  if (!job.commit_sha) return empty;
  const commit = await mustHaveCommit(repoPath, job.commit_sha, `job ${job.id.slice(0, 8)}'s commit`);
  const base = job.base_commit ? await mustHaveCommit(repoPath, job.base_commit, 'the commit its branch started from') : await mergeBase(repoPath, job, commit);
  // Side by side: each git computes the whole diff (a file's hunks come only once all of it is
  // compared), which for a 60 MB file of 8 million changed lines took 8 s and 9 s one after the other (a loaded two-core machine).
  const [files, unified] = await Promise.all([
    changedFiles(repoPath, base, commit),
    opts.stat ? { text: '', truncated: false } : unifiedDiff(repoPath, base, commit, opts.maxBytes, opts.signal),
  ]);
  return {
    ...empty,
    commit,
    base_commit: base,
    files,
    added: files.reduce((n, f) => n + (f.added ?? 0), 0),
    removed: files.reduce((n, f) => n + (f.removed ?? 0), 0),
    diff: unified.text,
    truncated: unified.truncated,
  };
}

/** The commit `sha` names, checked to be a full sha of a commit still in the repo, else a 409. */
async function mustHaveCommit(repoPath: string, sha: string, what: string): Promise<string> {
  if (!SHA_RE.test(sha)) throw new ApiError(409, `${what} is not a commit id: ${JSON.stringify(sha)}`);
  const found = await git(['cat-file', '-e', `${sha}^{commit}`], { cwd: repoPath, env: diffEnv() });
  if (found.code !== 0) throw new ApiError(409, `${what} ${sha.slice(0, 12)} is no longer in the repo (its branch was deleted?)`);
  return sha;
}

/** A job that did not report its start: the fork point of its commit and its base branch. */
async function mergeBase(repoPath: string, job: DiffSubject, commit: string): Promise<string> {
  const gone = new ApiError(
    409,
    `cannot tell which commit job ${job.id.slice(0, 8)} started from: its base branch "${job.base_branch}" is gone or shares no history with it`,
  );
  if (!isValidBranchName(job.base_branch)) throw gone;
  const r = await git(['merge-base', commit, `refs/heads/${job.base_branch}`], { cwd: repoPath, env: diffEnv() });
  const base = r.stdout.trim();
  if (r.code !== 0 || !SHA_RE.test(base)) throw gone;
  return base;
}

/** Each changed file with its status (name-status) and line counts (numstat; null for a binary file). */
async function changedFiles(repoPath: string, base: string, commit: string): Promise<DiffFile[]> {
  const range = [base, commit, '--'];
  const [status, counts] = await Promise.all([
    git([...DIFF_ARGS, '--name-status', '-z', ...range], { cwd: repoPath, env: diffEnv() }),
    git([...DIFF_ARGS, '--numstat', '-z', ...range], { cwd: repoPath, env: diffEnv() }),
  ]);
  if (status.code !== 0 || counts.code !== 0) throw new Error(`git diff failed: ${status.stderr}${counts.stderr}`);
  const lineCounts = parseNumstat(counts.stdout);
  return parseNameStatus(status.stdout).map((f) => {
    const n = lineCounts.get(f.path);
    return { ...f, added: n?.added ?? null, removed: n?.removed ?? null, binary: n !== undefined && n.added === null };
  });
}

/** `--name-status -z`: `S\0path\0`, or `R100\0old\0new\0` for a rename or copy. */
function parseNameStatus(out: string): Pick<DiffFile, 'path' | 'old_path' | 'status'>[] {
  const fields = out.split('\0');
  const files: Pick<DiffFile, 'path' | 'old_path' | 'status'>[] = [];
  for (let i = 0; i + 1 < fields.length;) {
    const code = fields[i++]!;
    const letter = code.charAt(0);
    if (letter === 'R' || letter === 'C') {
      files.push({ status: letter, old_path: fields[i]!, path: fields[i + 1]! });
      i += 2;
    } else {
      files.push({ status: letter, old_path: null, path: fields[i++]! });
    }
  }
  return files;
}

/** `--numstat -z`: `added\tremoved\tpath\0`, or `added\tremoved\t\0old\0new\0`; `-` counts for a binary file. */
function parseNumstat(out: string): Map<string, { added: number | null; removed: number | null }> {
  const fields = out.split('\0');
  const counts = new Map<string, { added: number | null; removed: number | null }>();
  for (let i = 0; i < fields.length; i++) {
    const m = /^(\d+|-)\t(\d+|-)\t([\s\S]*)$/.exec(fields[i]!);
    if (!m) continue;
    let path = m[3]!;
    if (path === '') {
      // A rename or copy: the old and the new path follow as fields of their own.
      path = fields[i + 2] ?? '';
      i += 2;
    }
    counts.set(path, { added: m[1] === '-' ? null : Number(m[1]), removed: m[2] === '-' ? null : Number(m[2]) });
  }
  return counts;
}

/**
 * The unified diff, read from git's stdout until `maxBytes`: past it git is stopped and a marker
 * line ends the text, so a huge diff never costs more than the cap in memory.
 */
function unifiedDiff(repoPath: string, base: string, commit: string, maxBytes: number, signal?: AbortSignal): Promise<{ text: string; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', [...DIFF_ARGS, base, commit, '--'], { cwd: repoPath, env: diffEnv(), stdio: ['ignore', 'pipe', 'pipe'], signal });
    const kept: Buffer[] = [];
    let size = 0;
    let truncated = false;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      if (truncated) return;
      if (size + chunk.length <= maxBytes) {
        kept.push(chunk);
        size += chunk.length;
        return;
      }
      kept.push(chunk.subarray(0, maxBytes - size));
      truncated = true;
      child.stdout.destroy();
      child.kill('SIGTERM');
    });
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-2000)));
    child.on('error', reject);
    child.on('close', (code) => {
      if (!truncated && code !== 0) return reject(new Error(`git diff failed (${code}): ${stderr}`));
      const text = Buffer.concat(kept).toString('utf8');
      if (!truncated) return resolve({ text, truncated });
      // Cut at the last whole line, so no half character or half line precedes the marker.
      const cut = text.lastIndexOf('\n') + 1;
      resolve({ text: `${text.slice(0, cut)}${truncationMarker(maxBytes)}\n`, truncated });
    });
  });
}

/** The line that ends a capped diff; it cannot be mistaken for a diff line (no +, -, space or @ start). */
function truncationMarker(maxBytes: number): string {
  return `[lazyaf: diff truncated at ${maxBytes} bytes; the list of files and their counts is complete]`;
}
