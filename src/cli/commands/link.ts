import path from 'node:path';
import type { Command } from 'commander';
import type { Repo } from '../../shared/api.js';
import { git, redactUrls } from '../../shared/git.js';
import { ApiClient } from '../client.js';
import { repoRoot, setLazyafRemote } from '../local-git.js';
import { clientOptions } from '../options.js';

/**
 * `lazyaf link REPO [PATH]`: a checkout of a repo that is already on lazyaf (a teammate ingested
 * it, a fresh clone) gets the `lazyaf` remote and credential setup `ingest` gives, so `push`,
 * `jobs submit` and `land` work from it. Nothing is pushed: the repo on lazyaf stays as it is.
 */
export function registerLink(program: Command): void {
  program
    .command('link')
    .argument('<repo>', 'repo id or name on lazyaf')
    .argument('[path]', 'the git checkout to link (default: the current folder)', '.')
    .action(async (repoRef: string, dir: string, _opts: unknown, cmd: Command) => {
      const client = new ApiClient(clientOptions(cmd));
      const root = await repoRoot(path.resolve(dir));
      const repo = await client.request<Repo>('GET', `/api/repos/${encodeURIComponent(repoRef)}`);
      const before = await git(['remote', 'get-url', 'lazyaf'], { cwd: root });
      const was = before.code === 0 ? before.stdout.trim() : undefined;
      await setLazyafRemote(root, repo.clone_url);
      const change = was === undefined ? '' : was === repo.clone_url ? ' (it already was; credentials set up again)' : ` (was ${redactUrls(was)})`;
      process.stdout.write(
        `Linked ${root} to lazyaf repo "${repo.name}" (${repo.id})\n  remote: "lazyaf" → ${repo.clone_url}${change}\n` +
          `  now:    lazyaf push · lazyaf jobs submit --title T --command CMD · lazyaf land JOB\n`,
      );
    });
}
