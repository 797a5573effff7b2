import path from 'node:path';
import type { Command } from 'commander';
import type { Repo } from '../../shared/api.js';
import { git, gitOk } from '../../shared/git.js';
import { ApiClient } from '../client.js';
import { CliError } from '../errors.js';
import { credentialConfigEntries } from '../git-auth.js';
import { gitEnv, gitShown, repoRoot } from '../local-git.js';
import { clientOptions, type GlobalOptions } from '../options.js';

interface IngestOptions extends GlobalOptions {
  name?: string;
  branch?: string;
  allBranches?: boolean;
}

export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .argument('<path>', 'path of the local git repository')
    .option('--name <name>', 'name of the repo on lazyaf (default: the folder name)')
    .option('--branch <branch>', 'push this branch (default: the current branch)')
    .option('--all-branches', 'push every local branch')
    .action(async (dir: string, opts: IngestOptions, cmd: Command) => {
      const client = new ApiClient(clientOptions(cmd));
      await ingest(client, path.resolve(dir), opts);
    });
}

async function ingest(client: ApiClient, dir: string, opts: IngestOptions): Promise<void> {
  if (opts.branch && opts.allBranches) throw new CliError('use either --branch or --all-branches, not both');
  const root = await repoRoot(dir);
  const name = opts.name ?? path.basename(root).replace(/\.git$/, '');
  const localBranches = (await gitOk(['for-each-ref', '--format=%(refname:short)', 'refs/heads/'], { cwd: root })).split('\n').filter(Boolean);
  if (localBranches.length === 0) throw new CliError(`nothing to push: ${root} has no commits yet`);

  const current = (await git(['symbolic-ref', '--quiet', '--short', 'HEAD'], { cwd: root })).stdout.trim();
  let branches: string[];
  let defaultBranch: string;
  if (opts.allBranches) {
    branches = localBranches;
    defaultBranch = localBranches.includes(current) ? current : (localBranches[0] as string);
  } else {
    const branch = opts.branch ?? current;
    if (!branch) throw new CliError('HEAD is detached: pass --branch B or --all-branches');
    if (!localBranches.includes(branch)) {
      throw new CliError(opts.branch ? `no local branch named "${branch}" in ${root}` : `nothing to push: branch "${branch}" has no commits yet`);
    }
    branches = [branch];
    defaultBranch = branch;
  }

  const repo = await client.request<Repo>('POST', '/api/repos/ingest', { name, default_branch: defaultBranch });
  process.stderr.write(`Created repo ${repo.name} (${repo.id}); pushing ${branches.length === 1 ? `branch ${branches[0]}` : `${branches.length} branches`}\n`);

  try {
    const hasRemote = (await git(['remote', 'get-url', 'lazyaf'], { cwd: root })).code === 0;
    await gitOk(['remote', hasRemote ? 'set-url' : 'add', 'lazyaf', repo.clone_url], { cwd: root });
    // The repo config names the helper (this CLI), never the token itself.
    await git(['config', '--unset-all', `credential.${new URL(repo.clone_url).origin}.helper`], { cwd: root });
    for (const [key, value] of credentialConfigEntries(repo.clone_url)) await gitOk(['config', '--add', key, value], { cwd: root });
    const refspecs = branches.map((b) => `refs/heads/${b}:refs/heads/${b}`);
    await gitShown(['push', '--progress', 'lazyaf', ...refspecs], root, gitEnv(client.server, client.token), 'git push to lazyaf');
  } catch (err) {
    // An empty repo left behind would make the retry fail with "name taken".
    await client.request('DELETE', `/api/repos/${repo.id}`).catch(() => undefined);
    throw err;
  }
  process.stdout.write(
    `Ingested ${root} as "${repo.name}" (${repo.id})\n  branches: ${branches.join(', ')}\n  clone:    git clone ${repo.clone_url}\n  remote:   "lazyaf" in ${root}\n`,
  );
}
