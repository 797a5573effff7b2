import type { Db } from '../db/index.js';
import type { CommentSide } from '../../shared/api.js';

export interface CommentRow {
  id: string;
  job_id: string;
  path: string;
  line: number;
  side: CommentSide;
  body: string;
  created_ms: number;
  resolved_ms: number | null;
  sent_in_job_id: string | null;
  touched_by_job_id: string | null;
  /** The follow-up's commit `touched_by_job_id` was computed for; null until it was. */
  touch_checked_commit: string | null;
}

export type NewCommentRow = Pick<CommentRow, 'id' | 'job_id' | 'path' | 'line' | 'side' | 'body' | 'created_ms'>;

/** A follow-up that comments were sent to, finished with a commit their touches were not computed for. */
export interface UncheckedFollowup {
  followup_id: string;
}

const ORDER = 'ORDER BY path, line, created_ms, id';

/** All SQL on the `comments` table (review comments on a job's diff). */
export class CommentStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      // Inserts a comment; returns the row.
      insert: db.prepare<[NewCommentRow], CommentRow>(
        `INSERT INTO comments (id, job_id, path, line, side, body, created_ms) VALUES (@id, @job_id, @path, @line, @side, @body, @created_ms) RETURNING *`,
      ),
      // Returns the comment of job `job_id` with id `id`, or undefined (a comment of another job is not found).
      get: db.prepare<[{ job_id: string; id: string }], CommentRow>('SELECT * FROM comments WHERE id = @id AND job_id = @job_id'),
      // Returns every comment of the job, by path, then line.
      forJob: db.prepare<[string], CommentRow>(`SELECT * FROM comments WHERE job_id = ? ${ORDER}`),
      // Returns the job's comments that are resolved (@resolved = 1) or not (0), by path, then line.
      forJobResolved: db.prepare<[{ job_id: string; resolved: number }], CommentRow>(
        `SELECT * FROM comments WHERE job_id = @job_id AND (resolved_ms IS NOT NULL) = @resolved ${ORDER}`,
      ),
      // Returns the comments sent to follow-up `?`, by path, then line.
      sentTo: db.prepare<[string], CommentRow>(`SELECT * FROM comments WHERE sent_in_job_id = ? ${ORDER}`),
      // Returns the job's unresolved comments not sent yet, by path, then line.
      unsent: db.prepare<[string], CommentRow>(`SELECT * FROM comments WHERE job_id = ? AND resolved_ms IS NULL AND sent_in_job_id IS NULL ${ORDER}`),
      // Marks unresolved, unsent comments (ids: a JSON array) sent to @followup; returns the number marked.
      markSent: db.prepare<[{ ids: string; followup: string }]>(
        `UPDATE comments SET sent_in_job_id = @followup
         WHERE id IN (SELECT value FROM json_each(@ids)) AND resolved_ms IS NULL AND sent_in_job_id IS NULL`,
      ),
      // Sets or clears a comment's resolved time; returns the row, or undefined when the job has no such comment.
      setResolved: db.prepare<[{ job_id: string; id: string; resolved_ms: number | null }], CommentRow>(
        'UPDATE comments SET resolved_ms = @resolved_ms WHERE id = @id AND job_id = @job_id RETURNING *',
      ),
      // Deletes a comment of the job; changes = 0 when it has no such comment.
      remove: db.prepare<[{ job_id: string; id: string }]>('DELETE FROM comments WHERE id = @id AND job_id = @job_id'),
      // Records whether follow-up @followup touched the comment, as computed for its commit @commit.
      setTouched: db.prepare<[{ id: string; followup: string; touched: number; commit: string }]>(
        `UPDATE comments SET touched_by_job_id = CASE WHEN @touched = 1 THEN @followup ELSE NULL END, touch_checked_commit = @commit
         WHERE id = @id AND sent_in_job_id = @followup`,
      ),
      // Returns up to 100 follow-ups that finished with a commit their sent comments' touches were not computed for.
      unchecked: db.prepare<[], UncheckedFollowup>(
        `SELECT DISTINCT c.sent_in_job_id AS followup_id FROM comments c JOIN jobs j ON j.id = c.sent_in_job_id
         WHERE j.status IN ('succeeded', 'failed', 'cancelled') AND j.commit_sha IS NOT NULL AND c.touch_checked_commit IS NOT j.commit_sha LIMIT 100`,
      ),
    };
  }

  insert(row: NewCommentRow): CommentRow {
    return this.stmts.insert.get(row)!;
  }

  get(jobId: string, id: string): CommentRow | undefined {
    return this.stmts.get.get({ job_id: jobId, id });
  }

  /** The job's comments, all of them or only the resolved (true) or unresolved (false) ones. */
  forJob(jobId: string, resolved?: boolean): CommentRow[] {
    return resolved === undefined ? this.stmts.forJob.all(jobId) : this.stmts.forJobResolved.all({ job_id: jobId, resolved: resolved ? 1 : 0 });
  }

  sentTo(followupId: string): CommentRow[] {
    return this.stmts.sentTo.all(followupId);
  }

  unsent(jobId: string): CommentRow[] {
    return this.stmts.unsent.all(jobId);
  }

  /** Marks these comments sent to `followupId`; returns how many were still unresolved and unsent. */
  markSent(ids: string[], followupId: string): number {
    return this.stmts.markSent.run({ ids: JSON.stringify(ids), followup: followupId }).changes;
  }

  setResolved(jobId: string, id: string, resolvedMs: number | null): CommentRow | undefined {
    return this.stmts.setResolved.get({ job_id: jobId, id, resolved_ms: resolvedMs });
  }

  remove(jobId: string, id: string): boolean {
    return this.stmts.remove.run({ job_id: jobId, id }).changes === 1;
  }

  setTouched(id: string, followupId: string, touched: boolean, commit: string): void {
    this.stmts.setTouched.run({ id, followup: followupId, touched: touched ? 1 : 0, commit });
  }

  uncheckedFollowups(): string[] {
    return this.stmts.unchecked.all().map((r) => r.followup_id);
  }
}
