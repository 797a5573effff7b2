import { isFinished, type JobLogs } from '../../shared/api.js';
import type { QueueStores } from './core.js';
import type { LogNews, Wakeups } from './wakeups.js';

/** A page of a job's log from a byte offset, and whether it is the end of a finished job's log. */
export function logPage(store: Pick<QueueStores, 'jobs' | 'logs'>, jobId: string, offset: number, limit: number): JobLogs {
  const data = store.logs.read(jobId, offset, limit);
  const fresh = store.jobs.get(jobId)!;
  const next = offset + data.length;
  return {
    job_id: jobId,
    offset,
    next_offset: next,
    content: data.toString('utf8'),
    truncated: fresh.log_truncated === 1,
    pruned: fresh.log_pruned_ms !== null,
    // A pruned log is complete with what is left of it: nothing.
    complete: isFinished(fresh.status) && (next >= fresh.log_bytes || fresh.log_pruned_ms !== null),
  };
}

/**
 * What a follower may hold of chunks it has not yet sent. Chunks are shared by every follower of
 * a job, so this bounds what one that stopped reading keeps alive; past it, it drops them and
 * reads the log from the database when it reads again.
 */
export const FOLLOW_HELD_BYTES = 1024 * 1024;

/**
 * The chunks appended to a job's log since a follow began, as the appends hand them over: a
 * follower that keeps up sends each one without reading the database (500 followers of 20 jobs
 * read it 5,000 times a second before). Any other change to the job, a gap, or more than
 * `limit` bytes held sends the follower back to the database.
 */
class HeldChunks {
  private chunks: LogNews[] = [];
  private bytes = 0;
  /** The database may hold bytes these chunks do not: read it before taking any. */
  stale = true;

  constructor(private readonly limit: number) {}

  /** Chunks come in log order, each once its transaction committed. */
  readonly add = (news: LogNews | undefined): void => {
    if (news && this.bytes + news.data.length <= this.limit) {
      this.chunks.push(news);
      this.bytes += news.data.length;
    } else {
      this.chunks = [];
      this.bytes = 0;
      this.stale = true;
    }
  };

  get empty(): boolean {
    return this.chunks.length === 0;
  }

  /** The held bytes from `at` on; none when nothing is held, and none (stale) when they do not start there. */
  take(at: number): Buffer | undefined {
    while (this.chunks.length > 0) {
      const news = this.chunks.shift()!;
      this.bytes -= news.data.length;
      // Held while the database was read, and read there already.
      if (news.offset + news.data.length <= at) continue;
      if (news.offset <= at) return news.data.subarray(at - news.offset);
      this.add(undefined);
    }
    return undefined;
  }
}

/**
 * A job's log from a byte offset as it grows: what is there, then each new chunk, until the job
 * has finished and all of it was given, the server closes, or `signal` aborts. `hold` wraps each
 * wait for news (the HTTP edge lifts its idle timeout while the server is the one waiting).
 */
export async function* followLog(
  store: Pick<QueueStores, 'jobs' | 'logs'>,
  wakeups: Wakeups,
  jobId: string,
  offset: number,
  signal: AbortSignal,
  hold: (wait: Promise<void>) => Promise<void>,
  heldLimit = FOLLOW_HELD_BYTES,
): AsyncGenerator<Buffer> {
  let at = offset;
  const held = new HeldChunks(heldLimit);
  // Listening before the first read: a chunk committed after it is either read or held.
  const stopListening = wakeups.onJobChange(jobId, held.add);
  try {
    while (!signal.aborted) {
      const news = held.stale ? undefined : held.take(at);
      if (news) {
        at += news.length;
        yield news;
        continue;
      }
      if (held.stale) {
        const data = store.logs.read(jobId, at, 256 * 1024);
        if (data.length > 0) {
          // More may be stored (a read stops at 256 KiB): stale still.
          at += data.length;
          yield data;
          continue;
        }
        // Read to the end: every later chunk will be held (the listener came first).
        held.stale = false;
        const fresh = store.jobs.get(jobId);
        if (!fresh || (isFinished(fresh.status) && (at >= fresh.log_bytes || fresh.log_pruned_ms !== null))) return;
      }
      if (wakeups.closed) return;
      await hold(wakeups.waitForJobChange(jobId, 15_000, signal));
      // A wait that ended with nothing held (its 15 s passed) looks at the database and the job again.
      if (held.empty) held.stale = true;
    }
  } finally {
    stopListening();
  }
}
