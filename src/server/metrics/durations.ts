import { isFinished } from '../../shared/job-status.js';
import type { LiveEvents } from '../events.js';
import type { JobStore } from '../store/jobs.js';
import { DURATION_BUCKETS, type DurationHistogram, type MetricsStore } from '../store/metrics.js';

/**
 * How long a job's `job.updated` events with a finished status are told apart from its first: a
 * job finishes once, but a land or a comment later says `job.updated` again with the same status.
 * An id is remembered this long after its finish; an event later than that is not the finish.
 */
const FINISH_WINDOW_MS = 10 * 60_000;

/**
 * The queue wait and run histograms of finished jobs: read from the database once at start (too
 * costly for every scrape, see store/metrics.ts), then each job that finishes is added when the
 * queue says so, one row read by id. A scrape costs nothing; the figures are those of every
 * finished job the database holds, as if recounted, without a second copy of any job's state.
 */
export class JobDurations {
  private readonly wait: DurationHistogram;
  private readonly run: DurationHistogram;
  /** Jobs whose finish was counted, and when: forgotten after FINISH_WINDOW_MS. */
  private readonly counted = new Map<string, number>();

  constructor(
    private readonly metrics: MetricsStore,
    private readonly jobs: JobStore,
    private readonly now: () => number = Date.now,
  ) {
    // The recent ones first: a finish whose event is still to come must not count twice.
    const since = new Date(this.now() - FINISH_WINDOW_MS).toISOString();
    for (const id of metrics.finishedSince(since)) this.counted.set(id, this.now());
    this.wait = metrics.queueWait();
    this.run = metrics.runDuration();
  }

  /** Counts each job as it finishes; returns the unsubscribe. */
  follow(events: LiveEvents): () => void {
    return events.subscribe((e) => {
      if (e.type === 'job.updated' && isFinished(e.status)) this.finished(e.job_id);
    });
  }

  finished(jobId: string): void {
    const now = this.now();
    for (const [id, at] of this.counted) {
      // Insertion order is time order: the oldest go first.
      if (now - at < FINISH_WINDOW_MS) break;
      this.counted.delete(id);
    }
    if (this.counted.has(jobId)) return;
    const job = this.jobs.summary(jobId);
    if (!job?.finished_at || !isFinished(job.status)) return;
    if (now - Date.parse(job.finished_at) >= FINISH_WINDOW_MS) return;
    this.counted.set(jobId, now);
    if (!job.started_at) return;
    observe(this.wait, seconds(job.created_at, job.started_at));
    observe(this.run, seconds(job.started_at, job.finished_at));
  }

  queueWait(): DurationHistogram {
    return { ...this.wait, counts: [...this.wait.counts] };
  }

  runDuration(): DurationHistogram {
    return { ...this.run, counts: [...this.run.counts] };
  }
}

function seconds(from: string, to: string): number {
  return Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);
}

function observe(h: DurationHistogram, value: number): void {
  const i = DURATION_BUCKETS.findIndex((le) => value <= le);
  if (i >= 0) h.counts[i] = (h.counts[i] ?? 0) + 1;
  h.sum += value;
  h.count += 1;
}
