import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { git, gitOk, isValidBranchName, lastGitMessage, redactUrls, GitError, nonInteractiveEnv, type GitResult } from '../../shared/git.js';

/** Repo ids are UUIDs we generate; nothing else may become a path. */
export const REPO_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function bareRepoPath(reposDir: string, id: string): string {
  if (!REPO_ID_RE.test(id)) throw new Error(`invalid repo id: ${JSON.stringify(id)}`);
  return path.join(reposDir, `${id}.git`);
}

/** Git config for a server-side repository, set once at creation. */
const BARE_CONFIG: [string, string][] = [
  // History on the internal server is only ever extended; a job's own branch is the exception (see http.ts).
  ['receive.denyNonFastForwards', 'true'],
  ['receive.denyDeletes', 'false'],
  ['core.logAllRefUpdates', 'true'],
  // Lets protocol v2 clients ask for single objects (partial clone backfill).
  ['uploadpack.allowFilter', 'true'],
  ['uploadpack.allowAnySHA1InWant', 'true'],
];

export async function initBareRepo(repoPath: string, defaultBranch: string): Promise<void> {
  await gitOk(['init', '--bare', '--quiet', `--initial-branch=${defaultBranch}`, repoPath]);
  for (const [key, value] of BARE_CONFIG) await gitOk(['config', key, value], { cwd: repoPath });
}

/**
 * Removes what a push killed mid-way leaves behind, at start when no push is running: its
 * quarantine (`objects/tmp_objdir-incoming-*`, a half-received pack) and its ref locks
 * (`refs/**.lock`, `packed-refs.lock`), which would refuse every later push to those refs.
 */
export async function removePushLeftovers(reposDir: string): Promise<void> {
  for (const entry of await fs.readdir(reposDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || !REPO_ID_RE.test(entry.name.replace(/\.git$/, ''))) continue;
    const repoPath = path.join(reposDir, entry.name);
    const objects = await fs.readdir(path.join(repoPath, 'objects')).catch(() => []);
    const refs = await fs.readdir(path.join(repoPath, 'refs'), { recursive: true }).catch(() => []);
    const leftovers = [
      ...objects.filter((name) => name.startsWith('tmp_objdir-incoming-')).map((name) => path.join('objects', name)),
      ...refs.filter((name) => name.endsWith('.lock')).map((name) => path.join('refs', name)),
      'packed-refs.lock',
    ];
    for (const leftover of leftovers) await fs.rm(path.join(repoPath, leftover), { recursive: true, force: true });
  }
}

export async function removeBareRepo(repoPath: string): Promise<void> {
  await fs.rm(repoPath, { recursive: true, force: true });
}

export async function setHead(repoPath: string, branch: string): Promise<void> {
  if (!isValidBranchName(branch)) throw new Error(`invalid branch name: ${branch}`);
  await gitOk(['symbolic-ref', 'HEAD', `refs/heads/${branch}`], { cwd: repoPath });
}

export interface BranchRef {
  name: string;
  commit: string;
}

/** Every branch with the commit it points at, sorted by name. */
export async function listBranches(repoPath: string): Promise<BranchRef[]> {
  const out = await gitOk(['for-each-ref', '--format=%(objectname) %(refname)', 'refs/heads/'], { cwd: repoPath });
  const branches: BranchRef[] = [];
  for (const line of out.split('\n')) {
    if (!line) continue;
    const space = line.indexOf(' ');
    branches.push({ commit: line.slice(0, space), name: line.slice(space + 1 + 'refs/heads/'.length) });
  }
  return branches;
}

export async function resolveBranch(repoPath: string, branch: string): Promise<string | undefined> {
  const result = await git(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`], { cwd: repoPath });
  return result.code === 0 ? result.stdout.trim() : undefined;
}

/**
 * Deletes a branch while it still points at `expected` (git update-ref's old-value check): a
 * branch moved meanwhile is left as it is, and git says so.
 */
export async function deleteBranch(repoPath: string, branch: string, expected: string): Promise<void> {
  if (!isValidBranchName(branch)) throw new Error(`invalid branch name: ${branch}`);
  await gitOk(['update-ref', '-d', `refs/heads/${branch}`, expected], { cwd: repoPath });
}

/**
 * The commit a branch points at, read from the repository's files without a git process (it is
 * read at every claim, on the dispatch path): the loose ref, else its line in packed-refs.
 * Undefined when neither holds it. Git replaces either file whole (a lock file renamed over it),
 * so a push or a pack-refs meanwhile shows the old commit or the new one, never half of one.
 *
 * Read synchronously: a loose ref is one 41-byte file, and fs/promises' readFile took four trips
 * through the thread pool for it (open, fstat, read, close), about 200 µs of the server's CPU per
 * claim and a few event-loop turns of dispatch latency (the P2 profile). packed-refs can hold a
 * line for every job branch ever pushed: it is parsed once per version of the file (git renames a
 * new file over it, so its inode, size or change time differ) and kept per repo.
 */
export async function readBranchCommit(repoPath: string, branch: string): Promise<string | undefined> {
  if (!isValidBranchName(branch)) return undefined;
  const ref = `refs/heads/${branch}`;
  const loose = readIfExists(path.join(repoPath, ref));
  if (loose !== undefined) return OID_LINE_RE.exec(loose)?.[1];
  return packedRefs(repoPath).get(ref);
}

/** A file's text, or undefined when it is not there (or is not a file: a ref path whose prefix is a loose ref). */
function readIfExists(file: string): string | undefined {
  try {
    return fsSync.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** packed-refs parsed, per repo, with the identity of the file it was read from. */
const packedCache = new Map<string, { version: string; refs: Map<string, string> }>();
/** More repos than this and the least recently read one is forgotten (re-read when it is asked for again). */
const PACKED_CACHE_REPOS = 64;

function packedRefs(repoPath: string): Map<string, string> {
  const file = path.join(repoPath, 'packed-refs');
  const stat = fsSync.statSync(file, { bigint: true, throwIfNoEntry: false });
  const version = stat ? `${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}` : 'none';
  const kept = packedCache.get(repoPath);
  packedCache.delete(repoPath);
  if (kept?.version === version) {
    packedCache.set(repoPath, kept);
    return kept.refs;
  }
  const refs = new Map<string, string>();
  for (const line of ((stat && readIfExists(file)) || '').split('\n')) {
    const m = PACKED_LINE_RE.exec(line);
    if (m) refs.set(m[2]!, m[1]!);
  }
  packedCache.set(repoPath, { version, refs });
  if (packedCache.size > PACKED_CACHE_REPOS) packedCache.delete(packedCache.keys().next().value!);
  return refs;
}

const PACKED_LINE_RE = /^([0-9a-f]{40}(?:[0-9a-f]{24})?) (refs\/heads\/\S+)$/;
const OID_LINE_RE = /^([0-9a-f]{40}(?:[0-9a-f]{24})?)(?:\s|$)/;

/**
 * The start of a file on a branch, or undefined when the branch or the file does not exist. Only
 * the start is read (git is stopped past it): a job chooses the file's size, and a README of
 * 600 MB, read whole, ended the server at each claim of the job that asked for it.
 */
export async function readFileAt(repoPath: string, branch: string, file: string, maxChars: number): Promise<string | undefined> {
  // A unit of a JS string (UTF-16) takes at most 3 bytes of UTF-8: 4 bytes a unit hold all
  // maxChars units, and a character the cut splits lies past them.
  const shown = await git(['cat-file', 'blob', `refs/heads/${branch}:${file}`], { cwd: repoPath, maxStdout: 4 * maxChars });
  return shown.code === 0 || shown.truncated ? shown.stdout.slice(0, maxChars) : undefined;
}

/** Only these transports may be used when pushing to a real remote. */
const PUSH_PROTOCOL_CONFIG = [
  '-c',
  'protocol.allow=never',
  '-c',
  'protocol.https.allow=always',
  '-c',
  'protocol.http.allow=always',
  '-c',
  'protocol.ssh.allow=always',
  '-c',
  'protocol.git.allow=always',
  '-c',
  'protocol.file.allow=always',
];

/** What a push to a real remote did: the commit it sent and git's (redacted) report. */
export interface PushResult {
  commit: string;
  output: string;
}

/**
 * The remote answered and refused the ref: `reason` is git's word for why (`non-fast-forward`,
 * `fetch first`, `pre-receive hook declined`, ...), `remoteSaid` what the remote printed (a
 * hook's own explanation), on one line.
 */
export class PushRejected extends GitError {
  constructor(
    readonly reason: string,
    readonly remoteSaid: string,
    result: GitResult,
  ) {
    super(`push rejected by the remote (${reason})`, result);
  }
}

/**
 * Pushes `branch` of the bare repo to `remoteBranch` on `remoteUrl`: `force` replaces whatever the
 * remote holds, `{ lease }` replaces it only while it still holds the lease (a commit, or '' for
 * no branch at all: git push --force-with-lease). Throws PushRejected when the remote refused it
 * (`stale info`: the lease no longer holds), else GitError (redacted) when git could not push at
 * all (no such remote, no access, no network).
 */
export async function pushToRemote(
  repoPath: string,
  remoteUrl: string,
  branch: string,
  remoteBranch: string,
  force: boolean | { lease: string },
): Promise<PushResult> {
  const commit = await resolveBranch(repoPath, branch);
  if (!commit) throw new GitError(`branch ${branch} not found`, { code: 1, stdout: '', stderr: '' });
  const lease = typeof force === 'object' ? [`--force-with-lease=refs/heads/${remoteBranch}:${force.lease}`] : [];
  const refspec = `${force === true ? '+' : ''}${commit}:refs/heads/${remoteBranch}`;
  const result = await git([...PUSH_PROTOCOL_CONFIG, 'push', '--porcelain', ...lease, '--', remoteUrl, refspec], {
    cwd: repoPath,
    env: nonInteractiveEnv({ GIT_PROTOCOL_FROM_USER: '0' }),
  });
  const output = redactUrls(`${result.stdout}${result.stderr}`.trim());
  if (result.code === 0) return { commit, output };
  const redacted = { ...result, stderr: output };
  // --porcelain: `!<TAB>from:to<TAB>[rejected] (non-fast-forward)`, or `[remote rejected] (reason)`.
  const rejected = /^!\t[^\t]*\t\[(?:remote )?rejected\] \((.*)\)$/m.exec(result.stdout);
  if (rejected) throw new PushRejected(oneLine(rejected[1]!), remoteMessage(redacted.stderr), redacted);
  const fatal = result.stderr.split('\n').find((l) => l.startsWith('fatal: ')) ?? lastGitMessage(result.stderr);
  throw new GitError(redactUrls(`cannot push to ${remoteUrl}: ${oneLine(fatal.replace(/^fatal: /, '')) || `git exited with ${result.code}`}`), redacted);
}

/**
 * The commit `branch` holds on `remoteUrl` ('' when it has none): what a land with force-with-lease
 * may replace. Throws GitError (redacted) when the remote cannot be read.
 */
export async function remoteBranchCommit(repoPath: string, remoteUrl: string, branch: string): Promise<string> {
  if (!isValidBranchName(branch)) throw new Error(`invalid branch name: ${branch}`);
  const result = await git([...PUSH_PROTOCOL_CONFIG, 'ls-remote', '--heads', '--', remoteUrl, `refs/heads/${branch}`], {
    cwd: repoPath,
    env: nonInteractiveEnv({ GIT_PROTOCOL_FROM_USER: '0' }),
    maxStdout: 64 * 1024,
  });
  if (result.code !== 0) {
    const why = oneLine(lastGitMessage(result.stderr).replace(/^fatal: /, '')) || `git exited with ${result.code}`;
    throw new GitError(redactUrls(`cannot read ${branch} on ${remoteUrl}: ${why}`), { ...result, stderr: redactUrls(result.stderr) });
  }
  // A pattern matches any ref ending so (refs/heads/x/refs/heads/B): only the exact one counts.
  for (const line of result.stdout.split('\n')) {
    const [oid, ref] = line.split('\t');
    if (ref === `refs/heads/${branch}` && oid && OID_LINE_RE.test(oid)) return oid;
  }
  return '';
}

/** What the remote printed (`remote: ...` lines, a hook's explanation), its last lines on one line. */
function remoteMessage(stderr: string): string {
  const said = stderr
    .split('\n')
    .filter((l) => l.startsWith('remote: '))
    .map((l) => oneLine(l.slice('remote: '.length)))
    .filter(Boolean);
  return said.slice(-3).join(' ').slice(0, 500);
}

/** Text from elsewhere made one line of words: control characters become spaces, runs of spaces one. */
function oneLine(text: string): string {
  return text
    .replace(/[\x00-\x1f\x7f]/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
}
