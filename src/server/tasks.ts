import crypto from 'node:crypto';
import type { DiffStat, SubmitTask, Task, TaskCandidate } from '../shared/api.js';
import { isFinished, SHELL_AGENT } from '../shared/job-status.js';
import { JOB_PREFIX_MIN, JOB_REF_RE } from '../shared/names.js';
import { ApiError } from './errors.js';
import { bareRepoPath, deleteBranch, resolveBranch } from './git/bare.js';
import { jobDiff } from './git/diff.js';
import type { Notify } from './notify.js';
import type { ServerConfig } from './config.js';
import type { LiveEvents } from './events.js';
import type { QueueStores } from './queue/queue.js';
import { checkedSubmission, type JobInput, type SubmitSources } from './queue/submit.js';
import type { JobRow } from './store/jobs.js';
import { choiceOf, type TaskRow, type TaskStore } from './store/tasks.js';

export interface TaskSources extends SubmitSources {
  tasks: TaskStore;
  store: QueueStores;
  reposDir: string;
  notify: Notify;
  /** How long a discarded candidate's branch is kept (LAZYAF_DISCARD_DAYS), in ms. */
  discardAfterMs: number;
  now?: () => number;
}

/**
 * Tasks: one prompt given to several jobs, compared, and one of them picked. The jobs are the
 * queue's like any other; a task adds their grouping, the pick, and the end of the discarded
 * candidates' branches.
 */
export class Tasks {
  private readonly now: () => number;
  /** A commit's diff stat against its base never changes: computed once per pair (a task page is read on every candidate's event). */
  private readonly stats = new Map<string, DiffStat | null>();

  constructor(private readonly from: TaskSources) {
    this.now = from.now ?? Date.now;
  }

  /**
   * Checks the submission once per distinct agent, reads the base branch's commit once, then
   * stores the task (with that commit) and every job in one transaction. Each job's assignment
   * names the task's commit as its base (`pinnedBase`), so the candidates start from the same
   * commit however long they wait for a runner.
   */
  async submit(body: SubmitTask): Promise<{ task: TaskRow; jobs: JobRow[] }> {
    const { count, agents, ...job } = body;
    if ((count === undefined) === (agents === undefined))
      throw new ApiError(400, 'a task needs either count (that many of one job) or agents (one job each), not both');
    if (agents !== undefined && (job.command !== undefined || job.agent !== undefined)) {
      throw new ApiError(400, 'agents names each job\'s agent: give it without "command" or "agent"');
    }
    if (agents?.includes(SHELL_AGENT)) throw new ApiError(400, `the shell agent needs a command: use count with "command" instead of agents`);
    const checked = new Map<string, JobInput>();
    for (const agent of agents ?? [job.agent ?? '']) {
      if (!checked.has(agent)) checked.set(agent, await checkedSubmission(agents ? { ...job, agent } : job, this.from));
    }
    const inputs = agents ? agents.map((a) => checked.get(a)!) : Array.from({ length: count! }, () => checked.get(job.agent ?? '')!);
    const { repo_id: repoId, base_branch: baseBranch } = inputs[0]!;
    // Read once: every candidate starts from this commit, whenever a runner takes it.
    const baseCommit = await resolveBranch(bareRepoPath(this.from.reposDir, repoId), baseBranch);
    if (!baseCommit) throw new ApiError(400, `base branch "${baseBranch}" does not exist any more`);
    const task: TaskRow = {
      id: crypto.randomUUID(),
      repo_id: repoId,
      title: body.title,
      created_ms: this.now(),
      picked_job_id: null,
      picked_ms: null,
      base_commit: baseCommit,
    };
    const { queue, tasks } = this.from;
    const jobs = queue.transaction(() => {
      tasks.insert(task);
      const rows = inputs.map((input) => queue.submit(input));
      for (const row of rows) tasks.attach(task.id, row.id);
      this.changed(task);
      return rows.map((row) => this.from.store.jobs.get(row.id)!);
    });
    return { task, jobs };
  }

  /** The task a person named: its id, or a unique prefix of it (as a job's); 404 or an ambiguous 400 otherwise. */
  find(ref: string): TaskRow {
    const exact = this.from.tasks.get(ref);
    if (exact) return exact;
    const matches = JOB_REF_RE.test(ref) ? this.from.tasks.withPrefix(ref, 6) : [];
    if (matches.length === 1) return matches[0]!;
    if (matches.length === 0) {
      const hint = ref.length < JOB_PREFIX_MIN && /^[0-9a-f]+$/.test(ref) ? ` (a prefix needs at least ${JOB_PREFIX_MIN} characters)` : '';
      throw new ApiError(404, `task not found: ${ref}${hint}`);
    }
    throw new ApiError(400, `task id prefix ${ref} is ambiguous: it matches ${matches.map((t) => t.id.slice(0, 8)).join(', ')}; give more of the id`);
  }

  /** The newest tasks, of one repo or all. */
  list(repoId: string | undefined, limit: number): TaskRow[] {
    return this.from.tasks.list({ repo_id: repoId, limit });
  }

  count(repoId: string | undefined): number {
    return this.from.tasks.count({ repo_id: repoId });
  }

  /** The candidate a person named in the task: a job id or a unique prefix of one of its jobs. */
  candidate(task: TaskRow, ref: string): JobRow {
    const jobs = this.from.tasks.candidates(task.id);
    const exact = jobs.find((j) => j.id === ref);
    if (exact) return exact;
    const matches = JOB_REF_RE.test(ref) ? jobs.filter((j) => j.id.startsWith(ref)) : [];
    if (matches.length === 1) return matches[0]!;
    if (matches.length === 0) throw new ApiError(404, `job ${ref} is not a candidate of task ${task.id.slice(0, 8)}`);
    throw new ApiError(400, `job id prefix ${ref} is ambiguous in task ${task.id.slice(0, 8)}: give more of the id`);
  }

  /** The task with each candidate as the API shows it; `jobView` makes a job's own view. */
  async view(task: TaskRow, jobView: (job: JobRow) => TaskCandidate['job'], signal?: AbortSignal): Promise<Task> {
    const rows = this.from.tasks.candidates(task.id);
    const candidates = await Promise.all(rows.map(async (job) => this.candidateView(job, jobView(job), signal)));
    return {
      id: task.id,
      repo_id: task.repo_id,
      repo_name: this.from.repos.get(task.repo_id)?.name ?? task.repo_id,
      title: task.title,
      status: rows.every((j) => isFinished(j.status)) ? 'finished' : 'running',
      created_at: new Date(task.created_ms).toISOString(),
      picked_job_id: task.picked_job_id,
      picked_at: task.picked_ms === null ? null : new Date(task.picked_ms).toISOString(),
      jobs: candidates,
    };
  }

  private async candidateView(job: JobRow, view: TaskCandidate['job'], signal?: AbortSignal): Promise<TaskCandidate> {
    const started = job.started_at ? Date.parse(job.started_at) : NaN;
    const ended = job.finished_at ? Date.parse(job.finished_at) : NaN;
    return {
      job: view,
      diff_stat: await this.diffStat(job, signal),
      duration_ms: Number.isFinite(started) && Number.isFinite(ended) ? Math.max(0, ended - started) : null,
      choice: choiceOf(job),
      branch_expires_at: job.branch_expires_ms === null ? null : new Date(job.branch_expires_ms).toISOString(),
      branch_deleted_at: job.branch_deleted_ms === null ? null : new Date(job.branch_deleted_ms).toISOString(),
    };
  }

  /** Files, added and removed lines against the job's base, once it left a commit; null before, or when it cannot be read. */
  private async diffStat(job: JobRow, signal?: AbortSignal): Promise<DiffStat | null> {
    if (!job.commit_sha || !isFinished(job.status)) return null;
    const key = `${job.commit_sha}:${job.base_commit ?? job.base_branch}`;
    const known = this.stats.get(key);
    if (known !== undefined) return known;
    let stat: DiffStat | null;
    try {
      const diff = await jobDiff(bareRepoPath(this.from.reposDir, job.repo_id), job, { maxBytes: 1024, maxFiles: 10_000, stat: true, signal });
      stat = diff.commit ? { files: diff.files.length, added: diff.added, removed: diff.removed } : null;
    } catch (err) {
      // A commit gone with its deleted branch has no stat any more; anything else is the server's to report.
      if (err instanceof ApiError) return null;
      throw err;
    }
    // A bound, not a cache policy: a server lives through many tasks, each stat is a few bytes.
    if (this.stats.size >= 10_000) this.stats.clear();
    this.stats.set(key, stat);
    return stat;
  }

  /**
   * Records the pick: `jobRef` picked, the other candidates discarded with their branches due to go
   * after LAZYAF_DISCARD_DAYS. Only a finished candidate with a commit; once (picking the same one
   * again changes nothing, so a pick whose land failed can be landed again).
   */
  pick(task: TaskRow, jobRef: string): { task: TaskRow; job: JobRow } {
    const job = this.candidate(task, jobRef);
    if (!isFinished(job.status)) throw new ApiError(409, `job ${job.id.slice(0, 8)} is ${job.status}: a candidate can be picked once it has finished`);
    if (!job.commit_sha) throw new ApiError(409, `job ${job.id.slice(0, 8)} left no commit (it changed nothing, or never ran): there is nothing to pick`);
    const { queue, tasks } = this.from;
    queue.transaction(() => {
      const now = this.now();
      if (!tasks.pick(task.id, job.id, now, now + this.from.discardAfterMs)) {
        const current = tasks.get(task.id);
        if (current?.picked_job_id === job.id) return;
        throw new ApiError(409, `task ${task.id.slice(0, 8)} has its pick already: job ${current?.picked_job_id?.slice(0, 8) ?? '?'}`);
      }
      this.from.notify('task.picked', { task_id: task.id });
      this.changed(task);
    });
    return { task: tasks.get(task.id)!, job: this.from.store.jobs.get(job.id)! };
  }

  /** Tells the task's page to look again, once the change commits. */
  changed(task: Pick<TaskRow, 'id' | 'repo_id'>): void {
    this.from.queue.emit({ type: 'task.updated', task_id: task.id, repo_id: task.repo_id });
  }

  /**
   * Deletes the branches of discarded candidates whose time is up, from the bare repo, and records
   * it. A branch is deleted only while it still points at the job's commit: one moved since (a
   * person built on it) is theirs now, and is only taken off the list of those due. A branch
   * already gone is recorded as deleted.
   */
  async deleteExpiredBranches(limit = 100): Promise<number> {
    const { tasks, reposDir } = this.from;
    let deleted = 0;
    for (const job of tasks.expiredBranches(this.now(), limit)) {
      const repoPath = bareRepoPath(reposDir, job.repo_id);
      const at = await resolveBranch(repoPath, job.branch_name);
      const moved = at !== undefined && at !== job.commit_sha;
      if (at !== undefined && !moved) {
        await deleteBranch(repoPath, job.branch_name, at);
        this.from.branches.invalidate(job.repo_id);
        deleted++;
      }
      this.from.queue.transaction(() => {
        if (!(moved ? tasks.keepBranch(job.id) : tasks.branchDeleted(job.id, this.now()))) return;
        const row = this.from.store.jobs.get(job.id);
        if (row?.task_id) this.changed({ id: row.task_id, repo_id: row.repo_id });
      });
    }
    return deleted;
  }
}

/** LAZYAF_DISCARD_DAYS in ms. */
export function discardAfterMs(config: Pick<ServerConfig, 'discardDays'>): number {
  return Math.round(config.discardDays * 24 * 3600 * 1000);
}

/** How often the sweeper looks for branches due to go: a quarter of their time, between 0.2 s (tests keep them seconds) and a minute. */
export function branchSweepIntervalMs(discardAfterMs: number): number {
  return Math.min(60_000, Math.max(200, Math.floor(discardAfterMs / 4)));
}

/** Deletes discarded candidates' branches when their time is up, even when no request arrives. Returns the function that stops it. */
export function startBranchSweeper(tasks: Tasks, discardAfterMs: number, log: { error: (fields: object, msg: string) => void }): () => void {
  let running = false;
  const timer = setInterval(() => {
    // One sweep at a time: a slow git must not stack them.
    if (running) return;
    running = true;
    tasks
      .deleteExpiredBranches()
      .catch((err: unknown) => log.error({ err }, 'deleting discarded branches failed; trying again on the next sweep'))
      .finally(() => (running = false));
  }, branchSweepIntervalMs(discardAfterMs));
  timer.unref();
  return () => clearInterval(timer);
}

/** A job of a task changed: the task's page looks again. Returns the function that stops it. */
export function relayJobChanges(tasks: Tasks, events: LiveEvents, jobs: QueueStores['jobs']): () => void {
  return events.subscribe((event) => {
    if (event.type !== 'job.updated') return;
    const job = jobs.taskOf(event.job_id);
    if (job?.task_id) tasks.changed({ id: job.task_id, repo_id: job.repo_id });
  });
}
