/**
 * Keeps credential values out of what a job sends back and what the server stores: every
 * occurrence of a value becomes `[redacted]`. Both sides use it: the runner on a job's output and
 * transcript with the values its assignment carried, the server on what it ingests with every
 * value it holds.
 */
export const REDACTED = '[redacted]';

/**
 * Shorter values are left alone: they are switches and ports (`CLAUDE_CODE_USE_BEDROCK=1`), and
 * hiding every "1" of a log would make it unreadable without hiding anything.
 */
export const MIN_REDACTED_CHARS = 8;

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class Redactor {
  /** Longest first: where two values start at one place, the longer is the one hidden. */
  private readonly values: string[];
  private readonly pattern: RegExp | undefined;
  readonly longest: number;

  constructor(values: Iterable<string>) {
    const set = new Set<string>();
    for (const v of values) {
      if (v.length < MIN_REDACTED_CHARS) continue;
      set.add(v);
      // An agent's stream is JSON: a value with a quote, backslash or newline shows escaped there.
      const escaped = JSON.stringify(v).slice(1, -1);
      if (escaped !== v) set.add(escaped);
    }
    this.values = [...set].sort((a, b) => b.length - a.length);
    this.longest = this.values[0]?.length ?? 0;
    this.pattern = this.values.length > 0 ? new RegExp(this.values.map(escapeRe).join('|'), 'g') : undefined;
  }

  get empty(): boolean {
    return this.pattern === undefined;
  }

  redact(text: string): string {
    return this.pattern && text.length >= MIN_REDACTED_CHARS ? text.replace(this.pattern, REDACTED) : text;
  }

  /** Where the values occur in `text`, left to right, without overlaps. */
  matches(text: string): IterableIterator<RegExpMatchArray> {
    return text.matchAll(this.pattern ?? /(?!)/g);
  }

  /**
   * A value that begins in `before` and ends in `after` (two pieces of text stored one after the
   * other, each redacted on its own): how many characters of each it covers.
   */
  spanning(before: string, after: string): { before: number; after: number } | undefined {
    if (this.empty) return undefined;
    const tail = before.slice(-(this.longest - 1));
    for (const m of this.matches(tail + after.slice(0, this.longest - 1))) {
      const start = m.index ?? 0;
      if (start >= tail.length) break;
      if (start + m[0].length > tail.length) return { before: tail.length - start, after: start + m[0].length - tail.length };
    }
    return undefined;
  }

  /** A copy of `value` (a transcript entry, a report) with every string in it redacted, however deep. */
  redactEntry<T>(value: T): T {
    if (this.empty) return value;
    const walk = (v: unknown): unknown => {
      if (typeof v === 'string') return this.redact(v);
      if (Array.isArray(v)) return v.map(walk);
      if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
      return v;
    };
    return walk(value) as T;
  }

  /** A redactor for one stream of text given in pieces: a value cut across two writes is still caught. */
  stream(): RedactingStream {
    return new RedactingStream(this, this.values);
  }
}

/**
 * Redacts a stream written in pieces. Each write gives back what is safe to pass on; the end of
 * the text that could be the start of a value is held until the next write shows whether it is
 * one, or until `end()`. At most about twice the longest value is held, and only while the text
 * ends like a value begins.
 */
export class RedactingStream {
  private held = '';
  /** The first characters of the values: only there can a value begin. */
  private readonly firsts: Set<string>;

  constructor(
    private readonly redactor: Redactor,
    private readonly values: readonly string[],
  ) {
    this.firsts = new Set(values.map((v) => v[0]!));
  }

  write(text: string): string {
    if (this.redactor.empty) return text;
    const buf = this.held + text;
    const cut = this.holdFrom(buf);
    this.held = buf.slice(cut);
    return this.redactor.redact(buf.slice(0, cut));
  }

  end(): string {
    const rest = this.redactor.redact(this.held);
    this.held = '';
    return rest;
  }

  /** Where the text that must wait begins: the first place in the last `longest - 1` characters from which the rest could grow into a value. */
  private holdFrom(buf: string): number {
    const window = Math.max(0, buf.length - this.redactor.longest + 1);
    let from = buf.length;
    for (let i = window; i < buf.length && from === buf.length; i++) {
      if (!this.firsts.has(buf[i]!)) continue;
      const tail = buf.substring(i);
      if (this.values.some((v) => v.length > tail.length && v.startsWith(tail))) from = i;
    }
    if (from === buf.length) return from;
    // A whole value that began before the held part and runs into it waits with it, so it is hidden whole.
    for (const m of this.redactor.matches(buf)) {
      const start = m.index ?? 0;
      if (start >= from) break;
      if (start + m[0].length > from) return start;
    }
    return from;
  }
}
