import type { Command } from 'commander';
import fs from 'node:fs/promises';
import type { BranchList, Repo, RepoEnvironmentView, RepoList } from '../../shared/api.js';
import type { RepoEnvironment } from '../../shared/environment.js';
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

  repos
    .command('config')
    .description("show a repo's environment (.lazyaf.yml, the server's override, what a job gets), or set or clear the override")
    .argument('<repo>', 'repo id or name')
    .option('--set <file>', "replace the server's override with a YAML or JSON file (the keys of .lazyaf.yml)")
    .option('--clear', "remove the server's override")
    .option('--json', 'print JSON')
    .action(async (repoRef: string, opts: { set?: string; clear?: boolean; json?: boolean }, cmd: Command) => {
      if (opts.set !== undefined && opts.clear) throw new CliError('give --set FILE or --clear, not both');
      const client = new ApiClient(clientOptions(cmd));
      const repo = await client.request<Repo>('GET', `/api/repos/${encodeURIComponent(repoRef)}`);
      const url = `/api/repos/${repo.id}/environment`;
      const view =
        opts.set !== undefined
          ? await client.request<RepoEnvironmentView>('PUT', url, await readEnvironmentFile(opts.set))
          : await client.request<RepoEnvironmentView>(opts.clear ? 'DELETE' : 'GET', url);
      if (opts.json) return printJson(view);
      process.stdout.write(await describeEnvironment(view));
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

/** The most bytes of a file `repos config --set` reads: the server takes no more (a `.lazyaf.yml` is far smaller). */
const MAX_SET_FILE_BYTES = 256 * 1024;

/** A YAML or JSON file as the body of the override: the server checks its keys and says what is wrong. */
async function readEnvironmentFile(file: string): Promise<unknown> {
  const handle = await fs.open(file, 'r').catch((err: NodeJS.ErrnoException) => {
    throw new CliError(`cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  });
  let text: string;
  try {
    const buffer = Buffer.alloc(MAX_SET_FILE_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead > MAX_SET_FILE_BYTES) throw new CliError(`${file} is over ${MAX_SET_FILE_BYTES / 1024} KiB`);
    text = buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
  // Loaded only here: every other command starts without it.
  const YAML = await import('yaml');
  const doc = YAML.parseDocument(text, { uniqueKeys: true });
  const error = doc.errors[0];
  if (error) throw new CliError(`${file}: invalid YAML: ${error.message.split('\n')[0]}`);
  try {
    return doc.toJS({ maxAliasCount: 50 }) ?? {};
  } catch (err) {
    throw new CliError(`${file}: invalid YAML: ${(err as Error).message}`);
  }
}

/** The three parts of the view as YAML, each line made safe for the terminal (the file is the repo's, anyone's). */
async function describeEnvironment(view: RepoEnvironmentView): Promise<string> {
  const YAML = await import('yaml');
  const block = (value: RepoEnvironment | null, none: string) =>
    value === null
      ? `  ${none}\n`
      : YAML.stringify(value)
          .trimEnd()
          .split('\n')
          .map((line) => `  ${printable(line)}\n`)
          .join('');
  return [
    'From .lazyaf.yml (default branch):\n',
    view.file_error !== null ? `  error: ${printable(view.file_error)}\n` : block(view.file, '(none)'),
    'From the server (lazyaf repos config REPO --set FILE):\n',
    block(view.server, '(none)'),
    "Effective (each key the server sets replaces the file's; secrets by name only):\n",
    view.file_error !== null ? '  (none: a job fails with the error above)\n' : block(view.effective, '(none: jobs run without setup or checks)'),
  ].join('');
}
