import type { JobLogs } from '../../../shared/api.js';
import { hasBidi } from '../lib/hidden-chars.js';
import { endStyle, lineWidth, PLAIN, segments, type Segment, type Style } from './ansi.js';

/** A line longer than this shows its start and a note: one huge line must not stall the page. */
export const MAX_SHOWN_CHARS = 20_000;

/**
 * A job's log as lines, growing chunk by chunk. A chunk may end mid-line: that partial line is
 * shown as the last line and completed by the next chunk. Each line's starting style is kept as it
 * arrives (colours carry across lines), so any line can be turned into segments on its own; that
 * conversion happens only for lines on screen, once each (`segmentsOf` caches it).
 */
export class LogLines {
  private readonly done: string[] = [];
  /** The style each complete line starts with; lines without escapes share their neighbour's object. */
  private readonly starts: Style[] = [];
  private readonly cache: (Segment[] | undefined)[] = [];
  private partial = '';
  private partialStart: Style = PLAIN;
  private partialCache: Segment[] | undefined;
  /** The widest line so far, in columns. */
  width = 0;
  /** Whether any line holds a bidirectional control: the view warns about it. */
  bidi = false;

  get count(): number {
    return this.done.length + (this.partial ? 1 : 0);
  }

  append(text: string): void {
    if (!text) return;
    this.bidi ||= hasBidi(text);
    const pieces = (this.partial + text).split('\n');
    this.partial = pieces.pop() ?? '';
    this.partialCache = undefined;
    let style = this.partialStart;
    for (const piece of pieces) {
      const line = piece.endsWith('\r') ? piece.slice(0, -1) : piece;
      this.done.push(line);
      this.starts.push(style);
      style = endStyle(line, style);
      this.width = Math.max(this.width, lineWidth(line.slice(0, MAX_SHOWN_CHARS)));
    }
    this.partialStart = style;
    this.width = Math.max(this.width, lineWidth(this.partial.slice(0, MAX_SHOWN_CHARS)));
  }

  /** Line `i` (0-based) in styled segments. */
  segmentsOf(i: number): Segment[] {
    if (i >= this.done.length) return (this.partialCache ??= shown(this.partial, this.partialStart));
    return (this.cache[i] ??= shown(this.done[i]!, this.starts[i]!));
  }
}

function shown(line: string, start: Style): Segment[] {
  if (line.length <= MAX_SHOWN_CHARS) return segments(line, start);
  const segs = segments(line.slice(0, MAX_SHOWN_CHARS), start);
  segs.push({ text: ` … (${line.length - MAX_SHOWN_CHARS} more characters)`, classes: 'note', color: undefined, background: undefined });
  return segs;
}

/** How many bytes `text` takes in UTF-8. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * The text of a log page that is safe to show, and the byte offset to read on from. The server
 * cuts a page at a byte count and decodes it, so a character split by the cut arrives as one
 * U+FFFD at the end (and its rest would start the next page as more of them). Such a tail is held
 * back, and the next page starts at that character's first byte. A log that ends in a broken
 * character for good (the job finished) is shown as it is.
 */
export function readablePart(page: JobLogs): { text: string; end: number } {
  const text = page.content;
  if (page.complete || !text.endsWith('\uFFFD')) return { text, end: page.next_offset };
  const kept = text.slice(0, -1);
  const cut = page.next_offset - page.offset - utf8Length(kept);
  // A split character leaves 1 to 3 bytes; anything else is a U+FFFD of the log's own.
  if (cut < 1 || cut > 3) return { text, end: page.next_offset };
  return { text: kept, end: page.next_offset - cut };
}
