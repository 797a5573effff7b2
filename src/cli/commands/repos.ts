import type { Command } from 'commander';
import type { BranchList, Repo, RepoList } from '../../shared/api.js';
import { ApiClient } from '../client.js';
import { clientOptions } from '../options.js';
import { printJson, printTable } from '../table.js';

export function registerRepoCommands(program: Command): void {
  program
    .command('list')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { repos } = await new ApiClient(clientOptions(cmd)).request<RepoList>('GET', '/api/repos');
      if (opts.json) return printJson(repos);
      if (repos.length === 0) return void process.stdout.write('No repos yet. Add one with: lazyaf ingest PATH --name NAME\n');
      printTable(
        ['NAME', 'ID', 'DEFAULT', 'REMOTE'],
        repos.map((r) => [r.name, r.id, r.default_branch, r.remote_url ?? '-']),
      );
    });

  program
    .command('branches')
    .argument('<repo>', 'repo id or name')
    .option('--json', 'print JSON')
    .action(async (repoRef: string, opts: { json?: boolean }, cmd: Command) => {
      const client = new ApiClient(clientOptions(cmd));
      const repo = await client.request<Repo>('GET', `/api/repos/${encodeURIComponent(repoRef)}`);
      const list = await client.request<BranchList>('GET', `/api/repos/${repo.id}/branches`);
      if (opts.json) return printJson(list);
      if (list.branches.length === 0) return void process.stdout.write(`No branches in ${repo.name} yet.\n`);
      printTable(
        ['BRANCH', 'COMMIT', ''],
        list.branches.map((b) => [b.name, b.commit.slice(0, 12), [b.is_default ? 'default' : '', b.is_lazyaf ? 'lazyaf' : ''].filter(Boolean).join(',')]),
      );
    });
}
