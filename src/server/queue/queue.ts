import type { Db } from '../db/index.js';
import type { AttemptRow } from '../store/attempts.js';
import type { JobRow, NewJob } from '../store/jobs.js';
import type { RunnerRow } from '../store/runners.js';
import type { JobStatus, LiveEvent } from '../../shared/api.js';
import type { AttemptEndReason, CompleteRequest, HeartbeatRequest, HeartbeatResponse, LogAck, RegisterRequest } from '../../shared/protocol.js';
import type { Redactor } from '../../shared/redact.js';
import { complete, type AttemptFailure } from './attempt-end.js';
import { claim, markPolled, type Claimed } from './claim.js';
import { QueueCore, type QueueOptions, type QueueStores } from './core.js';
import { cancel, mustHaveFinished, retry, submit } from './job-changes.js';
import { attemptByToken, extendLeasesAtStart, leaseIsLive } from './leases.js';
import { appendLog } from './log-append.js';
import { attemptsToStop, deregister, heartbeat, register } from './runner-registry.js';
import { sweep, type SweepResult } from './sweeper.js';
import type { Wakeups } from './wakeups.js';

export type { AttemptFailure, Claimed, QueueOptions, QueueStores };

/**
 * The durable queue: every change of a job, an attempt or a runner goes through here, each in one
 * SQLite transaction (one module per operation, on a shared QueueCore). Reads go to the stores
 * (QueueStores) directly.
 */
export class Queue {
  private readonly core: QueueCore;

  constructor(db: Db, store: QueueStores, opts: QueueOptions) {
    this.core = new QueueCore(db, store, opts);
  }

  get leaseTtlMs(): number {
    return this.core.opts.leaseTtlMs;
  }

  /** Tells long-polls and log followers to look again; SQLite holds the state. */
  get wakeups(): Wakeups {
    return this.core.wakeups;
  }

  /** Start-up recovery (leases.ts): run once when the server starts, before runners are answered. */
  extendLeasesAtStart(): number {
    return extendLeasesAtStart(this.core);
  }

  // ---- jobs: job-changes.ts ----------------------------------------------------------------

  submit(input: Omit<NewJob, 'id' | 'branch_name' | 'max_attempts'> & { max_attempts?: number }): JobRow {
    return submit(this.core, input);
  }

  cancel(jobId: string): JobRow {
    return cancel(this.core, jobId);
  }

  retry(jobId: string): JobRow {
    return retry(this.core, jobId);
  }

  /**
   * Runs `fn` in one transaction with the queue's changes inside it, whose events and wake-ups
   * wait for its commit: jobs with the rows of another table that must exist with them (a task's
   * row, comments marked sent to a follow-up), or none of them.
   */
  transaction<T>(fn: () => T): T {
    return this.core.transactions.run(fn, 'immediate');
  }

  /** Sends a live event once the transaction in progress commits (now, outside one). */
  emit(event: LiveEvent): void {
    this.core.emit(event);
  }

  mustBeFinished(job: JobRow, action: string): void {
    mustHaveFinished(job, action);
  }

  // ---- runners: runner-registry.ts ---------------------------------------------------------

  register(req: RegisterRequest): { runner: RunnerRow; token: string } {
    return register(this.core, req);
  }

  deregister(runner: RunnerRow, reason?: AttemptEndReason): AttemptFailure[] {
    return deregister(this.core, runner, reason);
  }

  heartbeat(runner: RunnerRow, req: HeartbeatRequest): HeartbeatResponse | undefined {
    return heartbeat(this.core, runner, req);
  }

  attemptsToStop(runnerId: string, attemptIds: readonly string[]): { cancel: string[]; lost: string[] } {
    return attemptsToStop(this.core, runnerId, attemptIds);
  }

  // ---- claims: claim.ts (the poll's wait is the dispatcher's) ------------------------------

  claim(runner: RunnerRow): Claimed | undefined {
    return claim(this.core, runner);
  }

  markPolled(runner: RunnerRow): void {
    markPolled(this.core, runner);
  }

  // ---- attempts: leases.ts, log-append.ts, attempt-end.ts ---------------------------------

  /** Whether the attempt still holds its lease (leaseIsLive, on the queue's clock). */
  isLive(attempt: AttemptRow): boolean {
    return leaseIsLive(attempt, this.core.now());
  }

  /** The attempt a job token belongs to, while its lease is live. */
  liveAttemptByToken(token: string): AttemptRow | undefined {
    const attempt = attemptByToken(this.core.store.attempts, token);
    return attempt && this.isLive(attempt) ? attempt : undefined;
  }

  appendLog(attempt: AttemptRow, seq: number, text: string, redactor?: Redactor): LogAck {
    return appendLog(this.core, attempt, seq, text, redactor);
  }

  complete(attempt: AttemptRow, req: CompleteRequest): JobStatus {
    return complete(this.core, attempt, req);
  }

  // ---- time: sweeper.ts --------------------------------------------------------------------

  sweep(): SweepResult {
    return sweep(this.core);
  }
}
