import crypto from 'node:crypto';
import type { Db } from '../db/index.js';
import { ApiError } from '../errors.js';
import { hashToken, JOB_TOKEN_PREFIX, newToken } from '../secrets.js';
import { AttemptStore, type AttemptRow } from '../store/attempts.js';
import { JobStore, type JobRow, type NewJob } from '../store/jobs.js';
import { LogStore } from '../store/logs.js';
import { RunnerStore, type RunnerRow } from '../store/runners.js';
import type { JobStatus, LiveEvent, RunnersStatus } from '../../shared/api.js';
import type { AttemptEndReason, CompleteRequest, RunnerStatus, HeartbeatRequest, HeartbeatResponse, LogAck, RegisterRequest } from '../../shared/protocol.js';
import type { Redactor } from '../../shared/redact.js';
import { needsOf, offerOf } from './matching.js';
import { strandedJobs } from './no-runner.js';
import { mustBeFinished, nextJobStatus, TransitionError, type JobEvent } from './state.js';
import { hideValueAcrossChunks } from './split-values.js';
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
  emit: (event: LiveEvent) => void;
  now?: () => number;
}

export interface Claimed {
  job: JobRow;
  attempt: AttemptRow;
  jobToken: string;
}

/** Why the server itself ends an attempt. */
type EndRequest = { outcome: AttemptEndReason; error?: string; exit_code?: null; commit?: null };

/** An attempt the server could not end now; it stays active and is tried again later. */
export interface AttemptFailure {
  attempt_id: string;
  error: string;
}

/** What the state machine refuses is a 409 naming the job. */
function refusedAs409<T>(job: JobRow, decide: () => T): T {
  try {
    return decide();
  } catch (err) {
    if (err instanceof TransitionError) throw new ApiError(409, `job ${job.id} ${err.message}`);
    throw err;
  }
}

const TRUNCATION_MARKER = (cap: number) => `\n[lazyaf: log truncated at ${cap} bytes; further output was dropped]\n`;

/**
 * The durable queue: every transition of a job, an attempt or a runner happens here, each in one
 * SQLite transaction. SQLite is the only truth; `wakeups` only tells long-polls to look again.
 */
export class Queue {
  readonly jobs: JobStore;
  readonly attempts: AttemptStore;
  readonly runners: RunnerStore;
  readonly logs: LogStore;
  /** Agent jobs' transcripts, per attempt. */
  readonly transcripts: TranscriptLog;
  readonly wakeups = new Wakeups();
  private readonly now: () => number;
  private readonly transactions: Transactions;

  constructor(
    db: Db,
    private readonly opts: QueueOptions,
  ) {
    this.jobs = new JobStore(db);
    this.attempts = new AttemptStore(db);
    this.runners = new RunnerStore(db);
    this.logs = new LogStore(db);
    this.transcripts = new TranscriptLog(db, opts.emit);
    this.transactions = new Transactions(db);
    this.now = opts.now ?? Date.now;
    // After a restart every live lease gets a full TTL, so runners that kept working while the
    // server was down can reconnect and keep their job.
    this.attempts.extendAll(this.now() + opts.leaseTtlMs);
  }

  get leaseTtlMs(): number {
    return this.opts.leaseTtlMs;
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  /** Events are sent once their change is committed. */
  private emit(event: LiveEvent): void {
    this.transactions.afterCommit(() => this.opts.emit(event));
  }

  /** Asks the state machine; a refused event is a 409 that says why. */
  private decide(job: JobRow, event: JobEvent): JobStatus {
    return refusedAs409(job, () => nextJobStatus(job.status, event, job.id));
  }

  /** A rerun or a follow-up reads what a job did: a 409 until it has finished. */
  mustBeFinished(job: JobRow, action: string): void {
    refusedAs409(job, () => mustBeFinished(job.status, action));
  }

  // ---- jobs ---------------------------------------------------------------------------------

  /** Stores a queued job and wakes one idle runner that can take it. */
  submit(input: Omit<NewJob, 'id' | 'branch_name' | 'max_attempts'> & { max_attempts?: number }): JobRow {
    for (;;) {
      const id = crypto.randomUUID();
      const job: NewJob = { ...input, id, branch_name: `lazyaf/${id.slice(0, 8)}`, max_attempts: input.max_attempts ?? this.opts.maxAttempts };
      let row: JobRow;
      try {
        row = this.jobs.insert(job, this.iso());
      } catch (err) {
        // Two jobs of one repo drew the same 8-character prefix: draw again.
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') continue;
        throw err;
      }
      this.wakeups.jobAvailable(needsOf(row));
      this.emit({ type: 'job.created', job_id: id, repo_id: row.repo_id, status: row.status });
      return row;
    }
  }

  /**
   * Cancels a job. A queued one at once. A running one keeps its attempt (and job token) for the
   * cancel grace: its runner hears of it on its held heartbeat, stops the command, pushes what it
   * left to the job branch and completes as `cancelled`; a runner that does not, the sweeper ends.
   */
  cancel(jobId: string): JobRow {
    const job = this.mustGetJob(jobId);
    this.decide(job, { type: 'cancel' });
    const now = this.iso();
    this.transactions.run(() => {
      if (this.jobs.cancelQueued(job.id, now)) return this.changed(job, 'cancelled');
      if (!this.jobs.requestCancel(job.id, now)) return;
      const attempt = this.attempts.get(this.jobs.get(job.id)?.current_attempt_id ?? '');
      if (!attempt?.active) return;
      this.attempts.bringDeadline(attempt.id, this.now() + this.opts.cancelGraceMs);
      this.appendSystemLine(this.jobs.get(job.id)!, 'cancel requested: stopping the command; what it left will be pushed');
      this.changed(job, 'running');
      this.transactions.afterCommit(() => this.wakeups.runnerNews(attempt.runner_id));
    });
    return this.jobs.get(job.id)!;
  }

  retry(jobId: string): JobRow {
    const job = this.mustGetJob(jobId);
    this.decide(job, { type: 'retry' });
    // Read, decided and written in one synchronous stretch on the one connection: only a job deleted meanwhile is missed.
    if (!this.jobs.retry(job.id, this.opts.maxAttempts, this.iso())) throw new ApiError(404, `job not found: ${jobId}`);
    this.wakeups.jobAvailable(needsOf(job));
    this.changed(job, 'queued');
    return this.jobs.get(job.id)!;
  }

  private mustGetJob(jobId: string): JobRow {
    const job = this.jobs.find(jobId);
    if (!job) throw new ApiError(404, `job not found: ${jobId}`);
    return job;
  }

  private changed(job: Pick<JobRow, 'id' | 'repo_id'>, status: JobStatus): void {
    this.transactions.afterCommit(() => this.wakeups.jobChanged(job.id));
    this.emit({ type: 'job.updated', job_id: job.id, repo_id: job.repo_id, status });
  }

  private runnerChanged(runnerId: string, status: RunnerStatus, jobId?: string): void {
    this.emit({ type: 'runner.updated', runner_id: runnerId, status, ...(jobId ? { job_id: jobId } : {}) });
  }

  // ---- runners ------------------------------------------------------------------------------

  register(req: RegisterRequest): { runner: RunnerRow; token: string } {
    // A pool slot has one runner at a time (its work dir is locked): an earlier row under the same
    // pool id is a runner that is gone (a killed server's, a crashed one), not one to keep listing.
    // A job it still held goes back to the queue now instead of when its lease runs out.
    for (let old = req.pool_id ? this.runners.byPoolId(req.pool_id) : undefined; old; old = this.runners.byPoolId(old.pool_id!)) {
      this.deregister(old, 'lost');
    }
    const token = newToken('lzrun');
    const now = this.now();
    const runner = {
      id: crypto.randomUUID(),
      name: req.name,
      labels: JSON.stringify([...new Set(req.labels ?? [])].sort()),
      token_hash: hashToken(token),
      pool_id: req.pool_id ?? null,
      hostname: req.hostname ?? null,
      version: req.version ?? null,
      sandbox: req.sandbox ?? null,
      agents: JSON.stringify([...new Set(req.agents ?? [])].sort()),
      registered_at: new Date(now).toISOString(),
      last_seen_ms: now,
    };
    this.runners.insert(runner);
    this.emit({ type: 'runner.registered', runner_id: runner.id, name: runner.name });
    return { runner: this.runners.get(runner.id)!, token };
  }

  runnerByToken(token: string): RunnerRow | undefined {
    return this.runners.byTokenHash(hashToken(token));
  }

  /** A runner leaves: its token stops working; a job it still holds goes back to the queue. */
  deregister(runner: RunnerRow, reason: AttemptEndReason = 'returned'): AttemptFailure[] {
    // The token dies even if a job cannot be given back now: the sweeper retries that one once its lease runs out.
    const failed = this.endEach(this.attempts.activeForRunner(runner.id), () => ({ outcome: reason, error: 'the runner left' }));
    this.runners.revoke(runner.id);
    this.emit({ type: 'runner.removed', runner_id: runner.id });
    return failed;
  }

  /**
   * Renews the leases of the attempts the runner names and reports which of them it must stop:
   * cancelled jobs, and attempts whose lease is already gone.
   */
  heartbeat(runner: RunnerRow, req: HeartbeatRequest): HeartbeatResponse {
    const now = this.now();
    const until = now + this.opts.leaseTtlMs;
    // `seen` also records a runner's move to draining, and keeps it there until it leaves.
    this.runners.seen(runner.id, req.status === 'draining' ? 'draining' : req.attempts.length > 0 ? 'busy' : 'idle', now);
    const status = this.runners.get(runner.id)?.status;
    if (status && status !== runner.status) this.runnerChanged(runner.id, status);
    this.attempts.renew(runner.id, req.attempts, now, until);
    return { ...this.runnerNews(runner.id, req.attempts), lease_expires_in_ms: this.opts.leaseTtlMs };
  }

  runnerNews(runnerId: string, attemptIds: readonly string[]): { cancel: string[]; lost: string[] } {
    const cancel: string[] = [];
    const lost: string[] = [];
    for (const id of attemptIds) {
      const attempt = this.attempts.get(id);
      if (!attempt || attempt.runner_id !== runnerId) lost.push(id);
      // A cancel ends the attempt on the server; the runner still hears it as a cancel.
      else if (!attempt.active) (attempt.end_reason === 'cancelled' ? cancel : lost).push(id);
      else if (this.jobs.get(attempt.job_id)?.cancel_requested) cancel.push(id);
    }
    return { cancel, lost };
  }

  /**
   * Atomically hands the oldest matching queued job to this runner: one conditional update in
   * one transaction, so no job is ever held by two runners.
   */
  claim(runner: RunnerRow): Claimed | undefined {
    if (runner.status === 'draining') return undefined;
    return this.transactions.run((): Claimed | undefined => {
      const job = this.jobs.nextFor(runner.labels, runner.agents);
      if (!job) return undefined;
      const jobToken = newToken(JOB_TOKEN_PREFIX);
      const attemptId = crypto.randomUUID();
      const now = this.now();
      this.decide(job, { type: 'claim' });
      const running = this.jobs.claim(job.id, attemptId, runner.id, new Date(now).toISOString());
      if (!running) return undefined;
      const attempt = this.attempts.insert({
        id: attemptId,
        job_id: job.id,
        number: job.attempt_count + 1,
        runner_id: runner.id,
        token_hash: hashToken(jobToken),
        lease_expires_ms: now + this.opts.leaseTtlMs,
        deadline_ms: now + job.timeout_s * 1000 + this.opts.timeoutGraceMs,
        started_at: new Date(now).toISOString(),
      });
      this.runners.seen(runner.id, 'busy', now);
      this.appendSystemLine(running, `attempt ${attempt.number} on runner ${runner.name}`);
      this.changed(running, 'running');
      this.emit({ type: 'attempt.started', attempt_id: attempt.id, job_id: job.id, runner_id: runner.id, number: attempt.number });
      this.runnerChanged(runner.id, 'busy', job.id);
      return { job: running, attempt, jobToken };
    }, 'immediate');
  }

  /** Waits up to `waitMs` for a job this runner can take. */
  async poll(runner: RunnerRow, waitMs: number, signal?: AbortSignal): Promise<Claimed | undefined> {
    const deadline = this.now() + waitMs;
    // A poll shows the runner is alive; writing that down once a second is plenty.
    if (this.now() - runner.last_seen_ms > 1000 || runner.status === 'offline') this.runners.seen(runner.id, 'idle', this.now());
    if (runner.status === 'offline') this.runnerChanged(runner.id, this.runners.get(runner.id)?.status ?? 'idle');
    // The caller has just read the runner; after each wait it is read again (revoked, draining?).
    let current: RunnerRow | undefined = runner;
    for (;;) {
      if (!current || current.revoked) return undefined;
      const claimed = this.claim(current);
      if (claimed) return claimed;
      const left = deadline - this.now();
      if (left <= 0 || signal?.aborted || this.wakeups.closed || current.status === 'draining') return undefined;
      await this.wakeups.waitForJob(offerOf(current), left, signal);
      current = this.runners.get(runner.id);
    }
  }

  // ---- attempts (job token) -----------------------------------------------------------------

  /** The attempt a job token belongs to, while its lease is live. */
  liveAttemptByToken(token: string): AttemptRow | undefined {
    const attempt = this.attempts.byTokenHash(hashToken(token));
    return attempt && this.isLive(attempt) ? attempt : undefined;
  }

  /** Whether the attempt still holds its lease: active and not expired (the sweeper may lag). */
  isLive(attempt: AttemptRow): boolean {
    return attempt.active === 1 && attempt.lease_expires_ms > this.now();
  }

  attemptByToken(token: string): AttemptRow | undefined {
    return this.attempts.byTokenHash(hashToken(token));
  }

  /** Appends a chunk once (a resent `seq` is ignored), up to the job's cap, then a marker; with `redactor`, a value cut between it and the stored log is hidden. */
  appendLog(attempt: AttemptRow, seq: number, text: string, redactor?: Redactor): LogAck {
    return this.transactions.run((): LogAck => {
      const job = this.jobs.get(attempt.job_id)!;
      if (!this.attempts.acceptLogSeq(attempt.id, seq)) return { accepted: false, truncated: job.log_truncated === 1 };
      const data = Buffer.from(redactor && !job.log_truncated ? hideValueAcrossChunks(this.logs, job, text, redactor) : text, 'utf8');
      if (job.log_truncated) {
        this.jobs.addLog(job.id, 0, data.length, true);
        return { accepted: true, truncated: true };
      }
      const room = this.opts.logCapBytes - job.log_bytes;
      if (data.length <= room) {
        this.logWritten(job, data, 0, false);
        return { accepted: true, truncated: false };
      }
      const kept = Buffer.concat([data.subarray(0, Math.max(0, room)), Buffer.from(TRUNCATION_MARKER(this.opts.logCapBytes))]);
      this.logWritten(job, kept, data.length - Math.max(0, room), true);
      return { accepted: true, truncated: true };
    });
  }

  /** A line of lazyaf's own in the job log (attempt starts and ends). Not counted against `seq`. Runs inside the caller's transaction. */
  private appendSystemLine(job: Pick<JobRow, 'id' | 'log_bytes' | 'log_truncated'>, line: string): void {
    if (job.log_truncated) return;
    this.logWritten(job, Buffer.from(`${job.log_bytes > 0 ? '\n' : ''}[lazyaf] ${line}\n`), 0, false);
  }

  /** Appends `data` at the end of the job's log. Runs inside the caller's transaction. */
  private logWritten(job: Pick<JobRow, 'id' | 'log_bytes'>, data: Buffer, dropped: number, truncated: boolean): void {
    this.logs.append(job.id, job.log_bytes, data);
    this.jobs.addLog(job.id, data.length, dropped, truncated);
    this.transactions.afterCommit(() => this.wakeups.jobChanged(job.id));
    this.emit({ type: 'log.appended', job_id: job.id, log_bytes: job.log_bytes + data.length });
  }

  /**
   * Ends an attempt with the runner's report. Idempotent: the same report sent again after a lost
   * answer gets the same result; any other report on an ended attempt is refused.
   */
  complete(attempt: AttemptRow, req: CompleteRequest): JobStatus {
    return this.transactions.run((): JobStatus => {
      const current = this.attempts.get(attempt.id)!;
      if (!current.active) {
        if (current.end_reason === req.outcome) return this.jobs.get(current.job_id)!.status;
        throw new ApiError(409, `attempt ${attempt.id} already ended (${current.end_reason}); its lease is gone`);
      }
      if (current.lease_expires_ms <= this.now()) throw new ApiError(409, `the lease of attempt ${attempt.id} expired`);
      return this.endAttempt(current, req);
    });
  }

  /** Must run inside a transaction. Returns the job's new status. */
  private endAttempt(attempt: AttemptRow, req: CompleteRequest | EndRequest): JobStatus {
    const job = this.jobs.get(attempt.job_id)!;
    const now = this.iso();
    const reason = req.outcome;
    this.attempts.end(attempt.id, {
      exit_code: req.exit_code ?? null,
      end_reason: reason,
      error: req.error ?? null,
      now,
      // An agent's report: what it used and the conversation a follow-up resumes.
      usage: 'usage' in req && req.usage ? JSON.stringify(req.usage) : null,
      session_id: 'session_id' in req ? (req.session_id ?? null) : null,
    });
    const lostAttempts = this.attempts.lostCount(job.id);
    const status = this.decide(job, {
      type: 'attempt-ended',
      reason,
      lostAttempts,
      maxAttempts: job.max_attempts,
      cancelRequested: job.cancel_requested === 1,
    });
    // Work is kept whatever the outcome: a failed, timed-out or cancelled job's branch holds what it left.
    const commit = status === 'queued' ? null : (req.commit ?? null);
    const error =
      status === 'failed' && reason === 'lost'
        ? `lost its runner ${lostAttempts} times (the cap is ${job.max_attempts})`
        : status === 'queued'
          ? null
          : (req.error ?? (reason === 'timeout' ? `timed out after ${job.timeout_s}s` : null));
    this.jobs.endAttempt({
      id: job.id,
      attempt_id: attempt.id,
      status,
      branch: commit ? job.branch_name : null,
      commit_sha: commit,
      base_commit: 'base_commit' in req ? (req.base_commit ?? null) : null,
      exit_code: status === 'queued' ? null : (req.exit_code ?? null),
      error,
      end_reason: reason,
      now,
    });
    const runner = this.runners.get(attempt.runner_id);
    if (runner && runner.status === 'busy') {
      this.runners.setStatus(runner.id, 'idle');
      this.runnerChanged(runner.id, 'idle');
    }
    this.appendSystemLine(
      job,
      `attempt ${attempt.number} ended: ${reason}${req.exit_code != null ? ` (exit code ${req.exit_code})` : ''}${status === 'queued' ? '; back in the queue' : ''}`,
    );
    this.emit({ type: 'attempt.ended', attempt_id: attempt.id, job_id: job.id, runner_id: attempt.runner_id, reason });
    this.changed(job, status);
    if (status === 'queued') this.transactions.afterCommit(() => this.wakeups.jobAvailable(needsOf(job)));
    return status;
  }

  // ---- time ---------------------------------------------------------------------------------

  /**
   * Expires lapsed leases (the job is requeued, or failed past its cap) and marks silent runners
   * offline. Each lease ends in its own transaction: one that fails stays active, is reported in
   * `failed` and is tried again on the next sweep, while the others expire.
   */
  sweep(): { expired: number; timedOut: number; failed: AttemptFailure[]; offline: string[]; stranded: number } {
    const now = this.now();
    const graceS = Math.round(this.opts.timeoutGraceMs / 1000);
    const expired = this.endPaged(
      (after) => this.attempts.expired(now, after),
      () => ({ outcome: 'lost', error: 'lease expired: the runner stopped renewing it' }),
    );
    // A runner can be alive but stuck: it renews the lease and never reports (nor stops when cancelled).
    const timedOut = this.endPaged(
      (after) => this.attempts.overdue(now, after),
      (attempt) => {
        const job = this.jobs.get(attempt.job_id);
        if (job?.cancel_requested)
          return {
            outcome: 'cancelled',
            error: `the runner did not report within ${this.opts.cancelGraceMs / 1000} s of the cancel, so the server ended the attempt`,
          };
        return {
          outcome: 'timeout',
          error: `timed out after ${job?.timeout_s} s: the runner had not reported ${graceS} s later, so the server ended the attempt`,
        };
      },
    );
    const offline = this.runners.markOffline(now - this.opts.leaseTtlMs);
    for (const id of offline) this.runnerChanged(id, 'offline');
    // Runners come and go (a pool restarts, a machine leaves): the table would only grow.
    for (const id of this.runners.prune(now - this.opts.runnerPruneAfterMs)) this.emit({ type: 'runner.removed', runner_id: id });
    const stranded = this.failStranded(now);
    return { expired: expired.ended, timedOut: timedOut.ended, failed: [...expired.failed, ...timedOut.failed], offline, stranded };
  }

  /**
   * Fails the queued jobs that no registered runner could take for longer than the no-runner
   * timeout, with that reason, rather than leaving them to wait for ever. Off when it is 0.
   */
  private failStranded(now: number): number {
    const timeoutMs = this.opts.noRunnerTimeoutMs ?? 0;
    if (timeoutMs <= 0) return 0;
    let failed = 0;
    this.transactions.run(() => {
      for (const { job, why } of strandedJobs(this.jobs, this.runners, now, timeoutMs)) {
        this.decide(job, { type: 'no-runner' });
        if (!this.jobs.failNoRunner(job.id, `no runner can take this job: ${why}`, this.iso())) continue;
        this.appendSystemLine(job, `failed: no runner can take this job: ${why}`);
        this.changed(job, 'failed');
        failed++;
      }
    }, 'immediate');
    return failed;
  }

  /** Ends every attempt `page` yields, page by page: a cursor, so attempts that keep failing at the head cannot hide the ones behind them. */
  private endPaged(page: (after?: AttemptRow) => AttemptRow[], req: (attempt: AttemptRow) => EndRequest): { ended: number; failed: AttemptFailure[] } {
    let ended = 0;
    const failed: AttemptFailure[] = [];
    for (let rows = page(); rows.length > 0; rows = page(rows.at(-1))) {
      const rowsFailed = this.endEach(rows, req);
      ended += rows.length - rowsFailed.length;
      failed.push(...rowsFailed);
    }
    return { ended, failed };
  }

  /** Ends each attempt in its own transaction, so that one which fails (and stays active) cannot stop the others. */
  private endEach(attempts: AttemptRow[], req: (attempt: AttemptRow) => EndRequest): AttemptFailure[] {
    const failed: AttemptFailure[] = [];
    for (const attempt of attempts) {
      try {
        this.transactions.run(() => this.endAttempt(attempt, req(attempt)));
      } catch (err) {
        failed.push({ attempt_id: attempt.id, error: (err as Error).message });
      }
    }
    return failed;
  }

  status(): RunnersStatus {
    const r = this.runners.counts();
    const j = this.jobs.counts();
    return {
      total_runners: r.idle + r.busy + r.draining + r.offline,
      idle_runners: r.idle,
      busy_runners: r.busy,
      draining_runners: r.draining,
      offline_runners: r.offline,
      queued_jobs: j.queued,
      running_jobs: j.running,
    };
  }
}
