import path from 'node:path';
import type { Command } from 'commander';
import type { Repo } from '../../shared/api.js';
import { git, redactUrls, shellWord } from '../../shared/git.js';
import { isAllowedRemoteUrl } from '../../shared/remote-url.js';
import { ApiClient } from '../client.js';
import { CliError, RefusedError } from '../errors.js';
import { branchesToPush, type BranchChoice, gitEnv, gitShown, repoRoot, setLazyafRemote } from '../local-git.js';
import { clientOptions, type GlobalOptions } from '../options.js';

interface IngestOptions extends GlobalOptions, BranchChoice {
  name?: string;
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
  const root = await repoRoot(dir);
  const name = opts.name ?? path.basename(root).replace(/\.git$/, '');
  const { branches, main: defaultBranch } = await branchesToPush(root, opts);
  const linked = await git(['remote', 'get-url', 'lazyaf'], { cwd: root });
  if (linked.code === 0) {
    // Re-pointing it would leave the repo it names behind and send the next `git push lazyaf` elsewhere.
    throw new CliError(
      `${root} already has a "lazyaf" remote (${redactUrls(linked.stdout.trim())}); to update that repo: lazyaf push; to start over: git remote remove lazyaf`,
    );
  }
  const remoteUrl = await originForServer(root);

  const repo = await client
    .request<Repo>('POST', '/api/repos/ingest', {
      name,
      default_branch: defaultBranch,
      ...(remoteUrl ? { remote_url: remoteUrl } : {}),
    })
    .catch(async (err: unknown) => {
      // The name is taken (a teammate ingested it): this checkout joins that repo rather than making another.
      if (!(err instanceof RefusedError && err.status === 409)) throw err;
      const here = await repoRoot(process.cwd()).catch(() => undefined);
      const where = here === root ? '' : ` ${shellWord(root)}`;
      throw new CliError(`${err.message}; to link this checkout to it: lazyaf link ${shellWord(name)}${where}`);
    });
  process.stderr.write(`Created repo ${repo.name} (${repo.id}); pushing ${branches.length === 1 ? `branch ${branches[0]}` : `${branches.length} branches`}\n`);

  try {
    await setLazyafRemote(root, repo.clone_url);
    const refspecs = branches.map((b) => `refs/heads/${b}:refs/heads/${b}`);
    await gitShown(['push', '--progress', 'lazyaf', ...refspecs], root, gitEnv(client.server, client.token), 'git push to lazyaf');
  } catch (err) {
    // An empty repo left behind would make the retry fail with "name taken", and the remote would make it refuse.
    await client.request('DELETE', `/api/repos/${repo.id}`).catch(() => undefined);
    await git(['remote', 'remove', 'lazyaf'], { cwd: root });
    throw err;
  }
  process.stdout.write(
    `Ingested ${root} as "${repo.name}" (${repo.id})\n  branches: ${branches.join(', ')}\n  clone:    git clone ${repo.clone_url}\n  remote:   "lazyaf" in ${root}\n` +
      (remoteUrl ? `  lands on: ${remoteUrl} (origin)\n` : ''),
  );
}

/**
 * The checkout's `origin`, as the repo's remote_url (what land pushes to): only a URL the server
 * accepts, and never with the credentials an http(s) URL may carry in it.
 */
async function originForServer(root: string): Promise<string | undefined> {
  const origin = await git(['remote', 'get-url', 'origin'], { cwd: root });
  if (origin.code !== 0) return undefined;
  let url = origin.stdout.trim();
  if (/^https?:\/\/[^/]*@/i.test(url) && URL.canParse(url)) {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    url = parsed.toString();
  }
  return isAllowedRemoteUrl(url) ? url : undefined;
}
