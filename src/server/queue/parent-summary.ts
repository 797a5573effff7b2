import { MAX_PARENT_SUMMARY_BYTES } from '../../shared/protocol.js';
import type { TranscriptEntry } from '../../shared/transcript.js';

/** The most characters of one line of the summary. */
const MAX_LINE = 300;

/** Entries of the transcript that were not read: `count` of them, between `entries[at - 1]` and `entries[at]`. */
export interface SummaryGap {
  at: number;
  count: number;
}

/**
 * A parent job's conversation in a few lines, for a follow-up whose agent starts a new one: the
 * messages, tool calls (with the file or the command) and the result, a line each; thinking is
 * left out. Past the cap, or when `gap` says entries in the middle were not read, the first line
 * (the task) and as many of the latest as fit stay, with a line that says how many entries lie
 * between them.
 */
export function parentSummary(parentJobId: string, entries: readonly TranscriptEntry[], cap = MAX_PARENT_SUMMARY_BYTES, gap?: SummaryGap): string {
  const head = [
    '# The conversation so far',
    `This job follows up lazyaf job ${parentJobId.slice(0, 8)}, whose conversation could not be resumed. What happened in it, in short:`,
  ];
  const unread = gap?.count ?? 0;
  // Each line with the number of its entry in the whole transcript, the unread ones counted.
  const lines = entries.flatMap((e, i) => {
    const text = entryLine(e);
    return text === undefined ? [] : [{ text, n: gap && i >= gap.at ? i + unread : i }];
  });
  if (lines.length === 0) return [...head, '- (its transcript is empty)'].join('\n');
  const size = (ls: { text: string }[]) => ls.reduce((n, l) => n + l.text.length + 1, 0);
  if (unread === 0 && size(head.map((text) => ({ text }))) + size(lines) <= cap) return [...head, ...lines.map((l) => l.text)].join('\n');
  // The task (the first line), a marker, then as many of the latest lines as fit, none from before the gap.
  const [first, ...rest] = lines;
  const tail: string[] = [];
  let room = cap - size(head.map((text) => ({ text }))) - first!.text.length - 1 - 64;
  let from = entries.length + unread;
  for (let i = rest.length - 1; i >= 0 && rest[i]!.text.length + 1 <= room && !(gap && rest[i]!.n < gap.at); i--) {
    tail.unshift(rest[i]!.text);
    room -= rest[i]!.text.length + 1;
    from = rest[i]!.n;
  }
  return [...head, first!.text, `- [${from - first!.n - 1} entries left out]`, ...tail].join('\n');
}

function entryLine(e: TranscriptEntry): string | undefined {
  switch (e.type) {
    case 'message':
      return `- ${e.role ?? 'assistant'}: ${oneLine(e.text ?? '')}`;
    case 'tool': {
      const what = e.kind === 'command' ? e.command : (e.path ?? e.input);
      const outcome = e.exit_code !== undefined && e.exit_code !== null ? `exit ${e.exit_code}` : (e.status ?? 'ok');
      return `- tool ${e.tool ?? '?'}${what ? ` ${oneLine(what)}` : ''} (${outcome})`;
    }
    case 'error':
      return `- error: ${oneLine(e.text ?? '')}`;
    case 'result':
      return `- result (${e.status ?? 'ok'}): ${oneLine(e.text ?? '')}`;
    default:
      return undefined;
  }
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_LINE ? `${flat.slice(0, MAX_LINE - 1)}…` : flat;
}
