import type { JobLogs } from '../../../shared/api.js';
import { api, ApiFailure, seg } from '../lib/api.js';
import { coalesced } from './coalesce.js';
import { LogLines, readablePart } from './log-buffer.js';

/**
 * Bytes asked for per request: the first page small so the log shows at once, then larger ones, so
 * a 100,000-line log (about 6 MB) takes three requests instead of seven.
 */
const FIRST_PAGE_BYTES = 1024 * 1024;
const MAX_PAGE_BYTES = 8 * 1024 * 1024;

/**
 * Reads a job's log into `lines` as it grows. `grow(bytes)` says how long the log is now (from the
 * job or a `log.appended` event); the feed then reads from where it stopped, in pages, one request
 * at a time; news that arrives meanwhile is read right after.
 */
export class LogFeed {
  readonly lines = new LogLines();
  truncated = false;
  /** Bytes turned into lines so far. */
  private end = 0;
  /** The furthest byte the server has answered up to. */
  private seen = 0;
  private known = 0;
  private pageBytes = FIRST_PAGE_BYTES;
  private readonly abort = new AbortController();
  private readonly fetchNew: () => void;

  constructor(
    private readonly jobId: string,
    private readonly changed: (error?: string) => void,
  ) {
    this.fetchNew = coalesced(() => this.read());
  }

  grow(logBytes: number): void {
    this.known = Math.max(this.known, logBytes);
    if (this.known > this.seen) this.fetchNew();
  }

  stop(): void {
    this.abort.abort();
  }

  private async read(): Promise<void> {
    for (;;) {
      let page: JobLogs;
      try {
        page = await api<JobLogs>('GET', `/api/jobs/${seg(this.jobId)}/logs?offset=${this.end}&limit=${this.pageBytes}`, undefined, {
          signal: this.abort.signal,
        });
      } catch (err) {
        if (!this.abort.signal.aborted) this.changed(err instanceof ApiFailure ? err.message : String(err));
        return;
      }
      const progressed = page.next_offset > this.seen;
      this.seen = Math.max(this.seen, page.next_offset);
      this.known = Math.max(this.known, page.next_offset);
      const { text, end } = readablePart(page);
      this.lines.append(text);
      this.end = end;
      this.truncated ||= page.truncated;
      this.changed();
      // A full page may have more behind it even when no event said so yet.
      const full = page.next_offset - page.offset >= this.pageBytes;
      if (full) this.pageBytes = Math.min(this.pageBytes * 2, MAX_PAGE_BYTES);
      if (!progressed || (page.next_offset >= this.known && !full)) return;
    }
  }
}
