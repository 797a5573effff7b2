import type { StoredTranscriptEntry, Transcript } from '../../../shared/api.js';
import { Coalescer } from '../lib/coalesce.js';

/** Reads at most `limit` entries of a job's last attempt after `after` (`GET /api/jobs/{id}/transcript?after=&limit=`). */
export type TranscriptReader = (after: number, limit: number, signal: AbortSignal) => Promise<Transcript>;

/**
 * The first read is one block of the view (lib/blocks.svelte.ts), so the page shows the start of a
 * long run at once; the rest follows in bigger pages. Read whole, the 3.3 MB of a 20,000-entry
 * transcript took over a second to arrive and parse before anything showed.
 */
export const FIRST_PAGE = 200;
export const PAGE = 5000;

/**
 * An agent job's transcript as it grows: read once, then kept up from `transcript.appended`
 * events. Entries arrive numbered (seq from 1 per attempt): an event that follows on is appended
 * at once, one that leaves a gap (a missed event, a reconnect) reads what is missing, one about
 * another attempt (a retry) starts over. It is read a page at a time (`reading` while pages
 * remain). One request at a time; news meanwhile is read after it.
 */
export class TranscriptFeed {
  entries: StoredTranscriptEntry[] = [];
  attempt: number | null = null;
  truncated = false;
  loaded = false;
  /** A full page came last: there may be more to read. */
  reading = false;
  private readonly abort = new AbortController();
  private readonly fetchNew: Coalescer;
  private restart = false;

  constructor(
    private readonly read: TranscriptReader,
    private readonly changed: (error?: string) => void,
  ) {
    this.fetchNew = new Coalescer(() => this.load());
  }

  get lastSeq(): number {
    return this.entries.at(-1)?.seq ?? 0;
  }

  /** Reads what is new (after a reconnect, or to start). */
  refresh(): void {
    this.fetchNew.trigger();
  }

  /** A live event's entries for this job. */
  append(attempt: number, entries: StoredTranscriptEntry[]): void {
    if (this.attempt !== null && attempt !== this.attempt) {
      this.restart = true;
      this.fetchNew.trigger();
      return;
    }
    const first = entries[0]?.seq;
    if (first === undefined) return;
    if (!this.loaded || first > this.lastSeq + 1) {
      this.fetchNew.trigger();
      return;
    }
    const fresh = entries.filter((e) => e.seq > this.lastSeq);
    if (fresh.length === 0) return;
    this.attempt = attempt;
    this.entries = [...this.entries, ...fresh];
    this.changed();
  }

  stop(): void {
    this.fetchNew.stop();
    this.abort.abort();
  }

  private async load(): Promise<void> {
    const restart = this.restart;
    this.restart = false;
    const after = restart ? 0 : this.lastSeq;
    const limit = after === 0 ? FIRST_PAGE : PAGE;
    try {
      const page = await this.read(after, limit, this.abort.signal);
      if (this.abort.signal.aborted) return;
      if (after > 0 && page.attempt !== this.attempt) {
        // A new attempt began since the last read: what was asked for skipped its start.
        this.restart = true;
        this.fetchNew.trigger();
        return;
      }
      const kept = restart ? [] : this.entries;
      const last = kept.at(-1)?.seq ?? 0;
      this.entries = [...kept, ...page.entries.filter((e) => e.seq > last)];
      this.attempt = page.attempt;
      this.truncated = page.truncated;
      this.loaded = true;
      this.reading = page.entries.length >= limit;
      if (this.reading) this.fetchNew.trigger();
      this.changed();
    } catch (err) {
      if (this.abort.signal.aborted) return;
      this.changed(err instanceof Error ? err.message : String(err));
    }
  }
}
