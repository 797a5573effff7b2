import { DIFF_LIST_MAX_BYTES, type DiffFile, type JobDiff } from '../../shared/api.js';
import { git, isValidBranchName, nonInteractiveEnv, type GitResult } from '../../shared/git.js';
import { ApiError } from '../errors.js';
import { Slots } from '../slots.js';

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
  /** The most files listed; past it the list is cut and `files_truncated`. */
  maxFiles: number;
  stat: boolean;
  signal?: AbortSignal;
}

/** A full object name, SHA-1 or SHA-256: the only form a stored commit may reach git in. */
export const SHA_RE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/**
 * Options for every diff here: no external diff driver or textconv filter runs (a job could not
 * name one, the bare repo's config is the server's, but a diff must never start a program), no
 * colour, renames found.
 */
export const DIFF_ARGS = ['diff', '--no-ext-diff', '--no-textconv', '--no-color', '-M'];

/**
 * The answer's shape is the API's: no user or system git config of the server's account may
 * change it (diff.noprefix, diff.mnemonicPrefix, core.quotePath), nor a replace ref what it shows.
 */
export const diffEnv = () => nonInteractiveEnv({ GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_NO_REPLACE_OBJECTS: '1' });

/**
 * Diffs computed at once; the others wait their turn. git holds every changed path of a diff in
 * memory before it prints the first (about 1.1 GB per git for a job's 160,000 paths of 3.5 KB,
 * and one diff runs up to three), so requests side by side would multiply that.
 */
const diffSlots = new Slots(2);

/** The job's changes against the commit its branch started from, read from the bare repo. */
export async function jobDiff(repoPath: string, job: DiffSubject, opts: DiffOptions): Promise<JobDiff> {
  const release = await diffSlots.take(opts.signal);
  try {
    return await diffInSlot(repoPath, job, opts);
  } finally {
    release();
  }
}

async function diffInSlot(repoPath: string, job: DiffSubject, opts: DiffOptions): Promise<JobDiff> {
  const empty: JobDiff = {
    job_id: job.id,
    branch: job.branch_name,
    commit: null,
    base_commit: job.base_commit,
    files: [],
    files_truncated: false,
    added: 0,
    removed: 0,
    diff: '',
    truncated: false,
  };
  if (!job.commit_sha) return empty;
  const commit = await mustHaveCommit(repoPath, job.commit_sha, `job ${job.id.slice(0, 8)}'s commit`);
  const base = job.base_commit ? await mustHaveCommit(repoPath, job.base_commit, 'the commit its branch started from') : await mergeBase(repoPath, job, commit);
  return { ...empty, commit, base_commit: base, ...(await filesAndDiff(repoPath, base, commit, opts)) };
}

type FilesAndDiff = Pick<JobDiff, 'files' | 'files_truncated' | 'added' | 'removed' | 'diff' | 'truncated'>;

/** The files changed from `from` to `to` with their counts, and the unified diff (bounded, marked when cut). */
async function filesAndDiff(repoPath: string, from: string, to: string, opts: DiffOptions): Promise<FilesAndDiff> {
  // Side by side: each git computes the whole diff (a file's hunks come only once all of it is
  // compared), which for a 60 MB file of 8 million changed lines took 8 s and 9 s one after the other (a loaded two-core machine).
  const [list, unified] = await Promise.all([
    changedFiles(repoPath, from, to, opts.maxFiles, opts.signal),
    opts.stat ? { text: '', truncated: false } : unifiedDiff(repoPath, from, to, opts.maxBytes, opts.signal),
  ]);
  return {
    files: list.files,
    files_truncated: list.truncated,
    added: list.files.reduce((n, f) => n + (f.added ?? 0), 0),
    removed: list.files.reduce((n, f) => n + (f.removed ?? 0), 0),
    diff: unified.truncated ? `${unified.text}${truncationMarker(opts.maxBytes, list.truncated)}\n` : unified.text,
    truncated: unified.truncated,
  };
}

/** Two commits of one repo, each named for the messages: the diff goes from `from` to `to`. */
export interface CompareSides {
  from: { what: string; commit: string };
  to: { what: string; commit: string };
}

/** How one commit differs from another (two jobs' work), bounded as a job's diff is. */
export async function commitsDiff(repoPath: string, sides: CompareSides, opts: DiffOptions): Promise<FilesAndDiff> {
  const release = await diffSlots.take(opts.signal);
  try {
    const from = await mustHaveCommit(repoPath, sides.from.commit, sides.from.what);
    const to = await mustHaveCommit(repoPath, sides.to.commit, sides.to.what);
    return await filesAndDiff(repoPath, from, to, opts);
  } finally {
    release();
  }
}

/** The commit `sha` names, checked to be a full sha of a commit still in the repo, else a 409. */
export async function mustHaveCommit(repoPath: string, sha: string, what: string): Promise<string> {
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

/**
 * Each changed file with its status (name-status) and line counts (numstat; null for a binary
 * file): at most `maxFiles`, from at most DIFF_LIST_MAX_BYTES of git's output (git is stopped
 * there). Both list the files in the same order, so a list cut at `maxFiles` has their counts.
 *
 * A list that passes the byte cap has none: numstat prints only once it has compared every file,
 * so its counts would cost the whole diff. A job's 160,000 paths of 3,500 bytes took git 8 s and
 * 1.7 GB to count, for the 1,193 files a list of 4 MiB shows; their names alone, 1.4 s.
 */
async function changedFiles(
  repoPath: string,
  base: string,
  commit: string,
  maxFiles: number,
  signal?: AbortSignal,
): Promise<{ files: DiffFile[]; truncated: boolean }> {
  const range = [base, commit, '--'];
  const opts = { cwd: repoPath, env: diffEnv() };
  const pathsTooLong = new AbortController();
  const [status, counts] = await Promise.all([
    git([...DIFF_ARGS, '--name-status', '-z', ...range], { ...opts, signal, maxStdout: DIFF_LIST_MAX_BYTES }).then((r) => {
      if (r.truncated) pathsTooLong.abort();
      return r;
    }),
    // A count adds a few bytes to each record: its list reaches as far as the other one.
    git([...DIFF_ARGS, '--numstat', '-z', ...range], {
      ...opts,
      signal: signal ? AbortSignal.any([signal, pathsTooLong.signal]) : pathsTooLong.signal,
      maxStdout: 2 * DIFF_LIST_MAX_BYTES,
    }).catch((err: unknown) => {
      if (pathsTooLong.signal.aborted && !signal?.aborted) return undefined;
      throw err;
    }),
  ]);
  const failed = (r: GitResult | undefined) => r !== undefined && !r.truncated && r.code !== 0;
  if (failed(status) || failed(counts)) throw new Error(`git diff failed: ${status.stderr}${counts?.stderr ?? ''}`);
  const lineCounts = status.truncated || !counts ? new Map<string, LineCounts>() : parseNumstat(counts.stdout);
  const listed = parseNameStatus(status.stdout);
  const files = listed.slice(0, maxFiles).map((f) => {
    const n = lineCounts.get(f.path);
    return { ...f, added: n?.added ?? null, removed: n?.removed ?? null, binary: n !== undefined && n.added === null };
  });
  return { files, truncated: status.truncated === true || listed.length > maxFiles };
}

/**
 * The `\0`-separated fields of a `-z` listing that are whole: the text after the last `\0` is
 * empty, or the start of a field cut by the cap.
 */
function wholeFields(out: string): string[] {
  const fields = out.split('\0');
  fields.pop();
  return fields;
}

/** `--name-status -z`: `S\0path\0`, or `R100\0old\0new\0` for a rename or copy; a record cut short is left out. */
function parseNameStatus(out: string): Pick<DiffFile, 'path' | 'old_path' | 'status'>[] {
  const fields = wholeFields(out);
  const files: Pick<DiffFile, 'path' | 'old_path' | 'status'>[] = [];
  for (let i = 0; i < fields.length;) {
    const letter = fields[i]!.charAt(0);
    const renamed = letter === 'R' || letter === 'C';
    if (i + (renamed ? 2 : 1) >= fields.length) break;
    files.push(renamed ? { status: letter, old_path: fields[i + 1]!, path: fields[i + 2]! } : { status: letter, old_path: null, path: fields[i + 1]! });
    i += renamed ? 3 : 2;
  }
  return files;
}

/** A file's added and removed lines; null for a binary file. */
interface LineCounts {
  added: number | null;
  removed: number | null;
}

/** `--numstat -z`: `added\tremoved\tpath\0`, or `added\tremoved\t\0old\0new\0`; `-` counts for a binary file. */
function parseNumstat(out: string): Map<string, LineCounts> {
  const fields = wholeFields(out);
  const counts = new Map<string, LineCounts>();
  for (let i = 0; i < fields.length; i++) {
    const m = /^(\d+|-)\t(\d+|-)\t([\s\S]*)$/.exec(fields[i]!);
    if (!m) continue;
    let path = m[3]!;
    if (path === '') {
      // A rename or copy: the old and the new path follow as fields of their own.
      if (i + 2 >= fields.length) break;
      path = fields[i + 2]!;
      i += 2;
    }
    counts.set(path, { added: m[1] === '-' ? null : Number(m[1]), removed: m[2] === '-' ? null : Number(m[2]) });
  }
  return counts;
}

/**
 * The unified diff, read from git's stdout until `maxBytes` (then git is stopped), cut at its
 * last whole line when it went past: no half character or half line precedes the marker.
 */
async function unifiedDiff(
  repoPath: string,
  base: string,
  commit: string,
  maxBytes: number,
  signal?: AbortSignal,
): Promise<{ text: string; truncated: boolean }> {
  const r = await git([...DIFF_ARGS, base, commit, '--'], { cwd: repoPath, env: diffEnv(), signal, maxStdout: maxBytes });
  if (!r.truncated && r.code !== 0) throw new Error(`git diff failed (${r.code}): ${r.stderr}`);
  return { text: r.truncated ? r.stdout.slice(0, r.stdout.lastIndexOf('\n') + 1) : r.stdout, truncated: r.truncated === true };
}

/** The line that ends a capped diff; it cannot be mistaken for a diff line (no +, -, space or @ start). */
function truncationMarker(maxBytes: number, filesTruncated: boolean): string {
  return `[lazyaf: diff truncated at ${maxBytes} bytes; ${filesTruncated ? 'the list of files is cut too' : 'the list of files and their counts is complete'}]`;
}
