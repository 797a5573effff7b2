import type { Command } from 'commander';
import type { DiffFile, JobCompare, JobDiff } from '../../shared/api.js';
import { printable } from '../../shared/terminal.js';
import { ApiClient } from '../client.js';
import { CliError } from '../errors.js';
import { clientOptions, JOB_ARGUMENT_HELP } from '../options.js';
import { colourWanted, painter, type Paint as PaintAs } from '../paint.js';
import { printJson } from '../table.js';

interface DiffOptions {
  stat?: boolean;
  maxBytes?: string;
  json?: boolean;
}

export function registerDiff(program: Command): void {
  program
    .command('diff')
    .argument('<job>', JOB_ARGUMENT_HELP)
    .argument('[other]', "another job of the same repo: how its commit differs from the first job's (two candidates of a task)")
    .option('--stat', 'only the files changed and their added/removed line counts')
    .option('--max-bytes <n>', 'cap on the diff shown (1024 to 16777216; default 1048576)')
    .option('--json', 'print JSON')
    .action(async (jobRef: string, otherRef: string | undefined, opts: DiffOptions, cmd: Command) => {
      if (opts.maxBytes !== undefined && !/^\d{1,9}$/.test(opts.maxBytes)) throw new CliError(`--max-bytes must be a number of bytes, got ${opts.maxBytes}`);
      const query = new URLSearchParams({ stat: String(Boolean(opts.stat)), ...(opts.maxBytes ? { max_bytes: opts.maxBytes } : {}) });
      if (otherRef !== undefined) {
        const compared = await new ApiClient(clientOptions(cmd)).request<JobCompare>(
          'GET',
          `/api/jobs/${encodeURIComponent(jobRef)}/compare/${encodeURIComponent(otherRef)}?${query}`,
        );
        if (opts.json) return printJson(compared);
        const paint = painter(colourWanted(), SGR);
        if (compared.files.length === 0)
          return void process.stdout.write(
            `no difference: jobs ${printable(compared.job_id.slice(0, 8))} and ${printable(compared.other_job_id.slice(0, 8))} left the same files\n`,
          );
        return void process.stdout.write(opts.stat ? statLines(compared, paint, 'the jobs differ in more files') : diffLines(compared.diff, paint));
      }
      const diff = await new ApiClient(clientOptions(cmd)).request<JobDiff>('GET', `/api/jobs/${encodeURIComponent(jobRef)}/diff?${query}`);
      if (opts.json) return printJson(diff);
      if (!diff.commit) return void process.stdout.write(`no changes: job ${printable(diff.job_id.slice(0, 8))} has no commit\n`);
      const paint = painter(colourWanted(), SGR);
      process.stdout.write(opts.stat ? statLines(diff, paint) : diffLines(diff.diff, paint));
    });
}

type Style = 'add' | 'remove' | 'hunk' | 'file' | 'note';
type Paint = PaintAs<Style>;

const SGR = new Map<Style, string>([
  ['add', '32'],
  ['remove', '31'],
  ['hunk', '36'],
  ['file', '1'],
  ['note', '33'],
]);

/** A line of a file a job wrote: control characters shown escaped, tabs kept (a Makefile's are part of it). */
function safeLine(line: string): string {
  return line.split('\t').map(printable).join('\t');
}

/** The unified diff, each line escaped and coloured by what it is. */
function diffLines(text: string, paint: Paint): string {
  const out: string[] = [];
  let inHeader = false;
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const raw of lines) {
    const line = safeLine(raw);
    if (raw.startsWith('diff --git ')) inHeader = true;
    else if (raw.startsWith('@@')) inHeader = false;
    if (inHeader) out.push(paint(line, 'file'));
    else if (raw.startsWith('@@')) out.push(paint(line, 'hunk'));
    else if (raw.startsWith('+')) out.push(paint(line, 'add'));
    else if (raw.startsWith('-')) out.push(paint(line, 'remove'));
    else if (raw.startsWith('[lazyaf:')) out.push(paint(line, 'note'));
    else out.push(line);
  }
  return out.length ? out.join('\n') + '\n' : '';
}

/** Like `git diff --stat`: each file with its status and counts, then the totals, and whether the server cut the list. */
function statLines(diff: Pick<JobDiff, 'files' | 'files_truncated' | 'added' | 'removed'>, paint: Paint, more = 'the job changed more files'): string {
  const names = diff.files.map((f) => printable(f.old_path ? `${f.old_path} => ${f.path}` : f.path));
  const width = Math.max(0, ...names.map((n) => n.length));
  const lines = diff.files.map((f, i) => ` ${f.status} ${names[i]!.padEnd(width)}  ${counts(f, paint)}`);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const cut = diff.files_truncated ? paint(` (the list is cut: ${more})`, 'note') : '';
  lines.push(` ${plural(diff.files.length, 'file')} changed, ${plural(diff.added, 'insertion')}(+), ${plural(diff.removed, 'deletion')}(-)${cut}`);
  return lines.join('\n') + '\n';
}

function counts(f: DiffFile, paint: Paint): string {
  if (f.binary) return 'binary';
  if (f.added === null || f.removed === null) return 'not counted';
  return `${paint(`+${f.added ?? 0}`, 'add')} ${paint(`-${f.removed ?? 0}`, 'remove')}`;
}
