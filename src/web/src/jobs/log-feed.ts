import type { JobLogs } from '../../../shared/api.js';
import { Coalescer } from '../lib/coalesce.js';
import { LogLines, readablePart, utf8Length } from './log-buffer.js';

/** Reads a page of the job's log (`GET /api/jobs/{id}/logs?offset=&limit=`). */
export type PageReader = (offset: number, limit: number, signal: AbortSignal) => Promise<JobLogs>;

export interface FeedSizes {
  /** A log longer than twice this is read from its tail first. */
  tailBytes: number;
  pageBytes: number;
}

/**
 * The sizes the page uses. A person opening a long log looks at its end: reading the last 256 KiB
 * first shows it after one small request (a 6 MB, 100,000-line log read from its start took
 * 2.4-3.4 s before its last line showed, most of it waiting for the server; its tail first, 0.8-1 s).
 * Pages of 1 MiB keep each page's parsing short enough not to stall scrolling (pages of up to
 * 8 MiB made tasks of 400 ms).
 */
const SIZES: FeedSizes = { tailBytes: 256 * 1024, pageBytes: 1024 * 1024 };

/**
 * Reads a job's log into `lines` as it grows. `grow(bytes)` says how long the log is now (from the
 * job or a `log.appended` event); the feed then reads from where it stopped, in pages, one request
 * at a time; news that arrives meanwhile is read right after.
 *
 * A long log is read from its tail first: the lines from the first line start in its last
 * `tailBytes` are shown at once, then the earlier part is read in the background (`loadingHead`),
 * news at the end still coming first, and the two are joined into one `lines` (`prepended` says
 * how many lines came in front, so a view that is not at the end can keep its place).
 */
export class LogFeed {
  lines = new LogLines();
  truncated = false;
  /** Lines added in front of `lines` by the last change (the earlier part joining the tail). */
  prepended = 0;
  /** Bytes of `lines` so far (from the start, or from the tail's first line). */
  private end = 0;
  /** The furthest byte the server has answered up to. */
  private seen = 0;
  private known = 0;
  /** The last read of the end brought nothing new: wait for news. */
  private stalled = false;
  private lastFull = false;
  private started = false;
  /** While the earlier part is being read: its lines so far, where it stands, where the tail's lines begin, and the tail's text. */
  private head: { lines: LogLines; end: number; until: number; tailText: string } | undefined;
  private readonly abort = new AbortController();
  private readonly fetchNew: Coalescer;

  constructor(
    private readonly readPage: PageReader,
    private readonly changed: (error?: string) => void,
    private readonly sizes: FeedSizes = SIZES,
  ) {
    this.fetchNew = new Coalescer(() => this.read());
  }

  get loadingHead(): boolean {
    return this.head !== undefined;
  }

  grow(logBytes: number): void {
    if (logBytes > this.known) {
      this.known = logBytes;
      this.stalled = false;
    }
    if (this.known > this.seen || this.head) this.fetchNew.trigger();
  }

  stop(): void {
    this.fetchNew.stop();
    this.abort.abort();
  }

  private async read(): Promise<void> {
    try {
      if (!this.started) {
        this.started = true;
        if (this.known > 2 * this.sizes.tailBytes) await this.startAtTail();
      }
      for (;;) {
        if (!this.stalled && (this.known > this.seen || this.lastFull)) await this.readEnd();
        else if (this.head) await this.readHead();
        else return;
      }
    } catch (err) {
      if (!this.abort.signal.aborted) this.changed(err instanceof Error ? err.message : String(err));
    }
  }

  /** Shows the lines that start in the log's last `tailBytes`; without a clean line start there, reads from the start instead. */
  private async startAtTail(): Promise<void> {
    const cut = this.known - this.sizes.tailBytes;
    const page = await this.readPage(cut, this.sizes.tailBytes, this.abort.signal);
    const newline = page.content.indexOf('\n');
    const before = page.content.slice(0, newline + 1);
    // A character split by the cut arrives as U+FFFD and would miscount the bytes before the line start.
    if (newline < 0 || before.includes('\uFFFD')) return;
    const lineStart = cut + utf8Length(before);
    const { text, end } = readablePart({ ...page, offset: lineStart, content: page.content.slice(newline + 1) });
    this.lines.append(text);
    this.head = { lines: new LogLines(), end: 0, until: lineStart, tailText: text };
    this.end = end;
    this.seen = Math.max(this.seen, page.next_offset);
    this.truncated ||= page.truncated;
    this.changed();
  }

  /** Reads what the log has past `end`. */
  private async readEnd(): Promise<void> {
    const page = await this.readPage(this.end, this.sizes.pageBytes, this.abort.signal);
    const progressed = page.next_offset > this.seen;
    this.seen = Math.max(this.seen, page.next_offset);
    this.known = Math.max(this.known, page.next_offset);
    const { text, end } = readablePart(page);
    this.lines.append(text);
    if (this.head) this.head.tailText += text;
    this.end = end;
    this.truncated ||= page.truncated;
    // A full page may have more behind it even when no event said so yet.
    this.lastFull = progressed && page.next_offset - page.offset >= this.sizes.pageBytes;
    this.stalled = !progressed;
    this.prepended = 0;
    this.changed();
  }

  /** Reads the next page of the earlier part; the last one joins it to the tail. */
  private async readHead(): Promise<void> {
    const head = this.head!;
    const page = await this.readPage(head.end, Math.min(this.sizes.pageBytes, head.until - head.end), this.abort.signal);
    const { text, end } = readablePart(page);
    if (end <= head.end) {
      // No progress: leave the log as its tail rather than loop.
      this.head = undefined;
      return;
    }
    head.lines.append(text);
    head.end = end;
    if (head.end < head.until) return;
    const before = head.lines.count;
    head.lines.append(head.tailText);
    // The earlier part ends with a newline, so its lines come whole in front of the tail's.
    this.prepended = before;
    this.lines = head.lines;
    this.head = undefined;
    this.changed();
  }
}
