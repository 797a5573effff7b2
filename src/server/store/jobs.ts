import type { Statement } from 'better-sqlite3';
import type { Db } from '../db/index.js';
import type { JobEndReason, JobStatus } from '../../shared/api.js';
import { SHELL_AGENT } from '../../shared/job-status.js';

export interface JobRow {
  id: string;
  seq: number;
  repo_id: string;
  title: string;
  description: string;
  agent: string;
  command: string | null;
  base_branch: string;
  branch_name: string;
  labels: string;
  timeout_s: number;
  max_attempts: number;
  status: JobStatus;
  cancel_requested: number;
  attempt_count: number;
  /** attempt_count when the job was last retried (0: never): the attempts numbered above it are this run's. */
  retried_after: number;
  current_attempt_id: string | null;
  runner_id: string | null;
  branch: string | null;
  commit_sha: string | null;
  exit_code: number | null;
  error: string | null;
  end_reason: JobEndReason | null;
  log_bytes: number;
  log_truncated: number;
  /** When retention removed its log and transcripts; null while they are kept. */
  log_pruned_ms: number | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
  parent_job_id: string | null;
  base_commit: string | null;
  no_runner_since_ms: number | null;
  /** An agent job's model, or null for the agent's default. */
  model: string | null;
  /** 1: a follow-up that continues its parent's agent conversation. */
  resume_parent: number;
  /** As submitted: 1, a check not passed fails the job; 0, it does not; null, the repo's `require_checks` decides. */
  require_checks: number | null;
  /** The task it is a candidate of (store/tasks.ts writes this and the three below), or null. */
  task_id: string | null;
  /** 'picked' or 'discarded' once its task's pick was made, else null. */
  choice: string | null;
  /** A discarded candidate's branch is deleted at this time (ms). */
  branch_expires_ms: number | null;
  branch_deleted_ms: number | null;
  /** Once landed from the server: who asked, when (ms), where (credentials hidden), what, and the pull request's URL. */
  landed_by: string | null;
  landed_ms: number | null;
  landed_remote_url: string | null;
  landed_branch: string | null;
  landed_commit: string | null;
  pr_url: string | null;
}

/** Where a job's log stands: its size and whether it was cut at the cap. */
export type JobLogState = Pick<JobRow, 'id' | 'log_bytes' | 'log_truncated'>;

/** What the activity log and the metrics read of a job as it starts and finishes. */
export type JobSummary = Pick<
  JobRow,
  'id' | 'title' | 'status' | 'exit_code' | 'error' | 'branch' | 'commit_sha' | 'created_at' | 'started_at' | 'finished_at'
>;

/** A landing as the store records it (`JobStore.recordLanding`). */
export interface LandingRecord {
  landed_by: string;
  landed_ms: number;
  landed_remote_url: string;
  landed_branch: string;
  landed_commit: string;
  pr_url: string | null;
}

export type NewJob = Pick<
  JobRow,
  'id' | 'repo_id' | 'title' | 'description' | 'agent' | 'command' | 'base_branch' | 'branch_name' | 'labels' | 'timeout_s' | 'max_attempts'
> &
  Partial<Pick<JobRow, 'parent_job_id' | 'model' | 'resume_parent' | 'require_checks'>>;

/** What queued jobs ask of a runner, one row per distinct labels and agent. */
export interface QueuedNeeds {
  labels: string;
  agent: string;
}

export interface JobFilter {
  repo_id?: string;
  status?: JobStatus;
  runner_id?: string;
  limit: number;
}

/** The WHERE clause of a JobFilter, and its parameters. */
function matching(filter: Omit<JobFilter, 'limit'>): { where: string; params: Record<string, unknown> } {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  const add = (clause: string, name: string, value: unknown) => {
    where.push(clause);
    params[name] = value;
  };
  if (filter.repo_id) add('repo_id = @repo_id', 'repo_id', filter.repo_id);
  if (filter.status) add('status = @status', 'status', filter.status);
  if (filter.runner_id) add('runner_id = @runner_id', 'runner_id', filter.runner_id);
  return { where: where.length ? 'WHERE ' + where.join(' AND ') : '', params };
}

/** All SQL on the `jobs` table. */
export class JobStore {
  private readonly stmts;

  constructor(private readonly db: Db) {
    this.stmts = {
      // Inserts a queued job at the end of the queue; returns the row.
      insert: db.prepare<
        [Record<string, unknown>],
        JobRow
      >(`INSERT INTO jobs (id, seq, repo_id, title, description, agent, command, base_branch, branch_name, labels, timeout_s, max_attempts, parent_job_id, model, resume_parent, require_checks, status, created_at, updated_at)
        VALUES (@id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs), @repo_id, @title, @description, @agent, @command, @base_branch, @branch_name, @labels, @timeout_s, @max_attempts, @parent_job_id, @model, @resume_parent, @require_checks, 'queued', @now, @now)
        RETURNING *`),
      // Returns the row or undefined.
      get: db.prepare<[string], JobRow>('SELECT * FROM jobs WHERE id = ?'),
      // Returns what the activity log and the metrics tell of a job, or undefined: read on each job's start and finish, without the whole row.
      summary: db.prepare<[string], JobSummary>(
        'SELECT id, title, status, exit_code, error, branch, commit_sha, created_at, started_at, finished_at FROM jobs WHERE id = ?',
      ),
      // Returns where the job's log stands, or undefined: what a log chunk needs of the job.
      logState: db.prepare<[string], JobLogState>('SELECT id, log_bytes, log_truncated FROM jobs WHERE id = ?'),
      // Returns the job's task and repo, or undefined: what every job change asks, without the whole row.
      taskOf: db.prepare<[string], Pick<JobRow, 'task_id' | 'repo_id'>>('SELECT task_id, repo_id FROM jobs WHERE id = ?'),
      // Returns up to `limit` rows whose id starts with the prefix, newest first (the prefix holds only hex digits and -).
      withPrefix: db.prepare<[string, number], JobRow>("SELECT * FROM jobs WHERE id LIKE ? || '%' ORDER BY seq DESC LIMIT ?"),
      // Returns the oldest queued job whose labels are all among the runner's labels and whose agent is shell or among
      // the runner's agents (both JSON arrays), or undefined. The same rule as queue/matching.ts canTake.
      nextFor: db.prepare<[string, string], Pick<JobRow, 'id' | 'status'>>(`SELECT id, status FROM jobs WHERE status = 'queued'
        AND NOT EXISTS (SELECT 1 FROM json_each(jobs.labels) j WHERE j.value NOT IN (SELECT value FROM json_each(?)))
        AND (jobs.agent = '${SHELL_AGENT}' OR jobs.agent IN (SELECT value FROM json_each(?)))
        ORDER BY seq LIMIT 1`),
      // Moves a queued job to running and returns it; no row if someone else claimed it first.
      claim: db.prepare<
        [Record<string, unknown>],
        JobRow
      >(`UPDATE jobs SET status = 'running', attempt_count = attempt_count + 1, current_attempt_id = @attempt_id, runner_id = @runner_id, no_runner_since_ms = NULL,
        started_at = COALESCE(started_at, @now), updated_at = @now WHERE id = @id AND status = 'queued' RETURNING *`),
      // Records the end of the current attempt and the job's new status.
      endAttempt: db.prepare(`UPDATE jobs SET status = @status, current_attempt_id = NULL,
        runner_id = CASE WHEN @status = 'queued' THEN NULL ELSE runner_id END,
        branch = @branch, commit_sha = @commit_sha, base_commit = COALESCE(@base_commit, base_commit), exit_code = @exit_code, error = @error, end_reason = @end_reason,
        finished_at = CASE WHEN @status IN ('succeeded', 'failed', 'cancelled') THEN @now ELSE NULL END, updated_at = @now
        WHERE id = @id AND status = 'running' AND current_attempt_id = @attempt_id`),
      // Cancels a queued job; changes = 0 if it was not queued.
      cancelQueued: db.prepare(
        `UPDATE jobs SET status = 'cancelled', cancel_requested = 1, end_reason = 'cancelled', finished_at = @now, updated_at = @now WHERE id = @id AND status = 'queued'`,
      ),
      // Flags a running job for cancellation; its runner learns it on the next heartbeat.
      requestCancel: db.prepare(`UPDATE jobs SET cancel_requested = 1, updated_at = @now WHERE id = @id AND status = 'running'`),
      // Puts a failed or cancelled job back in the queue as a new run, with a fresh allowance of lost attempts; never a
      // succeeded one, whose branch may have been landed.
      retry: db.prepare(`UPDATE jobs SET status = 'queued', cancel_requested = 0, retried_after = attempt_count, runner_id = NULL,
        branch = NULL, commit_sha = NULL, base_commit = NULL, exit_code = NULL, error = NULL, end_reason = NULL, finished_at = NULL,
        no_runner_since_ms = NULL, updated_at = @now, seq = (SELECT MAX(seq) + 1 FROM jobs)
        WHERE id = @id AND status IN ('failed', 'cancelled')`),
      // Fails a queued job that no runner could take; changes = 0 if it was not queued.
      failNoRunner: db.prepare(`UPDATE jobs SET status = 'failed', error = @error, end_reason = 'no_runner', finished_at = @now, updated_at = @now
        WHERE id = @id AND status = 'queued'`),
      // Returns one row per distinct (labels, agent) of the queued jobs.
      queuedNeeds: db.prepare<[], QueuedNeeds>("SELECT DISTINCT labels, agent FROM jobs WHERE status = 'queued'"),
      // Starts the no-runner clock of the queued jobs with these needs where it is not running; returns nothing.
      markNoRunner: db.prepare(`UPDATE jobs SET no_runner_since_ms = @now
        WHERE status = 'queued' AND labels = @labels AND agent = @agent AND no_runner_since_ms IS NULL`),
      // Stops the no-runner clock of the queued jobs with these needs; returns nothing.
      clearNoRunner: db.prepare(`UPDATE jobs SET no_runner_since_ms = NULL
        WHERE status = 'queued' AND labels = @labels AND agent = @agent AND no_runner_since_ms IS NOT NULL`),
      // Returns up to 100 queued jobs, oldest first, that no runner could take since before `?` (ms).
      strandedSince: db.prepare<[number], JobRow>(
        "SELECT * FROM jobs WHERE status = 'queued' AND no_runner_since_ms IS NOT NULL AND no_runner_since_ms < ? ORDER BY seq LIMIT 100",
      ),
      // Adds to the job's log counters. (Its column log_dropped_bytes is no longer written or read: dropping it
      // would rewrite the whole table, and a server of an earlier version, started again on this data, writes it.)
      addLog: db.prepare('UPDATE jobs SET log_bytes = log_bytes + @stored, log_truncated = @truncated WHERE id = @id'),
      // Returns { status, n } per status.
      counts: db.prepare<[], { status: JobStatus; n: number }>('SELECT status, COUNT(*) AS n FROM jobs GROUP BY status'),
    };
  }

  insert(job: NewJob, now: string): JobRow {
    return this.stmts.insert.get({ parent_job_id: null, model: null, resume_parent: 0, require_checks: null, ...job, now })!;
  }

  get(id: string): JobRow | undefined {
    return this.stmts.get.get(id);
  }

  logState(id: string): JobLogState | undefined {
    return this.stmts.logState.get(id);
  }

  summary(id: string): JobSummary | undefined {
    return this.stmts.summary.get(id);
  }

  taskOf(id: string): Pick<JobRow, 'task_id' | 'repo_id'> | undefined {
    return this.stmts.taskOf.get(id);
  }

  /** Up to `limit` jobs whose id starts with `prefix` (hex digits and - only: see JOB_REF_RE), newest first. */
  withPrefix(prefix: string, limit: number): JobRow[] {
    return this.stmts.withPrefix.all(prefix, limit);
  }

  list(filter: JobFilter): JobRow[] {
    const { where, params } = matching(filter);
    // Returns the newest jobs first, by when they were created: the time a list shows. Not by seq, the
    // queue's order, which a retry moves to the end (a retried job would top the list with its old date).
    const sql = `SELECT * FROM jobs ${where} ORDER BY created_at DESC, seq DESC LIMIT @limit`;
    return this.db.prepare<[Record<string, unknown>], JobRow>(sql).all({ ...params, limit: filter.limit });
  }

  /** How many jobs the filter matches, whatever its limit: a list's `total`. */
  count(filter: Omit<JobFilter, 'limit'>): number {
    const { where, params } = matching(filter);
    // Returns the number of jobs matching.
    return this.db.prepare<[Record<string, unknown>], number>(`SELECT COUNT(*) FROM jobs ${where}`).pluck().get(params)!;
  }

  /** Just what a claim decides on: the claim's update returns the whole row (a wide row costs ~7 µs to read, three columns ~1). */
  nextFor(runnerLabels: string, runnerAgents: string): Pick<JobRow, 'id' | 'status'> | undefined {
    return this.stmts.nextFor.get(runnerLabels, runnerAgents);
  }

  claim(id: string, attemptId: string, runnerId: string, now: string): JobRow | undefined {
    return this.stmts.claim.get({ id, attempt_id: attemptId, runner_id: runnerId, now });
  }

  endAttempt(fields: {
    id: string;
    attempt_id: string;
    status: JobStatus;
    branch: string | null;
    commit_sha: string | null;
    /** Kept as it was when null (an attempt that did not say). */
    base_commit: string | null;
    exit_code: number | null;
    error: string | null;
    end_reason: string;
    now: string;
  }): boolean {
    return this.stmts.endAttempt.run(fields).changes === 1;
  }

  cancelQueued(id: string, now: string): boolean {
    return this.stmts.cancelQueued.run({ id, now }).changes === 1;
  }

  requestCancel(id: string, now: string): boolean {
    return this.stmts.requestCancel.run({ id, now }).changes === 1;
  }

  retry(id: string, now: string): boolean {
    return this.stmts.retry.run({ id, now }).changes === 1;
  }

  failNoRunner(id: string, error: string, now: string): boolean {
    return this.stmts.failNoRunner.run({ id, error, now }).changes === 1;
  }

  queuedNeeds(): QueuedNeeds[] {
    return this.stmts.queuedNeeds.all();
  }

  /** Starts (`since` a time) or stops (null) the no-runner clock of the queued jobs with these needs. */
  setNoRunner(needs: { labels: string; agent: string }, since: number | null): void {
    if (since === null) this.stmts.clearNoRunner.run({ labels: needs.labels, agent: needs.agent });
    else this.stmts.markNoRunner.run({ labels: needs.labels, agent: needs.agent, now: since });
  }

  strandedSince(before: number): JobRow[] {
    return this.stmts.strandedSince.all(before);
  }

  addLog(id: string, stored: number, truncated: boolean): void {
    this.stmts.addLog.run({ id, stored, truncated: truncated ? 1 : 0 });
  }

  /** Records a landing (the latest replaces an earlier one); false when the job is gone. */
  recordLanding(id: string, landing: LandingRecord): boolean {
    // Returns changes = 1 when the job exists.
    this.landStmt ??= this.db.prepare(`UPDATE jobs SET landed_by = @landed_by, landed_ms = @landed_ms, landed_remote_url = @landed_remote_url,
      landed_branch = @landed_branch, landed_commit = @landed_commit, pr_url = @pr_url WHERE id = @id`);
    return this.landStmt.run({ ...landing, id }).changes === 1;
  }

  /** Sets the pull request of a landed job. */
  setPrUrl(id: string, prUrl: string): void {
    // Returns nothing; a job not landed keeps no pull request.
    this.prStmt ??= this.db.prepare('UPDATE jobs SET pr_url = @pr_url WHERE id = @id AND landed_ms IS NOT NULL');
    this.prStmt.run({ id, pr_url: prUrl });
  }

  private landStmt: Statement | undefined;
  private prStmt: Statement | undefined;

  counts(): Record<JobStatus, number> {
    const out: Record<JobStatus, number> = { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
    for (const { status, n } of this.stmts.counts.all()) out[status] = n;
    return out;
  }
}
