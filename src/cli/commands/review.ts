import fs from 'node:fs';
import { Option, type Command } from 'commander';
import type { Comment, CommentList, CommentSide, Job, NewComment, SendComments } from '../../shared/api.js';
import { ApiClient } from '../client.js';
import { CliError } from '../errors.js';
import { clientOptions, JOB_ARGUMENT_HELP } from '../options.js';
import { printJson, printTable } from '../table.js';
import { byIdPrefix } from '../id-prefix.js';

interface ReviewOptions {
  comment: string[];
  file?: string;
  side: CommentSide;
  resolve: string[];
  send?: boolean;
  agent?: string;
  model?: string;
  list?: boolean;
  json?: boolean;
}

/** `path:line:text`: the path up to the first `:<digits>:` (a path may hold colons), the text after it. */
const SPEC_RE = /^(.+?):(\d{1,8}):(.*)$/s;

/** A comment given as `path:line:text` (`where` names it in the error); the text loses one leading space. */
export function parseCommentSpec(spec: string, where: string): Pick<NewComment, 'path' | 'line' | 'body'> {
  const m = SPEC_RE.exec(spec);
  const body = m?.[3]!.replace(/^ /, '') ?? '';
  if (!m || Number(m[2]) < 1 || body.trim() === '')
    throw new CliError(`${where}: expected path:line: text (a line number from 1, then the comment), got ${JSON.stringify(spec.slice(0, 200))}`);
  return { path: m[1]!, line: Number(m[2]), body };
}

/** A file of comments, one a line as `path:line: text`; blank lines and lines starting with `#` are skipped. */
export function parseCommentFile(text: string, name: string): Pick<NewComment, 'path' | 'line' | 'body'>[] {
  const out: Pick<NewComment, 'path' | 'line' | 'body'>[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    out.push(parseCommentSpec(line, `${name} line ${i + 1}`));
  });
  return out;
}

export function registerReview(program: Command): void {
  program
    .command('review')
    .argument('<job>', JOB_ARGUMENT_HELP)
    .option('--comment <path:line:text>', "comment on a line of the job's diff (repeatable)", (v: string, all: string[]) => [...all, v], [])
    .option('--file <file>', 'comments from a file, one a line as `path:line: text` (# and blank lines skipped; - reads stdin)')
    .addOption(
      new Option('--side <side>', "the side of the diff the comments' lines are on: new (the job's) or old (before it)").choices(['new', 'old']).default('new'),
    )
    .option('--resolve <id>', 'resolve a comment: its id or a unique prefix (repeatable)', (v: string, all: string[]) => [...all, v], [])
    .option(
      '--send',
      "send the unresolved comments not sent yet to the job's agent as one follow-up that continues its conversation; prints the follow-up's id",
    )
    .option('--agent <name>', "with --send: another agent (a new conversation); default the job's own")
    .option('--model <model>', 'with --send: the model the agent uses')
    .option('--list', "list the job's comments (what review does with nothing else to do)")
    .option('--json', 'print JSON')
    .action(async (jobRef: string, opts: ReviewOptions, cmd: Command) => {
      // Everything is read and checked before anything is sent: a bad line of the file adds no comment.
      const specs = opts.comment.map((c, i) => parseCommentSpec(c, `--comment ${i + 1}`));
      if (opts.file !== undefined) specs.push(...parseCommentFile(readCommentFile(opts.file), opts.file === '-' ? 'stdin' : opts.file));
      if (!opts.send && (opts.agent || opts.model)) throw new CliError('--agent and --model go with --send');
      const client = new ApiClient(clientOptions(cmd));
      const base = `/api/jobs/${encodeURIComponent(jobRef)}/comments`;
      for (const spec of specs) {
        const added = await client.request<Comment>('POST', base, { ...spec, side: opts.side } satisfies NewComment);
        process.stderr.write(`Added comment ${added.id.slice(0, 8)} on ${added.path}:${added.line}\n`);
      }
      if (opts.resolve.length > 0) {
        const { comments } = await client.request<CommentList>('GET', base);
        for (const ref of opts.resolve) {
          const comment = byIdPrefix(comments, ref, 'comment', 'lazyaf review JOB --list shows their ids');
          await client.request<Comment>('POST', `${base}/${encodeURIComponent(comment.id)}/resolve`);
          process.stderr.write(`Resolved comment ${comment.id.slice(0, 8)} on ${comment.path}:${comment.line}\n`);
        }
      }
      if (opts.send) {
        const body: SendComments = { agent: opts.agent, model: opts.model };
        const followup = await client.request<Job>('POST', `${base}/send`, body);
        if (opts.json) printJson(followup);
        else process.stdout.write(`${followup.id}\n`);
      }
      if (opts.list || (specs.length === 0 && opts.resolve.length === 0 && !opts.send)) {
        const { comments } = await client.request<CommentList>('GET', base);
        if (opts.json) return printJson(comments);
        if (comments.length === 0) return void process.stdout.write('No comments.\n');
        printTable(
          ['ID', 'WHERE', 'SIDE', 'STATE', 'COMMENT'],
          comments.map((c) => [c.id.slice(0, 8), `${c.path}:${c.line}`, c.side, state(c), firstLine(c.body)]),
        );
      }
    });
}

function readCommentFile(file: string): string {
  try {
    return fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file === '-' ? 'stdin' : file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** open, sent to a follow-up (and whether its diff touched the line), or resolved. */
function state(c: Comment): string {
  if (c.resolved_at) return 'resolved';
  if (!c.sent_in_job_id) return 'open';
  const sent = `sent to ${c.sent_in_job_id.slice(0, 8)}`;
  return c.touched_by_job_id ? `${sent}, touched` : sent;
}

function firstLine(text: string): string {
  const line = text.split('\n')[0]!;
  return line.length > 60 || text.includes('\n') ? `${line.slice(0, 59)}…` : line;
}
