import type { AttemptEndReason } from '../../shared/protocol.js';
import type { Db } from '../db/index.js';

export interface AttemptRow {
  id: string;
  job_id: string;
  number: number;
  runner_id: string;
  /** The runner's name when it claimed the attempt; null for attempts recorded before names were kept. */
  runner_name: string | null;
  token_hash: string;
  active: number;
  lease_expires_ms: number;
  /** When the server ends the attempt as `timeout` if it is still active (the job's timeout plus a grace). */
  deadline_ms: number;
  log_seq: number;
  started_at: string;
  ended_at: string | null;
  exit_code: number | null;
  end_reason: AttemptEndReason | null;
  error: string | null;
  /** The last transcript batch accepted; a resent one (not above it) is ignored. */
  transcript_batch_seq: number;
  transcript_entries: number;
  /** Bytes of entry JSON stored, counted against the cap. */
  transcript_bytes: number;
  transcript_truncated: number;
  /** The Usage its agent reported with `complete`, as JSON. */
  usage: string | null;
  session_id: string | null;
  /** The size of its session files in the data dir (`SessionFiles`); null: none stored. */
  session_bytes: number | null;
  /** The attempt whose session files its assignment named: the only ones its job token may fetch. */
  resume_from: string | null;
  /** What its assignment said: 1, a check not passed fails the job; 0, it does not; null, it carried no environment. */
  require_checks: number | null;
  /** The SetupReport its runner sent with `complete`, as JSON; null: none. */
  setup: string | null;
  /** The CheckResults its runner sent with `complete`, as a JSON array; null: none. */
  checks: string | null;
}

/** All SQL on the `attempts` table. */
export class AttemptStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      // Inserts an active attempt holding a lease until lease_expires_ms; returns the row.
      insert: db.prepare<
        [Record<string, unknown>],
        AttemptRow
      >(`INSERT INTO attempts (id, job_id, number, runner_id, runner_name, token_hash, lease_expires_ms, deadline_ms, started_at)
        VALUES (@id, @job_id, @number, @runner_id, @runner_name, @token_hash, @lease_expires_ms, @deadline_ms, @started_at) RETURNING *`),
      // Returns the row or undefined.
      get: db.prepare<[string], AttemptRow>('SELECT * FROM attempts WHERE id = ?'),
      // Returns the attempt a job token belongs to, or undefined.
      byTokenHash: db.prepare<[string], AttemptRow>('SELECT * FROM attempts WHERE token_hash = ?'),
      // Returns the attempts of one job, first first.
      forJob: db.prepare<[string], AttemptRow>('SELECT * FROM attempts WHERE job_id = ? ORDER BY number'),
      // Returns the number of attempts of a job numbered above `?` that ended because their lease was lost.
      lostCount: db.prepare<[string, number], number>("SELECT COUNT(*) FROM attempts WHERE job_id = ? AND number > ? AND end_reason = 'lost'").pluck(),
      // Renews the leases of a runner's named active attempts; returns changes.
      renew: db.prepare(`UPDATE attempts SET lease_expires_ms = @until WHERE runner_id = @runner_id AND active = 1 AND lease_expires_ms > @now
        AND id IN (SELECT value FROM json_each(@ids))`),
      // Returns up to 500 active attempts whose lease ran out before `now`, after the (lease, id) cursor, in cursor order.
      expired: db.prepare<[Record<string, unknown>], AttemptRow>(`SELECT * FROM attempts WHERE active = 1 AND lease_expires_ms <= @now
        AND (lease_expires_ms, id) > (@after_ms, @after_id) ORDER BY lease_expires_ms, id LIMIT 500`),
      // Returns up to 500 active attempts past their deadline at `now`, after the (deadline, id) cursor, in cursor order.
      overdue: db.prepare<[Record<string, unknown>], AttemptRow>(`SELECT * FROM attempts WHERE active = 1 AND deadline_ms <= @now
        AND (deadline_ms, id) > (@after_ms, @after_id) ORDER BY deadline_ms, id LIMIT 500`),
      // Returns a runner's active attempts.
      activeForRunner: db.prepare<[string], AttemptRow>('SELECT * FROM attempts WHERE runner_id = ? AND active = 1'),
      // Ends an active attempt; changes = 0 if it had already ended.
      end: db.prepare(
        `UPDATE attempts SET active = 0, ended_at = @now, exit_code = @exit_code, end_reason = @end_reason, error = @error,
        usage = @usage, session_id = @session_id, setup = @setup, checks = @checks WHERE id = @id AND active = 1`,
      ),
      // Accepts log chunk `seq` if it is newer than the last accepted; changes = 0 for a resend.
      acceptLogSeq: db.prepare('UPDATE attempts SET log_seq = @seq WHERE id = @id AND active = 1 AND log_seq < @seq'),
      // Accepts transcript batch `seq` if it is newer than the last accepted; changes = 0 for a resend.
      acceptTranscriptSeq: db.prepare('UPDATE attempts SET transcript_batch_seq = @seq WHERE id = @id AND active = 1 AND transcript_batch_seq < @seq'),
      // Adds to the attempt's transcript counters; `truncated` once set stays set.
      addTranscript: db.prepare(`UPDATE attempts SET transcript_entries = transcript_entries + @entries, transcript_bytes = transcript_bytes + @bytes,
        transcript_truncated = MAX(transcript_truncated, @truncated) WHERE id = @id`),
      // Returns the attempt of a job with this number, or undefined.
      byNumber: db.prepare<[string, number], AttemptRow>('SELECT * FROM attempts WHERE job_id = ? AND number = ?'),
      // Returns the latest attempt of each listed job (a JSON array of ids) that has one.
      lastOfJobs: db.prepare<[string], AttemptRow>(`SELECT a.* FROM attempts a JOIN jobs j ON j.id = a.job_id AND a.number = j.attempt_count
        WHERE a.job_id IN (SELECT value FROM json_each(?))`),
      // Returns the latest attempt of a job that reported a session id, or undefined.
      lastSession: db.prepare<[string], AttemptRow>('SELECT * FROM attempts WHERE job_id = ? AND session_id IS NOT NULL ORDER BY number DESC LIMIT 1'),
      // Returns the latest attempt of a job that reported a session id and uploaded its files, or undefined.
      lastSessionWithFiles: db.prepare<[string], AttemptRow>(
        'SELECT * FROM attempts WHERE job_id = ? AND session_id IS NOT NULL AND session_bytes IS NOT NULL ORDER BY number DESC LIMIT 1',
      ),
      // Records the size of an active attempt's session files; changes = 0 if it had ended.
      setSessionBytes: db.prepare('UPDATE attempts SET session_bytes = @bytes WHERE id = @id AND active = 1'),
      // Records the attempt whose session files an attempt's assignment named.
      setResumeFrom: db.prepare('UPDATE attempts SET resume_from = @from WHERE id = @id'),
      // Records what the attempt's assignment said about its checks; returns nothing.
      setRequireChecks: db.prepare('UPDATE attempts SET require_checks = @value WHERE id = @id'),
      // Brings an active attempt's deadline forward to `until` (never later); changes = 0 if it had ended.
      bringDeadline: db.prepare('UPDATE attempts SET deadline_ms = MIN(deadline_ms, @until) WHERE id = @id AND active = 1'),
      // Gives every active lease and deadline at least `until`: after a server restart, runners get time to reconnect and report.
      extendAll: db.prepare('UPDATE attempts SET lease_expires_ms = MAX(lease_expires_ms, @until), deadline_ms = MAX(deadline_ms, @until) WHERE active = 1'),
    };
  }

  insert(
    row: Pick<AttemptRow, 'id' | 'job_id' | 'number' | 'runner_id' | 'runner_name' | 'token_hash' | 'lease_expires_ms' | 'deadline_ms' | 'started_at'>,
  ): AttemptRow {
    return this.stmts.insert.get(row)!;
  }

  get(id: string): AttemptRow | undefined {
    return this.stmts.get.get(id);
  }

  byTokenHash(hash: string): AttemptRow | undefined {
    return this.stmts.byTokenHash.get(hash);
  }

  forJob(jobId: string): AttemptRow[] {
    return this.stmts.forJob.all(jobId);
  }

  /** The lost attempts of a job's run: those numbered above `after` (the job's retried_after). */
  lostCount(jobId: string, after: number): number {
    return this.stmts.lostCount.get(jobId, after) ?? 0;
  }

  renew(runnerId: string, ids: string[], now: number, until: number): number {
    return this.stmts.renew.run({ runner_id: runnerId, ids: JSON.stringify(ids), now, until }).changes;
  }

  /** Lapsed leases, a page at a time: pass the last row of a page to get the next. */
  expired(now: number, after?: AttemptRow): AttemptRow[] {
    return this.stmts.expired.all({ now, after_ms: after?.lease_expires_ms ?? -1, after_id: after?.id ?? '' });
  }

  /** Attempts past their deadline, a page at a time like `expired`. */
  overdue(now: number, after?: AttemptRow): AttemptRow[] {
    return this.stmts.overdue.all({ now, after_ms: after?.deadline_ms ?? -1, after_id: after?.id ?? '' });
  }

  activeForRunner(runnerId: string): AttemptRow[] {
    return this.stmts.activeForRunner.all(runnerId);
  }

  end(
    id: string,
    fields: {
      exit_code: number | null;
      end_reason: string;
      error: string | null;
      now: string;
      usage?: string | null;
      session_id?: string | null;
      setup?: string | null;
      checks?: string | null;
    },
  ): boolean {
    return this.stmts.end.run({ id, usage: null, session_id: null, setup: null, checks: null, ...fields }).changes === 1;
  }

  acceptTranscriptSeq(id: string, seq: number): boolean {
    return this.stmts.acceptTranscriptSeq.run({ id, seq }).changes === 1;
  }

  addTranscript(id: string, entries: number, bytes: number, truncated: boolean): void {
    this.stmts.addTranscript.run({ id, entries, bytes, truncated: truncated ? 1 : 0 });
  }

  byNumber(jobId: string, number: number): AttemptRow | undefined {
    return this.stmts.byNumber.get(jobId, number);
  }

  /** The latest attempt of each job, by job id (jobs without one are missing). */
  lastOfJobs(jobIds: readonly string[]): Map<string, AttemptRow> {
    return new Map(this.stmts.lastOfJobs.all(JSON.stringify(jobIds)).map((a) => [a.job_id, a]));
  }

  /** The conversation a follow-up of this job resumes: its latest attempt that reported a session id. */
  lastSession(jobId: string): AttemptRow | undefined {
    return this.stmts.lastSession.get(jobId);
  }

  /** The conversation a follow-up of this job resumes, when its files are stored too. */
  lastSessionWithFiles(jobId: string): AttemptRow | undefined {
    return this.stmts.lastSessionWithFiles.get(jobId);
  }

  setSessionBytes(id: string, bytes: number): boolean {
    return this.stmts.setSessionBytes.run({ id, bytes }).changes === 1;
  }

  setResumeFrom(id: string, from: string): void {
    this.stmts.setResumeFrom.run({ id, from });
  }

  /** Records whether the attempt's checks decide its job's status, as its assignment told the runner. */
  setRequireChecks(id: string, value: boolean): void {
    this.stmts.setRequireChecks.run({ id, value: value ? 1 : 0 });
  }

  acceptLogSeq(id: string, seq: number): boolean {
    return this.stmts.acceptLogSeq.run({ id, seq }).changes === 1;
  }

  bringDeadline(id: string, until: number): boolean {
    return this.stmts.bringDeadline.run({ id, until }).changes === 1;
  }

  extendAll(until: number): number {
    return this.stmts.extendAll.run({ until }).changes;
  }
}
