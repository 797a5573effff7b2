import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import type { BranchList, Repo } from '../../shared/api.js';
import { git, isValidBranchName, lastGitMessage } from '../../shared/git.js';
import { ApiClient } from '../client.js';
import { CliError } from '../errors.js';
import { credentialArgs } from '../git-auth.js';
import { gitEnv, gitShown, repoRoot } from '../local-git.js';
import { clientOptions, type GlobalOptions } from '../options.js';

interface LandOptions extends GlobalOptions {
  branch: string;
  remote: string;
  pr?: boolean;
  base?: string;
}

export function registerLand(program: Command): void {
  program
    .command('land')
    .argument('<repo>', 'repo id or name on lazyaf')
    .requiredOption('--branch <branch>', 'branch on lazyaf to land, e.g. lazyaf/ab12cd34')
    .option('--remote <remote>', 'remote of the local repository to push to', 'origin')
    .option('--pr', 'open a pull request with `gh pr create` after pushing')
    .option('--base <branch>', "base branch of the pull request (default: the repo's default branch)")
    .action(async (repoRef: string, opts: LandOptions, cmd: Command) => {
      await land(new ApiClient(clientOptions(cmd)), repoRef, opts);
    });
}

async function land(client: ApiClient, repoRef: string, opts: LandOptions): Promise<void> {
  if (!isValidBranchName(opts.branch)) throw new CliError(`invalid branch name: ${opts.branch}`);
  if (opts.base && !isValidBranchName(opts.base)) throw new CliError(`invalid branch name: ${opts.base}`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(opts.remote)) throw new CliError(`invalid remote name: ${opts.remote}`);
  const root = await repoRoot(process.cwd());
  if ((await git(['remote', 'get-url', opts.remote], { cwd: root })).code !== 0) {
    throw new CliError(`no remote named "${opts.remote}" in ${root} (pass --remote NAME)`);
  }

  const repo = await client.request<Repo>('GET', `/api/repos/${encodeURIComponent(repoRef)}`);
  const { branches } = await client.request<BranchList>('GET', `/api/repos/${repo.id}/branches`);
  const found = branches.find((b) => b.name === opts.branch);
  if (!found) throw new CliError(`branch "${opts.branch}" not found in lazyaf repo ${repo.name}`);

  const env = gitEnv(client.server, client.token);
  const localRef = `refs/remotes/lazyaf/${opts.branch}`;
  process.stderr.write(`Fetching ${opts.branch} (${found.commit.slice(0, 12)}) from lazyaf\n`);
  await gitShown(
    [...credentialArgs(repo.clone_url), 'fetch', '--no-tags', '--progress', repo.clone_url, `+refs/heads/${opts.branch}:${localRef}`],
    root,
    env,
    'git fetch from lazyaf',
  );

  process.stderr.write(`Pushing ${opts.branch} to ${opts.remote}\n`);
  await gitShown(['push', '--progress', opts.remote, `${localRef}:refs/heads/${opts.branch}`], root, env, `git push to ${opts.remote}`);
  process.stdout.write(`Landed ${opts.branch} (${found.commit.slice(0, 12)}) on ${opts.remote}\n`);

  if (opts.pr) {
    const base = opts.base ?? repo.default_branch;
    const url = await openPullRequest(root, base, opts.branch);
    process.stdout.write(`Opened pull request${url ? `: ${url}` : ''}\n`);
  }
}

/** Runs `gh pr create` and returns what it printed (the PR's URL). */
async function openPullRequest(cwd: string, base: string, head: string): Promise<string> {
  const args = ['pr', 'create', '--base', base, '--head', head, '--fill'];
  const { code, stdout, stderr, missing } = await new Promise<{ code: number; stdout: string; stderr: string; missing: boolean }>((resolve) => {
    const child = spawn('gh', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.on('error', (e: NodeJS.ErrnoException) => resolve({ code: 127, stdout: '', stderr: e.message, missing: e.code === 'ENOENT' }));
    child.on('close', (c) => resolve({ code: c ?? 1, stdout: out, stderr: err, missing: false }));
  });
  if (missing)
    throw new CliError(`the branch was pushed, but no pull request was opened: the GitHub CLI "gh" is not on PATH (install it, or open the PR by hand)`);
  if (code !== 0) throw new CliError(`the branch was pushed, but "gh pr create" failed: ${lastGitMessage(stderr) || `exit code ${code}`}`);
  return stdout.trim().split('\n').at(-1) ?? '';
}
