import type { CommentRow } from '../store/comments.js';

/** The lines shown before and after a comment's line. */
export const CONTEXT_LINES = 3;
/** A line of code longer than this is cut in the prompt (a minified file would fill it). */
const CODE_LINE_MAX_CHARS = 400;
/**
 * The most characters of a review's prompt (the follow-up's description). Above a person's
 * 20,000 (a single comment may be that long), below what would weigh on every list of jobs that
 * shows it. Past it the code around the comments is left out; past it even then, the send is refused.
 */
export const REVIEW_PROMPT_MAX_CHARS = 100_000;

/** The code around a comment's line: numbered lines, or why there is none. */
export type CodeAround = { first: number; lines: string[] } | { missing: string };

/** What the prompt says of the job the comments are on. */
export interface ReviewedJob {
  id: string;
  title: string;
}

/**
 * The follow-up's description: every comment with its file, line and the code around it, so the
 * agent (resuming its conversation, or starting one with a summary) knows where each one points.
 * `withCode: false` leaves the code out, for a review too long with it.
 */
export function reviewPrompt(job: ReviewedJob, comments: readonly CommentRow[], code: ReadonlyMap<string, CodeAround>, withCode = true): string {
  const count = comments.length === 1 ? 'one review comment' : `${comments.length} review comments`;
  const parts = [
    `A person reviewed the diff of job ${job.id.slice(0, 8)} (${JSON.stringify(job.title)}) and left ${count} on it. Address each one in the code; where one needs no change, say why in your answer.`,
  ];
  comments.forEach((c, i) => {
    const side = c.side === 'new' ? 'as the job left it' : "as it was before the job (the diff's old side)";
    parts.push(`## ${i + 1}. ${shownPath(c.path)}, line ${c.line} (${side})`);
    const around = code.get(c.id);
    if (withCode && around) parts.push(codeBlock(c.line, around));
    parts.push(c.body);
  });
  if (!withCode) parts.push('(The code around each line is left out: the review is long. Read the files at those lines.)');
  return parts.join('\n\n');
}

/** A path as the prompt shows it: as it is, or as a JSON string when it holds a character that would break the line. */
function shownPath(path: string): string {
  return /[\x00-\x1f\x7f`]/.test(path) ? JSON.stringify(path) : `\`${path}\``;
}

/** Numbered lines in a fence longer than any run of backticks inside, the comment's line marked `>`. */
function codeBlock(line: number, around: CodeAround): string {
  if ('missing' in around) return `(${around.missing})`;
  const last = around.first + around.lines.length - 1;
  const width = String(last).length;
  const body = around.lines.map((text, i) => {
    const n = around.first + i;
    const cut = text.length > CODE_LINE_MAX_CHARS ? `${text.slice(0, CODE_LINE_MAX_CHARS)}…` : text;
    return `${n === line ? '>' : ' '}${String(n).padStart(width)} | ${cut.replace(/\r$/, '')}`;
  });
  const longest = Math.max(2, ...body.map((l) => Math.max(0, ...(l.match(/`+/g) ?? []).map((run) => run.length))));
  const fence = '`'.repeat(longest + 1);
  return [fence, ...body, fence].join('\n');
}

/** The numbered lines around `line` (CONTEXT_LINES either side) of a file's lines. */
export function linesAround(all: readonly string[], line: number): { first: number; lines: string[] } {
  const first = Math.max(1, line - CONTEXT_LINES);
  const last = Math.min(all.length, line + CONTEXT_LINES);
  return { first, lines: all.slice(first - 1, last) };
}
