import type { Db } from '../db/index.js';
import type { Emit } from '../events.js';
import { ApiError } from '../errors.js';
import { AttemptStore } from '../store/attempts.js';
import { JobStore, type JobRow } from '../store/jobs.js';
import { LogStore } from '../store/logs.js';
import { NotifySubjects } from '../store/notify-subjects.js';
import { RunnerStore } from '../store/runners.js';
import { isFinished, type JobStatus, type LiveEvent } from '../../shared/api.js';
import { JOB_PREFIX_MIN, JOB_REF_RE } from '../../shared/names.js';
import type { RunnerStatus } from '../../shared/protocol.js';
import type { Notify } from '../notify.js';
import { nextJobStatus, TransitionError, type JobEvent } from './state.js';
import { TranscriptLog } from './transcript.js';
import { Transactions } from './transactions.js';
import { Wakeups } from './wakeups.js';

export interface QueueOptions {
  leaseTtlMs: number;
  maxAttempts: number;
  logCapBytes: number;
  /** How long a runner stays listed once offline or revoked. */
  runnerPruneAfterMs: number;
  /** How long past its job's timeout an attempt may still report before the server ends it as `timeout`. */
  timeoutGraceMs: number;
  /** How long a cancelled job's runner has to stop the command, push what it left and report, before the server ends the attempt. */
  cancelGraceMs: number;
  /** How long a queued job no registered runner can take waits before it fails; 0: for ever. */
  noRunnerTimeoutMs?: number;
  /** Tells the UI stream what changed; called only once the change is committed. */
  emit: Emit;
  /** Tells webhooks of a finished job or task, inside the transaction that finished it (the outbox). */
  notify?: Notify;
  now?: () => number;
}

/**
 * The tables of the queue. Anyone may read them (the routes, the activity log, the pool); every
 * change of a job, an attempt or a runner goes through the queue's operations instead.
 */
export interface QueueStores {
  jobs: JobStore;
  attempts: AttemptStore;
  runners: RunnerStore;
  logs: LogStore;
  /** Agent jobs' transcripts, per attempt. */
  transcripts: TranscriptLog;
}

export function openQueueStores(db: Db, emit: Emit): QueueStores {
  return {
    jobs: new JobStore(db),
    attempts: new AttemptStore(db),
    runners: new RunnerStore(db),
    logs: new LogStore(db),
    transcripts: new TranscriptLog(db, emit),
  };
}

/** An ambiguous job prefix names this many of its matches. */
const SHOWN_MATCHES = 5;

/**
 * The job a person named: by its id, or by a unique prefix of it (JOB_REF_RE). Not found is a 404;
 * a prefix several jobs share is a 400 that names them, so the next try can be longer.
 */
export function findJob(jobs: JobStore, ref: string): JobRow {
  const exact = jobs.get(ref);
  if (exact) return exact;
  const matches = JOB_REF_RE.test(ref) ? jobs.withPrefix(ref, SHOWN_MATCHES + 1) : [];
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) {
    const hint = ref.length < JOB_PREFIX_MIN && /^[0-9a-f]+$/.test(ref) ? ` (a prefix needs at least ${JOB_PREFIX_MIN} characters)` : '';
    throw new ApiError(404, `job not found: ${ref}${hint}`);
  }
  const shown = matches.slice(0, SHOWN_MATCHES).map((j) => `${j.id.slice(0, 8)} ${JSON.stringify(j.title.length > 40 ? `${j.title.slice(0, 39)}…` : j.title)}`);
  const more = matches.length > SHOWN_MATCHES ? ', and more' : '';
  throw new ApiError(400, `job id prefix ${ref} is ambiguous: it matches ${shown.join(', ')}${more}; give more of the id`);
}

/** What a refused transition is over HTTP: a 409 naming the job and saying why. */
export function refusedAs409<T>(job: Pick<JobRow, 'id'>, decide: () => T): T {
  try {
    return decide();
  } catch (err) {
    if (err instanceof TransitionError) throw new ApiError(409, `job ${job.id} ${err.message}`);
    throw err;
  }
}

/**
 * What every queue operation works with: the stores, the wake-ups, one SQLite transaction per
 * transition whose events and wake-ups wait for its commit, the options and the clock. SQLite is
 * the only truth; `wakeups` only tells long-polls to look again.
 */
export class QueueCore {
  readonly wakeups = new Wakeups();
  readonly transactions: Transactions;
  readonly now: () => number;
  private readonly subjects: NotifySubjects;

  constructor(
    db: Db,
    readonly store: QueueStores,
    readonly opts: QueueOptions,
  ) {
    this.transactions = new Transactions(db);
    this.subjects = new NotifySubjects(db);
    this.now = opts.now ?? Date.now;
  }

  iso(): string {
    return new Date(this.now()).toISOString();
  }

  /** Events are sent once their change is committed. */
  emit(event: LiveEvent): void {
    this.transactions.afterCommit(() => this.opts.emit(event));
  }

  /** Asks the state machine, which decides every status; a refused event is a 409 that says why. */
  decide(job: Pick<JobRow, 'id' | 'status'>, event: JobEvent): JobStatus {
    return refusedAs409(job, () => nextJobStatus(job.status, event, job.id));
  }

  /**
   * A job moved to `status`: its watchers look again, and the UI hears of it, once committed. Every
   * change of a job's status comes here inside its transaction, so this is the one place a finished
   * job, and the last job of a task to finish, are told to webhooks (written with the change).
   */
  changed(job: Pick<JobRow, 'id' | 'repo_id' | 'task_id'>, status: JobStatus): void {
    this.transactions.afterCommit(() => this.wakeups.jobChanged(job.id));
    this.emit({ type: 'job.updated', job_id: job.id, repo_id: job.repo_id, status });
    const notify = this.opts.notify;
    if (!notify || !isFinished(status)) return;
    notify('job.finished', { job_id: job.id });
    const task = job.task_id === null ? undefined : this.subjects.finishedTaskOf(job.id);
    if (task) notify('task.finished', { task_id: task });
  }

  runnerChanged(runnerId: string, status: RunnerStatus, jobId?: string): void {
    this.emit({ type: 'runner.updated', runner_id: runnerId, status, ...(jobId ? { job_id: jobId } : {}) });
  }

  mustGetJob(jobId: string): JobRow {
    return findJob(this.store.jobs, jobId);
  }
}
