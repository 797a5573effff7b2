import type { Command } from 'commander';
import type { BranchList, Repo, RepoList } from '../../shared/api.js';
import { printable } from '../../shared/terminal.js';
import { ApiClient } from '../client.js';
import { CliError } from '../errors.js';
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

  const repos = program.command('repos');
  repos
    .command('delete')
    .description('delete a repo with its branches and jobs (asks first)')
    .argument('<repo>', 'repo id or name')
    .option('--yes', 'do not ask')
    .action(async (repoRef: string, opts: { yes?: boolean }, cmd: Command) => {
      const client = new ApiClient(clientOptions(cmd));
      const repo = await client.request<Repo>('GET', `/api/repos/${encodeURIComponent(repoRef)}`);
      const what = `repo ${repo.name} (${repo.id})`;
      if (!opts.yes && !(await confirm(`Delete ${printable(what)} with all its branches and jobs? [y/N] `))) {
        throw new CliError(process.stdin.isTTY ? `kept ${what}` : `not deleting ${what} without a yes: pass --yes (no terminal to ask on)`);
      }
      await client.request('DELETE', `/api/repos/${repo.id}`);
      process.stdout.write(`Deleted ${printable(what)}\n`);
    });
}

/** Asks a yes/no question on the terminal; without one (piped, no stdin) the answer is no. */
async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  // Loaded only to ask: every other command of this file starts without it.
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  // Ctrl-D ends the input: that is a no, not a question left waiting.
  const ended = new AbortController();
  rl.once('close', () => ended.abort());
  try {
    return /^y(es)?$/i.test((await rl.question(question, { signal: ended.signal })).trim());
  } catch {
    return false;
  } finally {
    rl.close();
  }
}
