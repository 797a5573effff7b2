import { MAX_PARENT_SUMMARY_BYTES } from '../../shared/protocol.js';
import type { TranscriptEntry } from '../../shared/transcript.js';

/** The most characters of one line of the summary. */
const MAX_LINE = 300;

/**
 * A parent job's conversation in a few lines, for a follow-up whose agent starts a new one: the
 * messages, tool calls (with the file or the command) and the result, a line each; thinking is
 * left out. Past the cap, the first lines (the task) and the latest ones stay, with a line that
 * says how many in between were left out.
 */
export function parentSummary(parentJobId: string, entries: readonly TranscriptEntry[], cap = MAX_PARENT_SUMMARY_BYTES): string {
  const head = [
    '# The conversation so far',
    `This job follows up lazyaf job ${parentJobId.slice(0, 8)}, whose conversation could not be resumed. What happened in it, in short:`,
  ];
  const lines = entries.map(entryLine).filter((l): l is string => l !== undefined);
  if (lines.length === 0) lines.push('- (its transcript is empty)');
  const size = (ls: string[]) => ls.reduce((n, l) => n + l.length + 1, 0);
  if (size(head) + size(lines) <= cap) return [...head, ...lines].join('\n');
  // The task (the first line), a marker, then as many of the latest lines as fit.
  const first = lines[0]!;
  const tail: string[] = [];
  let room = cap - size(head) - first.length - 1 - 64;
  for (let i = lines.length - 1; i > 0 && lines[i]!.length + 1 <= room; i--) {
    tail.unshift(lines[i]!);
    room -= lines[i]!.length + 1;
  }
  return [...head, first, `- [${lines.length - 1 - tail.length} entries left out]`, ...tail].join('\n');
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
