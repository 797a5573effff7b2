import type { Command } from 'commander';
import { tooShortForSecret } from '../../shared/agents/credentials.js';
import type { SecretInfo, SecretList } from '../../shared/api.js';
import { MAX_SECRET_CHARS, SECRET_NAME_RE } from '../../shared/names.js';
import { printable } from '../../shared/terminal.js';
import { ApiClient } from '../client.js';
import { CliError } from '../errors.js';
import { clientOptions } from '../options.js';
import { printJson, printTable } from '../table.js';

function checkedName(name: string): string {
  if (!SECRET_NAME_RE.test(name))
    throw new CliError(`invalid secret name: ${printable(name)} (as an environment variable: A-Z, 0-9 and _, not starting with a digit)`);
  return name;
}

const scope = (repo: string | undefined) => (repo === undefined ? '' : `?repo=${encodeURIComponent(repo)}`);
const where = (s: Pick<SecretInfo, 'repo_name' | 'repo_id'>) => (s.repo_id === null ? 'all repos' : `repo ${s.repo_name ?? s.repo_id}`);

export function registerSecrets(program: Command): void {
  const secrets = program.command('secrets');
  secrets
    .command('set')
    .description('store a secret for agent jobs (ANTHROPIC_API_KEY, OPENAI_BASE_URL, ...); the value is read from stdin, never shown')
    .argument('<name>', 'its name, as the agent reads it from its environment')
    .option('--repo <repo>', "only for this repo's jobs (id or name)")
    .action(async (name: string, opts: { repo?: string }, cmd: Command) => {
      checkedName(name);
      const value = await readValue(`Value of ${name}: `);
      if (value === '') throw new CliError('empty value: nothing stored (pipe the value in, or type it at the prompt)');
      if (value.length > MAX_SECRET_CHARS) throw new CliError(`the value is too long (at most ${MAX_SECRET_CHARS} characters)`);
      const short = tooShortForSecret(name, value);
      if (short) throw new CliError(short);
      const stored = await new ApiClient(clientOptions(cmd)).request<SecretInfo>('PUT', `/api/secrets/${name}${scope(opts.repo)}`, { value });
      process.stdout.write(printable(`Stored ${stored.name} for ${where(stored)}`) + '\n');
    });
  secrets
    .command('list', { isDefault: true })
    .description('list the stored secrets by name (never their values)')
    .option('--repo <repo>', "those this repo's jobs may be given: its own, and those for all repos it does not replace (id or name)")
    .option('--json', 'print JSON')
    .action(async (opts: { repo?: string; json?: boolean }, cmd: Command) => {
      const { secrets: list } = await new ApiClient(clientOptions(cmd)).request<SecretList>('GET', `/api/secrets${scope(opts.repo)}`);
      if (opts.json) return printJson(list);
      if (list.length === 0) {
        const hint = opts.repo === undefined ? 'lazyaf secrets set NAME < file' : `lazyaf secrets set NAME --repo ${opts.repo} < file`;
        return void process.stdout.write(printable(`No secrets stored. Store one with: ${hint}`) + '\n');
      }
      printTable(
        ['NAME', 'FOR', 'UPDATED'],
        list.map((s) => [s.name, where(s), s.updated_at]),
      );
    });
  secrets
    .command('delete')
    .description('delete a stored secret')
    .argument('<name>')
    .option('--repo <repo>', "the repo's own secret (id or name)")
    .action(async (name: string, opts: { repo?: string }, cmd: Command) => {
      await new ApiClient(clientOptions(cmd)).request('DELETE', `/api/secrets/${checkedName(name)}${scope(opts.repo)}`);
      process.stdout.write(`Deleted ${name}\n`);
    });
}

/**
 * The value: typed at a prompt without echo on a terminal, else all of stdin with one trailing
 * newline dropped (`echo $KEY | lazyaf secrets set`). Read with a bound: a wrong file piped in
 * is refused, not held whole.
 */
export async function readValue(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY) return readHidden(prompt);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
    // UTF-8 takes at most 4 bytes a character: more than this is too long whatever it holds.
    if (size > MAX_SECRET_CHARS * 4 + 2) break;
  }
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** One line from the terminal, echoing nothing (as `sudo` and `ssh` read a password). */
function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  let value = '';
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (data: string) => {
      for (const ch of data) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new CliError('interrupted: nothing stored'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
