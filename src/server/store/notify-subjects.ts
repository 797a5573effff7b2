import type { Db } from '../db/index.js';
import type { CandidateChoice, JobStatus } from '../../shared/api.js';

/** A task as a notification tells of it. */
export interface TaskSubject {
  id: string;
  title: string;
  repo_id: string;
  picked_job_id: string | null;
  jobs: { id: string; status: JobStatus; choice: CandidateChoice | null }[];
}

/**
 * Reads what a notification is about (a report over `tasks` and `jobs`, as `usage.ts` is over
 * `attempts`): whether a job's task has now finished, and a task with its jobs for a payload.
 */
export class NotifySubjects {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      // Returns the task of job `id` and how many of that task's jobs have not finished; no row if the job has no task.
      taskOfJob: db.prepare<[string], { task_id: string; unfinished: number }>(
        `SELECT j.task_id, (SELECT COUNT(*) FROM jobs o WHERE o.task_id = j.task_id AND o.status NOT IN ('succeeded', 'failed', 'cancelled')) AS unfinished
         FROM jobs j WHERE j.id = ? AND j.task_id IS NOT NULL`,
      ),
      // Returns one task, or no row.
      task: db.prepare<[string], Omit<TaskSubject, 'jobs'>>('SELECT id, title, repo_id, picked_job_id FROM tasks WHERE id = ?'),
      // Returns a task's jobs in the order they were submitted.
      taskJobs: db.prepare<[string], TaskSubject['jobs'][number]>('SELECT id, status, choice FROM jobs WHERE task_id = ? ORDER BY seq'),
    };
  }

  /** The task of job `jobId` if every job of it has finished. */
  finishedTaskOf(jobId: string): string | undefined {
    const row = this.stmts.taskOfJob.get(jobId);
    return row && row.unfinished === 0 ? row.task_id : undefined;
  }

  task(id: string): TaskSubject | undefined {
    const task = this.stmts.task.get(id);
    return task && { ...task, jobs: this.stmts.taskJobs.all(id) };
  }
}
