import { spawn } from 'node:child_process';
import { git, gitOk, lastGitMessage, nonInteractiveEnv, redactUrls } from '../shared/git.js';
import { CliError } from './errors.js';
import { credentialConfigEntries } from './git-auth.js';

/** The top folder of the work tree (or the bare repo) at `dir`, or a CliError saying it is not a repo. */
export async function repoRoot(dir: string): Promise<string> {
  const inside = await git(['rev-parse', '--absolute-git-dir'], { cwd: dir }).catch(() => undefined);
  if (!inside || inside.code !== 0) throw new CliError(`not a git repository: ${dir}`);
  const top = await git(['rev-parse', '--show-toplevel'], { cwd: dir });
  return top.code === 0 && top.stdout.trim() ? top.stdout.trim() : dir;
}

/** The clone URL ingest gives the `lazyaf` remote: the server's base, then `/git/<repo id>.git`. */
const LAZYAF_REMOTE_RE = /^(https?:\/\/[^\s/]+(?:\/[^\s]*)?)\/git\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.git\/?$/;

/** The lazyaf repo a checkout is linked to: its `lazyaf` remote, as `lazyaf ingest` or `lazyaf link` set it. */
export interface LazyafLink {
  url: string;
  /** The server's base URL the remote names. */
  base: string;
  repoId: string;
}

/**
 * The checkout's link to lazyaf, undefined when it has no `lazyaf` remote; a CliError when that
 * remote is not a lazyaf repo URL.
 */
export async function lazyafLink(root: string): Promise<LazyafLink | undefined> {
  const remote = await git(['remote', 'get-url', 'lazyaf'], { cwd: root });
  if (remote.code !== 0) return undefined;
  const url = remote.stdout.trim();
  const m = LAZYAF_REMOTE_RE.exec(url);
  if (!m) throw new CliError(`the "lazyaf" remote of ${root} (${redactUrls(url)}) is not a lazyaf repo URL (.../git/<repo id>.git)`);
  return { url, base: m[1]!, repoId: m[2]! };
}

/**
 * Points the checkout's `lazyaf` remote at `cloneUrl` (adding it, or re-pointing one `lazyaf link`
 * replaces) and makes this CLI git's credential helper for that server. The repo config names the
 * helper, never the token itself.
 */
export async function setLazyafRemote(root: string, cloneUrl: string): Promise<void> {
  const exists = (await git(['remote', 'get-url', 'lazyaf'], { cwd: root })).code === 0;
  await gitOk(exists ? ['remote', 'set-url', 'lazyaf', cloneUrl] : ['remote', 'add', 'lazyaf', cloneUrl], { cwd: root });
  await git(['config', '--unset-all', `credential.${new URL(cloneUrl).origin}.helper`], { cwd: root });
  for (const [key, value] of credentialConfigEntries(cloneUrl)) await gitOk(['config', '--add', key, value], { cwd: root });
}

/** Environment for git children of the CLI: no prompts, and the token for lazyaf's credential helper. */
export function gitEnv(server: string, token: string | undefined): NodeJS.ProcessEnv {
  return nonInteractiveEnv({ LAZYAF_SERVER: server, ...(token ? { LAZYAF_TOKEN: token } : {}) });
}

/**
 * Runs git with stderr shown to the user (progress), stdout captured; fails with `what` and git's
 * last line, or with what `explain` makes of git's stderr (a refusal it knows how to describe).
 */
export async function gitShown(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  what: string,
  explain?: (stderr: string) => string | undefined,
): Promise<void> {
  const stderrTail: string[] = [];
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn('git', args, { cwd, env, stdio: ['ignore', 'inherit', 'pipe'] });
    child.stderr.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      stderrTail.push(chunk.toString('utf8'));
      if (stderrTail.length > 50) stderrTail.shift();
    });
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? 1));
  });
  if (code !== 0) {
    const explained = explain?.(stderrTail.join(''));
    if (explained) throw new CliError(explained);
    const reason = lastGitMessage(stderrTail.join(''));
    throw new CliError(`${what} failed${reason ? `: ${reason}` : ''}`);
  }
}

/** `--branch B | --all-branches` of the commands that push a checkout's branches. */
export interface BranchChoice {
  branch?: string;
  allBranches?: boolean;
}

/**
 * The local branches to push (B, every branch, or the current one) and the one to treat as the
 * main one (the current branch when it is among them): a CliError when there is nothing to push.
 */
export async function branchesToPush(root: string, choice: BranchChoice): Promise<{ branches: string[]; main: string }> {
  if (choice.branch && choice.allBranches) throw new CliError('use either --branch or --all-branches, not both');
  const local = (await gitOk(['for-each-ref', '--format=%(refname:short)', 'refs/heads/'], { cwd: root })).split('\n').filter(Boolean);
  if (local.length === 0) throw new CliError(`nothing to push: ${root} has no commits yet`);
  const current = (await git(['symbolic-ref', '--quiet', '--short', 'HEAD'], { cwd: root })).stdout.trim();
  if (choice.allBranches) return { branches: local, main: local.includes(current) ? current : local[0]! };
  const branch = choice.branch ?? current;
  if (!branch) throw new CliError('HEAD is detached: pass --branch B or --all-branches');
  if (!local.includes(branch)) {
    throw new CliError(choice.branch ? `no local branch named "${branch}" in ${root}` : `nothing to push: branch "${branch}" has no commits yet`);
  }
  return { branches: [branch], main: branch };
}

/** The branch and reason of the first ref git's push output says was rejected (`! [rejected] a -> a (non-fast-forward)`), if any. */
export function pushRejection(stderr: string): { branch: string; reason: string } | undefined {
  const m = /^\s*!\s*\[(?:remote )?rejected\]\s+(\S+)\s+->\s+\S+\s+\(([^)]*)\)/m.exec(stderr);
  return m ? { branch: m[1]!, reason: m[2]! } : undefined;
}
