import path from 'node:path';
import { cutText } from '../transcript.js';

/**
 * What every agent's parser needs to read hostile JSON (any line, any shape) without throwing, and
 * to show files and edits the same way whatever the agent.
 */

export type Json = Record<string, unknown>;

/** `line` as a JSON object, or undefined when it is not one. */
export function parseObject(line: string): Json | undefined {
  try {
    const value = JSON.parse(line) as unknown;
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function obj(v: unknown): Json {
  return isObject(v) ? v : {};
}

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/**
 * A count the agent reported: a finite number, rounded into 0..2^53-1; else undefined. Past 2^53
 * the server's sums over attempts would overflow SQLite's integers.
 */
export function count(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, Math.round(v))) : undefined;
}

/** `a + b` for counts: never past 2^53-1, where integers stop being exact. */
export function addCounts(a: number, b: number): number {
  return Math.min(Number.MAX_SAFE_INTEGER, a + b);
}

/**
 * A conversation id as the completion takes it (CompleteRequest.session_id), starting with a letter
 * or digit: a follow-up puts it on the agent's command line, where `--version` would be an option.
 * Anything else is none.
 */
export function sessionIdOf(v: unknown): string | undefined {
  return typeof v === 'string' && v.length <= 200 && /^[A-Za-z0-9][A-Za-z0-9._:-]*$/.test(v) ? v : undefined;
}

/** The agent's own time of an event where it is one (ISO 8601, as an entry's `at` holds it); else now. */
export function atOf(v: unknown): string {
  return typeof v === 'string' && v.length <= 40 && !Number.isNaN(Date.parse(v)) ? v : new Date().toISOString();
}

/** `table[key]`, only for the table's own keys: a tool named `__proto__` or `constructor` is no kind. */
export function own<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** Any value as capped text: strings as they are, the rest as JSON. */
export function text(v: unknown): string {
  if (typeof v === 'string') return cutText(v);
  try {
    return cutText(JSON.stringify(v) ?? '');
  } catch {
    return '';
  }
}

/** A path as shown in a transcript: relative to the workspace when inside it, else as given (capped). */
export function showPath(p: string, workspace: string): string {
  if (path.isAbsolute(p)) {
    const rel = path.relative(workspace, p);
    if (rel && !rel.startsWith('..') && !path.isAbsolute(rel)) p = rel;
  }
  return p.slice(0, 4096);
}

/**
 * A unified diff of a replacement whose place in the file is not known (old text → new text): the
 * hunk header carries the line counts but no positions.
 */
export function replacementDiff(file: string, before: string, after: string): string {
  const lines = (s: string) => (s === '' ? [] : s.replace(/\n$/, '').split('\n'));
  const removed = lines(before);
  const added = lines(after);
  const header = before === '' ? `--- /dev/null\n+++ b/${file}\n` : `--- a/${file}\n+++ b/${file}\n`;
  const hunk = `@@ -${before === '' ? 0 : 1},${removed.length} +1,${added.length} @@\n`;
  return cutText(header + hunk + [...removed.map((l) => `-${l}`), ...added.map((l) => `+${l}`)].join('\n') + '\n');
}

/** Cuts a byte stream into lines, each at most `maxChars` (the rest of a longer line is dropped, with a marker). */
export class LineSplitter {
  private buffer = '';
  private overflow = 0;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxChars = 4 * 1024 * 1024,
  ) {}

  write(chunk: string): void {
    let start = 0;
    for (let nl = chunk.indexOf('\n'); nl !== -1; nl = chunk.indexOf('\n', start)) {
      this.take(chunk.slice(start, nl));
      this.emit();
      start = nl + 1;
    }
    this.take(chunk.slice(start));
  }

  end(): void {
    if (this.buffer || this.overflow) this.emit();
  }

  private take(part: string): void {
    const room = this.maxChars - this.buffer.length;
    if (part.length <= room) this.buffer += part;
    else {
      this.buffer += part.slice(0, room);
      this.overflow += part.length - room;
    }
  }

  private emit(): void {
    const line = this.overflow ? `${this.buffer}[… ${this.overflow} more characters of this line not kept]` : this.buffer;
    this.buffer = '';
    this.overflow = 0;
    this.onLine(line.replace(/\r$/, ''));
  }
}
