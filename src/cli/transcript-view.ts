import type { StoredTranscriptEntry } from '../shared/api.js';
import { printable } from '../shared/terminal.js';
import type { Paint } from './paint.js';

/**
 * An agent's transcript as lines a person reads: one line per tool call (`● Read src/a.ts`,
 * `✎ Edit src/b.ts (+3 −1)`, `$ npm test → exit 1`), assistant text wrapped, thinking and the
 * prompt collapsed to one dim line, errors in red. Every piece of text came from the agent (so
 * from the job): each line is escaped with `printable` before it is painted.
 */
export type TranscriptStyle = 'dim' | 'error' | 'bold' | 'add' | 'remove';
export const TRANSCRIPT_SGR: ReadonlyMap<TranscriptStyle, string> = new Map([
  ['dim', '2'],
  ['error', '31'],
  ['bold', '1'],
  ['add', '32'],
  ['remove', '31'],
]);

const ICONS: Record<string, string> = { read: '●', file_edit: '✎', command: '$', search: '⌕', web: '↗', todo: '☐', other: '●' };

/** The lines of one entry, each ending in a newline. */
export function renderEntry(e: StoredTranscriptEntry, width: number, paint: Paint<TranscriptStyle>): string {
  switch (e.type) {
    case 'message':
      if (e.role === 'user') return paint(oneLine(`▸ prompt: ${firstLine(e.text)}`, width), 'dim') + '\n';
      return wrap(e.text ?? '', width).join('\n') + '\n';
    case 'thinking':
      return paint(oneLine(`∴ ${firstLine(e.text)}`, width), 'dim') + '\n';
    case 'tool':
      return toolLines(e, width, paint);
    case 'error':
      return (
        lines(e.text ?? 'error')
          .map((l, i) => paint((i === 0 ? '✗ ' : '  ') + printable(l), 'error'))
          .join('\n') + '\n'
      );
    case 'result': {
      const failed = e.status === 'error';
      const head = paint(`── result${e.status ? ` (${printable(e.status)})` : ''} ──`, failed ? 'error' : 'bold');
      return [head, ...wrap(e.text ?? '', width)].join('\n') + '\n';
    }
    default:
      return oneLine(`● ${JSON.stringify(e)}`, width) + '\n';
  }
}

function toolLines(e: StoredTranscriptEntry, width: number, paint: Paint<TranscriptStyle>): string {
  const kind = e.kind ?? 'other';
  const failed = e.status === 'error' || (e.exit_code !== undefined && e.exit_code !== null && e.exit_code !== 0);
  let line: string;
  if (kind === 'command') {
    const end = e.exit_code !== undefined && e.exit_code !== null ? `exit ${e.exit_code}` : e.status === 'running' ? '…' : (e.status ?? '');
    line = `$ ${firstLine(e.command ?? e.input)}${end ? ` → ${end}` : ''}`;
  } else {
    const what = e.path ?? firstLine(e.command ?? e.input);
    line = `${ICONS[kind] ?? '●'} ${e.tool ?? kind}${what ? ` ${what}` : ''}`;
    if (kind === 'file_edit' && e.diff && !failed) {
      // Painted after the line is escaped: the colours are ours, not the agent's.
      const { added, removed } = diffCounts(e.diff);
      return `${oneLine(line, width - 16)} (${paint(`+${added}`, 'add')} ${paint(`−${removed}`, 'remove')})\n`;
    }
    if (e.status === 'error') line += ' ✗';
  }
  const out = [failed ? paint(oneLine(line, width), 'error') : oneLine(line, width)];
  // A call that failed says why in the first line of what it returned.
  if (failed && e.output) out.push(paint(oneLine(`  ${lastLine(e.output)}`, width), 'dim'));
  return out.join('\n') + '\n';
}

/** Lines added and removed by a unified diff, its file headers left out. */
export function diffCounts(diff: string): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const l of diff.split('\n')) {
    if (l.startsWith('+++ ') || l.startsWith('--- ')) continue;
    if (l.startsWith('+')) added++;
    else if (l.startsWith('-')) removed++;
  }
  return { added, removed };
}

const lines = (text: string): string[] => text.replace(/\n+$/, '').split(/\r?\n/);

function firstLine(text: string | undefined): string {
  const all = lines(text ?? '').filter((l) => l.trim());
  return (all[0] ?? '') + (all.length > 1 ? ' …' : '');
}

function lastLine(text: string): string {
  return (
    lines(text)
      .filter((l) => l.trim())
      .at(-1) ?? ''
  );
}

/** One escaped line, cut to `width` characters. */
function oneLine(text: string, width: number): string {
  const safe = printable(text);
  return safe.length > width ? `${safe.slice(0, width - 1)}…` : safe;
}

/** Text wrapped at `width` on spaces, each of its lines escaped. */
export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  for (const raw of lines(text)) {
    let rest = printable(raw);
    while (rest.length > width) {
      const cut = rest.lastIndexOf(' ', width);
      const at = cut > width / 3 ? cut : width;
      out.push(rest.slice(0, at));
      rest = rest.slice(at).replace(/^ /, '');
    }
    out.push(rest);
  }
  return out;
}
