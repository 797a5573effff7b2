import type { Db } from '../db/index.js';

/**
 * What retention removes: a finished job's log chunks and its attempts' transcript entries. The
 * job row (with its log and transcript sizes), its attempts and its branch stay; `log_pruned_ms`
 * says when the rest went.
 */
export class RetentionStore {
  private readonly stmts;

  constructor(private readonly db: Db) {
    this.stmts = {
      // Returns up to `limit` finished jobs that ended before `before` and still hold their logs.
      due: db.prepare<[string, number], { id: string }>(
        `SELECT id FROM jobs WHERE finished_at < ? AND log_pruned_ms IS NULL AND status IN ('succeeded', 'failed', 'cancelled') ORDER BY finished_at LIMIT ?`,
      ),
      // Removes a job's log chunks.
      deleteLog: db.prepare<[string]>('DELETE FROM log_chunks WHERE job_id = ?'),
      // Removes the transcript entries of a job's attempts.
      deleteTranscripts: db.prepare<[string]>('DELETE FROM transcript_entries WHERE attempt_id IN (SELECT id FROM attempts WHERE job_id = ?)'),
      // Marks a job's log pruned, if it is still finished (a retry in between keeps it).
      markPruned: db.prepare<[number, string]>(
        `UPDATE jobs SET log_pruned_ms = ? WHERE id = ? AND log_pruned_ms IS NULL AND status IN ('succeeded', 'failed', 'cancelled')`,
      ),
    };
  }

  due(before: string, limit: number): string[] {
    return this.stmts.due.all(before, limit).map((r) => r.id);
  }

  /** Prunes these jobs in one transaction; returns how many were. */
  prune(jobIds: readonly string[], nowMs: number): number {
    return this.db.transaction(() => {
      let pruned = 0;
      for (const id of jobIds) {
        if (this.stmts.markPruned.run(nowMs, id).changes === 0) continue;
        this.stmts.deleteLog.run(id);
        this.stmts.deleteTranscripts.run(id);
        pruned += 1;
      }
      return pruned;
    })();
  }

  /** Gives free pages back to the file system (a no-op on a database made before auto_vacuum). */
  vacuum(): void {
    this.db.pragma('incremental_vacuum');
  }
}
