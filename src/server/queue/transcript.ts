import type { StoredTranscriptEntry, Transcript } from '../../shared/api.js';
import type { LogAck } from '../../shared/protocol.js';
import type { TranscriptEntry } from '../../shared/transcript.js';
import type { Db } from '../db/index.js';
import { ApiError } from '../errors.js';
import type { Emit } from '../events.js';
import { AttemptStore, type AttemptRow } from '../store/attempts.js';
import type { JobRow } from '../store/jobs.js';
import { TranscriptStore } from '../store/transcripts.js';
import type { SummaryGap } from './parent-summary.js';
import { LEASE_GONE, leaseIsLive } from './leases.js';
import { Transactions } from './transactions.js';

export interface TranscriptCaps {
  /** The most entries an attempt keeps (the marker comes on top). */
  entries: number;
  /** The most bytes of entry JSON an attempt keeps. */
  bytes: number;
}

/**
 * 20,000 entries are a very long agent run (the test conversations of the agents make about 10; a
 * day-long claude session a few thousand); the job page draws only the entries near the view and
 * reads them a page at a time, so it opens such a run in under half a second (`npm run bench`,
 * ui part). 32 MiB holds 2,000 entries at their full 16 KiB of text each. Past either, the raw
 * log still has the run.
 */
export const TRANSCRIPT_CAPS: TranscriptCaps = { entries: 20_000, bytes: 32 * 1024 * 1024 };

const marker = (caps: TranscriptCaps): TranscriptEntry => ({
  type: 'error',
  text: `[lazyaf: transcript truncated at ${caps.entries} entries or ${caps.bytes} bytes; later entries were dropped (the raw log has the run)]`,
});

/**
 * An agent job's transcript: the runner's batches stored once each (a resent batch number is
 * ignored, as for log chunks), the entries numbered from 1 per attempt, up to the caps, then one
 * marker entry; every stored entry goes out on the live stream once committed.
 */
export class TranscriptLog {
  private readonly entries: TranscriptStore;
  private readonly attempts: AttemptStore;
  private readonly transactions: Transactions;

  constructor(
    db: Db,
    private readonly emit: Emit,
    private readonly caps: TranscriptCaps = TRANSCRIPT_CAPS,
  ) {
    this.entries = new TranscriptStore(db);
    this.attempts = new AttemptStore(db);
    this.transactions = new Transactions(db);
  }

  /** Appends batch `seq` of a live attempt (the route checked its lease; a store that sees it ended accepts nothing). */
  append(attempt: AttemptRow, seq: number, batch: readonly TranscriptEntry[]): LogAck {
    return this.transactions.run((): LogAck => {
      const current = this.attempts.get(attempt.id)!;
      if (!this.attempts.acceptTranscriptSeq(attempt.id, seq)) {
        // A resend, or the attempt ended since the caller read it: the lease is the fence.
        if (!leaseIsLive(current, Date.now())) throw new ApiError(409, LEASE_GONE);
        return { accepted: false, truncated: current.transcript_truncated === 1 };
      }
      if (current.transcript_truncated) return { accepted: true, truncated: true };
      const stored: StoredTranscriptEntry[] = [];
      let next = current.transcript_entries + 1;
      let bytes = 0;
      let truncated = false;
      for (const entry of batch) {
        const json = JSON.stringify(entry);
        if (next > this.caps.entries || current.transcript_bytes + bytes + json.length > this.caps.bytes) {
          truncated = true;
          break;
        }
        this.entries.insert(attempt.id, next, json);
        stored.push({ ...entry, seq: next++ });
        bytes += json.length;
      }
      if (truncated) {
        const end = marker(this.caps);
        this.entries.insert(attempt.id, next, JSON.stringify(end));
        stored.push({ ...end, seq: next });
      }
      this.attempts.addTranscript(attempt.id, stored.length, bytes, truncated);
      this.transactions.afterCommit(() => this.emit({ type: 'transcript.appended', job_id: attempt.job_id, attempt: attempt.number, entries: stored }));
      return { accepted: true, truncated };
    });
  }

  /**
   * The two ends of one attempt's transcript: its first `head` entries and its last `tail`, and how
   * many lie between them, unread (a summary of a 20,000-entry run needs its start and what fits
   * of its end, not 32 MiB parsed in a claim).
   */
  ends(
    job: Pick<JobRow, 'id' | 'attempt_count'>,
    attemptNumber: number | undefined,
    head: number,
    tail: number,
  ): { entries: TranscriptEntry[]; gap?: SummaryGap } {
    const number = attemptNumber ?? job.attempt_count;
    const attempt = number > 0 ? this.attempts.byNumber(job.id, number) : undefined;
    if (!attempt) return { entries: [] };
    const parse = (rows: { entry: string }[]) => rows.map((r) => JSON.parse(r.entry) as TranscriptEntry);
    // Entries are numbered 1..transcript_entries within the attempt, the marker included.
    const total = attempt.transcript_entries;
    if (total <= head + tail) return { entries: parse(this.entries.after(attempt.id, 0, total + 1)) };
    return {
      entries: [...parse(this.entries.after(attempt.id, 0, head)), ...parse(this.entries.after(attempt.id, total - tail, tail))],
      gap: { at: head, count: total - head - tail },
    };
  }

  /** The entries of one attempt of `job` (its latest by default) after seq `after`, at most `limit` of them (all by default). */
  read(job: Pick<JobRow, 'id' | 'attempt_count'>, attemptNumber: number | undefined, after: number, limit?: number): Transcript {
    const number = attemptNumber ?? job.attempt_count;
    const attempt = number > 0 ? this.attempts.byNumber(job.id, number) : undefined;
    if (!attempt) {
      if (attemptNumber !== undefined) throw new ApiError(404, `job ${job.id} has no attempt ${attemptNumber}`);
      return { job_id: job.id, attempt: null, entries: [], truncated: false };
    }
    const rows = this.entries.after(attempt.id, after, Math.min(limit ?? Infinity, this.caps.entries + 1));
    return {
      job_id: job.id,
      attempt: attempt.number,
      entries: rows.map((r) => ({ ...(JSON.parse(r.entry) as TranscriptEntry), seq: r.seq })),
      truncated: attempt.transcript_truncated === 1,
    };
  }
}
