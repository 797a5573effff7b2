import { ApiFailure } from './api.js';
import { Coalescer } from './coalesce.js';
import { messageOf } from './format.js';

/**
 * How long a refresh waits for the rest of its burst: one frame, which a page cannot show faster
 * anyway. Measured on a page watching 30 jobs submitted at once (260 events): 150 requests for the
 * runner counts without the wait, 96-101 with it.
 */
const BATCH_MS = 16;

/**
 * One thing a view shows from the API (a list, a record), kept fresh by refetching it when a live
 * event says it changed. Bursts of events are coalesced: the refreshes asked for within a frame
 * are one request, at most one request is in flight, and any number of refreshes asked for
 * meanwhile become one more request after it, so the view always ends on an answer newer than
 * the last event without hammering the server.
 */
export class Resource<T> {
  /** The last answer; kept through a failed refresh so the view does not go blank. */
  value = $state<T | undefined>();
  /** The last refresh's failure, cleared by the next success. */
  error = $state<ApiFailure | undefined>();
  /** True until the first answer or failure. */
  loading = $state(true);

  private readonly abort = new AbortController();
  private readonly fetch = new Coalescer(() => this.run(), BATCH_MS);

  constructor(private readonly load: (signal: AbortSignal) => Promise<T>) {}

  /** Fetches in a moment (one frame), or once more after the request in flight. */
  refresh(): void {
    this.fetch.trigger();
  }

  /**
   * Changes the value in place from an event that carries enough. A request in flight may have
   * been answered before that change, so one more follows it.
   */
  patch(change: (value: T) => void): void {
    if (this.value !== undefined) change(this.value);
    if (this.fetch.busy) this.fetch.trigger();
  }

  /** Takes a whole new value from an event or a write's answer (same rule as `patch`). */
  replace(value: T): void {
    this.value = value;
    this.error = undefined;
    this.loading = false;
    if (this.fetch.busy) this.fetch.trigger();
  }

  /** Cancels the request in flight and ignores every later refresh (the view is gone). */
  stop(): void {
    this.fetch.stop();
    this.abort.abort();
  }

  private async run(): Promise<void> {
    try {
      const value = await this.load(this.abort.signal);
      if (this.abort.signal.aborted) return;
      this.value = value;
      this.error = undefined;
    } catch (err) {
      if (this.abort.signal.aborted) return;
      this.error = err instanceof ApiFailure ? err : new ApiFailure(0, messageOf(err));
    }
    this.loading = false;
  }
}
