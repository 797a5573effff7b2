import type { Db } from '../db/index.js';
import type { CandidateChoice } from '../../shared/api.js';
import type { JobRow } from './jobs.js';

export interface TaskRow {
  id: string;
  repo_id: string;
  title: string;
  created_ms: number;
  picked_job_id: string | null;
  picked_ms: number | null;
  /** The base branch's commit at the submit, which every candidate starts from (null: a task stored before it was kept). */
  base_commit: string | null;
}

/** A discarded candidate whose branch is due to go. */
export type ExpiredBranch = Pick<JobRow, 'id' | 'repo_id' | 'branch_name' | 'commit_sha'>;

/**
 * All SQL on the `tasks` table, and on the candidate columns migration 017 gave `jobs` with it
 * (`task_id`, `choice`, `branch_expires_ms`, `branch_deleted_ms`): only a task writes them.
 */
export class TaskStore {
  private readonly stmts;

  constructor(private readonly db: Db) {
    this.stmts = {
      // Inserts a task; returns nothing.
      insert: db.prepare<[TaskRow]>(
        `INSERT INTO tasks (id, repo_id, title, created_ms, picked_job_id, picked_ms, base_commit)
         VALUES (@id, @repo_id, @title, @created_ms, @picked_job_id, @picked_ms, @base_commit)`,
      ),
      // Makes a job a candidate of a task; changes = 1 if the job exists.
      attach: db.prepare<[{ job_id: string; task_id: string }]>('UPDATE jobs SET task_id = @task_id WHERE id = @job_id'),
      // Returns the row or undefined.
      get: db.prepare<[string], TaskRow>('SELECT * FROM tasks WHERE id = ?'),
      // Returns the base commit of the job's task, or undefined for a job of no task (or a task that kept none).
      baseCommitOfJob: db
        .prepare<[string], string | null>('SELECT tasks.base_commit FROM jobs JOIN tasks ON tasks.id = jobs.task_id WHERE jobs.id = ?')
        .pluck(),
      // Returns up to `limit` tasks whose id starts with the prefix, newest first (the prefix holds only hex digits and -).
      withPrefix: db.prepare<[string, number], TaskRow>("SELECT * FROM tasks WHERE id LIKE ? || '%' ORDER BY created_ms DESC LIMIT ?"),
      // Returns the task's jobs in the order they were created.
      candidates: db.prepare<[string], JobRow>('SELECT * FROM jobs WHERE task_id = ? ORDER BY seq'),
      // Records the pick; changes = 0 if a pick was made already.
      pick: db.prepare<[{ id: string; job_id: string; now: number }]>(
        'UPDATE tasks SET picked_job_id = @job_id, picked_ms = @now WHERE id = @id AND picked_job_id IS NULL',
      ),
      // Marks the picked candidate; its branch is never due to go. Returns nothing.
      markPicked: db.prepare<[{ task_id: string; job_id: string }]>(
        "UPDATE jobs SET choice = 'picked', branch_expires_ms = NULL WHERE task_id = @task_id AND id = @job_id",
      ),
      // Marks every other candidate discarded, its branch due at `expires`; returns nothing.
      markDiscarded: db.prepare<[{ task_id: string; job_id: string; expires: number }]>(
        "UPDATE jobs SET choice = 'discarded', branch_expires_ms = @expires WHERE task_id = @task_id AND id != @job_id",
      ),
      // Returns up to `limit` discarded candidates whose branch is due by `now` and still there, soonest first.
      expired: db.prepare<[{ now: number; limit: number }], ExpiredBranch>(
        `SELECT id, repo_id, branch_name, commit_sha FROM jobs
         WHERE branch_expires_ms IS NOT NULL AND branch_expires_ms <= @now AND branch_deleted_ms IS NULL AND choice = 'discarded'
           AND landed_ms IS NULL
         ORDER BY branch_expires_ms LIMIT @limit`,
      ),
      // Records that a discarded candidate's branch is gone; changes = 1 if it was still due.
      branchDeleted: db.prepare<[{ id: string; now: number }]>(
        "UPDATE jobs SET branch_deleted_ms = @now WHERE id = @id AND choice = 'discarded' AND branch_deleted_ms IS NULL",
      ),
      // Takes a discarded candidate's branch off the list of those due (it moved: someone's now); changes = 1 if it was due.
      keepBranch: db.prepare<[{ id: string }]>('UPDATE jobs SET branch_expires_ms = NULL WHERE id = @id AND branch_deleted_ms IS NULL'),
    };
  }

  insert(task: TaskRow): void {
    this.stmts.insert.run(task);
  }

  attach(taskId: string, jobId: string): void {
    this.stmts.attach.run({ task_id: taskId, job_id: jobId });
  }

  get(id: string): TaskRow | undefined {
    return this.stmts.get.get(id);
  }

  /** The commit a job of a task starts from: its task's base commit, or undefined. */
  baseCommitOfJob(jobId: string): string | undefined {
    return this.stmts.baseCommitOfJob.get(jobId) ?? undefined;
  }

  withPrefix(prefix: string, limit: number): TaskRow[] {
    return this.stmts.withPrefix.all(prefix, limit);
  }

  list(filter: { repo_id?: string; limit: number }): TaskRow[] {
    // Returns the newest tasks first, of one repo or all.
    const sql = `SELECT * FROM tasks ${filter.repo_id ? 'WHERE repo_id = @repo_id' : ''} ORDER BY created_ms DESC, id LIMIT @limit`;
    return this.db.prepare<[Record<string, unknown>], TaskRow>(sql).all({ repo_id: filter.repo_id, limit: filter.limit });
  }

  count(filter: { repo_id?: string }): number {
    // Returns the number of tasks, of one repo or all.
    const sql = `SELECT COUNT(*) FROM tasks ${filter.repo_id ? 'WHERE repo_id = @repo_id' : ''}`;
    return this.db.prepare<[Record<string, unknown>], number>(sql).pluck().get({ repo_id: filter.repo_id })!;
  }

  candidates(taskId: string): JobRow[] {
    return this.stmts.candidates.all(taskId);
  }

  /** Records `jobId` as the task's pick and the others as discarded, their branches due at `expiresMs`; false if a pick was made already. */
  pick(taskId: string, jobId: string, nowMs: number, expiresMs: number): boolean {
    if (this.stmts.pick.run({ id: taskId, job_id: jobId, now: nowMs }).changes !== 1) return false;
    this.stmts.markPicked.run({ task_id: taskId, job_id: jobId });
    this.stmts.markDiscarded.run({ task_id: taskId, job_id: jobId, expires: expiresMs });
    return true;
  }

  expiredBranches(nowMs: number, limit: number): ExpiredBranch[] {
    return this.stmts.expired.all({ now: nowMs, limit });
  }

  keepBranch(jobId: string): boolean {
    return this.stmts.keepBranch.run({ id: jobId }).changes === 1;
  }

  branchDeleted(jobId: string, nowMs: number): boolean {
    return this.stmts.branchDeleted.run({ id: jobId, now: nowMs }).changes === 1;
  }
}

/** What a candidate's row says of its choice, for its view. */
export function choiceOf(job: Pick<JobRow, 'choice'>): CandidateChoice | null {
  return job.choice === 'picked' || job.choice === 'discarded' ? job.choice : null;
}
