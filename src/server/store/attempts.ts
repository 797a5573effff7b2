import type { Db } from '../db/index.js';

export interface AttemptRow {
  id: string;
  job_id: string;
  number: number;
  runner_id: string;
  token_hash: string;
  active: number;
  lease_expires_ms: number;
  /** When the server ends the attempt as `timeout` if it is still active (the job's timeout plus a grace). */
  deadline_ms: number;
  log_seq: number;
  started_at: string;
  ended_at: string | null;
  exit_code: number | null;
  end_reason: string | null;
  error: string | null;
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
      >(`INSERT INTO attempts (id, job_id, number, runner_id, token_hash, lease_expires_ms, deadline_ms, started_at)
        VALUES (@id, @job_id, @number, @runner_id, @token_hash, @lease_expires_ms, @deadline_ms, @started_at) RETURNING *`),
      // Returns the row or undefined.
      get: db.prepare<[string], AttemptRow>('SELECT * FROM attempts WHERE id = ?'),
      // Returns the attempt a job token belongs to, or undefined.
      byTokenHash: db.prepare<[string], AttemptRow>('SELECT * FROM attempts WHERE token_hash = ?'),
      // Returns the attempts of one job, first first.
      forJob: db.prepare<[string], AttemptRow>('SELECT * FROM attempts WHERE job_id = ? ORDER BY number'),
      // Returns the number of attempts of a job that ended because their lease was lost.
      lostCount: db.prepare<[string], number>("SELECT COUNT(*) FROM attempts WHERE job_id = ? AND end_reason = 'lost'").pluck(),
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
        `UPDATE attempts SET active = 0, ended_at = @now, exit_code = @exit_code, end_reason = @end_reason, error = @error WHERE id = @id AND active = 1`,
      ),
      // Accepts log chunk `seq` if it is newer than the last accepted; changes = 0 for a resend.
      acceptLogSeq: db.prepare('UPDATE attempts SET log_seq = @seq WHERE id = @id AND active = 1 AND log_seq < @seq'),
      // Brings an active attempt's deadline forward to `until` (never later); changes = 0 if it had ended.
      bringDeadline: db.prepare('UPDATE attempts SET deadline_ms = MIN(deadline_ms, @until) WHERE id = @id AND active = 1'),
      // Gives every active lease and deadline at least `until`: after a server restart, runners get time to reconnect and report.
      extendAll: db.prepare('UPDATE attempts SET lease_expires_ms = MAX(lease_expires_ms, @until), deadline_ms = MAX(deadline_ms, @until) WHERE active = 1'),
    };
  }

  insert(row: Pick<AttemptRow, 'id' | 'job_id' | 'number' | 'runner_id' | 'token_hash' | 'lease_expires_ms' | 'deadline_ms' | 'started_at'>): AttemptRow {
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

  lostCount(jobId: string): number {
    return this.stmts.lostCount.get(jobId) ?? 0;
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

  end(id: string, fields: { exit_code: number | null; end_reason: string; error: string | null; now: string }): boolean {
    return this.stmts.end.run({ id, ...fields }).changes === 1;
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
