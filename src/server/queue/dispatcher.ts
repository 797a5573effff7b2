import {
  PROTOCOL_VERSION,
  type Assignment,
  type CompleteRequest,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type RegisterRequest,
  type RegisterResponse,
} from '../../shared/protocol.js';
import { bareRepoPath, resolveBranch } from '../git/bare.js';
import type { AttemptRow } from '../store/attempts.js';
import type { RunnerRow } from '../store/runners.js';
import type { Agents } from './agents.js';
import { assignmentFor, type EnvironmentSources } from './assignment.js';
import { continuationFor } from './resume.js';
import type { SessionFiles } from '../session-files.js';
import type { JobRow } from '../store/jobs.js';
import type { QueueStores } from './core.js';
import { offerOf } from './matching.js';
import type { Claimed, Queue } from './queue.js';
import type { JobStatus } from './state.js';
import { ApiError } from '../errors.js';

export interface DispatcherOptions {
  reposDir: string;
  agents: () => Agents;
  /** The stored secrets for a job of this repo (see AssignmentSources). */
  secrets: (repoId: string) => Readonly<Record<string, string>>;
  /** The model of each built-in agent for a job that names none (LAZYAF_AGENT_MODELS). */
  agentModels?: Readonly<Record<string, string>>;
  /** Agents' session files, for follow-ups that resume them. */
  sessionFiles?: SessionFiles;
  /** Where a repo's environment comes from besides its `.lazyaf.yml` (see AssignmentSources). */
  environment?: EnvironmentSources;
  /** The longest a poll is held open waiting for a job. */
  longPollMs: number;
  /** The commit a job must start from, if any (see AssignmentSources). */
  pinnedBase?: (jobId: string) => string | undefined;
}

/**
 * The runner protocol above the queue's transactions: the waits that hold a poll or a heartbeat
 * open until there is news (both here), the assignment a claimed job becomes, and the check that a
 * reported commit really is on the internal server. The routes only translate HTTP to these calls.
 */
export class Dispatcher {
  constructor(
    private readonly queue: Queue,
    private readonly store: QueueStores,
    private readonly opts: DispatcherOptions,
  ) {}

  register(req: RegisterRequest): RegisterResponse {
    if (req.protocol_version !== PROTOCOL_VERSION) {
      throw new ApiError(400, `runner speaks protocol ${req.protocol_version}, the server speaks ${PROTOCOL_VERSION}: upgrade the runner`);
    }
    const { runner, token } = this.queue.register(req);
    const ttl = this.queue.leaseTtlMs;
    return {
      runner_id: runner.id,
      token,
      lease_ttl_ms: ttl,
      heartbeat_interval_ms: Math.max(200, Math.floor(ttl / 3)),
      poll_wait_ms: this.opts.longPollMs,
      protocol_version: PROTOCOL_VERSION,
    };
  }

  /**
   * Renews the runner's leases; with `wait_ms`, and nothing to report yet, holds the answer until
   * one of its attempts is cancelled or lost (or the wait ends), so a cancel reaches it at once.
   * Undefined when the runner is revoked. `hangUp` gives the signal that the runner hung up.
   */
  async heartbeat(runner: RunnerRow, req: HeartbeatRequest, hangUp: () => AbortSignal): Promise<HeartbeatResponse | undefined> {
    const answer = this.queue.heartbeat(runner, req);
    if (!answer) return undefined;
    // A third of the TTL: the lease must be renewed again before it lapses.
    const wait = Math.min(req.wait_ms ?? 0, Math.floor(this.queue.leaseTtlMs / 3));
    if (wait <= 0 || answer.cancel.length > 0 || answer.lost.length > 0 || req.attempts.length === 0) return answer;
    // The hang-up signal only for a heartbeat that waits: an idle runner's (most of them) answers at once.
    await this.queue.wakeups.waitForRunnerNews(runner.id, wait, hangUp());
    return { ...this.queue.attemptsToStop(runner.id, req.attempts), lease_expires_in_ms: answer.lease_expires_in_ms };
  }

  /** Waits for a job this runner can take (at most `longPollMs`); undefined when none came. */
  async poll(runner: RunnerRow, waitMs: number | undefined, signal: AbortSignal, cloneUrl: (repoId: string) => string): Promise<Assignment | undefined> {
    if (runner.status === 'draining') throw new ApiError(409, 'this runner is draining: it takes no new jobs');
    const wait = Math.min(waitMs ?? this.opts.longPollMs, this.opts.longPollMs);
    const claimed = await this.waitForClaim(runner, wait, signal);
    if (!claimed) return undefined;
    if (signal.aborted) {
      // The runner hung up while we claimed: give the job straight back rather than wait for the lease.
      this.queue.complete(claimed.attempt, { outcome: 'returned', error: 'the runner disconnected before it received the job' });
      return undefined;
    }
    try {
      const continuation = (job: JobRow, attemptId: string) => continuationFor(job, attemptId, this.store, this.opts.sessionFiles);
      const assignment = await assignmentFor(claimed, {
        reposDir: this.opts.reposDir,
        agents: this.opts.agents,
        secrets: this.opts.secrets,
        agentModels: this.opts.agentModels,
        cloneUrl,
        continuation,
        environment: this.opts.environment,
        pinnedBase: this.opts.pinnedBase,
      });
      // Its completion is judged by what the runner was told, whatever the repo says by then.
      if (assignment.environment) this.store.attempts.setRequireChecks(claimed.attempt.id, assignment.environment.require_checks);
      return assignment;
    } catch (err) {
      // (git could not start: out of processes or files.) The job goes back at once, not at its lease's end.
      this.queue.complete(claimed.attempt, { outcome: 'returned', error: 'the server could not prepare the job for its runner' });
      throw err;
    }
  }

  /** Claims a job for this runner, waiting up to `waitMs` for one it can take to come. */
  private async waitForClaim(runner: RunnerRow, waitMs: number, signal: AbortSignal): Promise<Claimed | undefined> {
    const deadline = Date.now() + waitMs;
    this.queue.markPolled(runner);
    const wakeups = this.queue.wakeups;
    // The caller has just read the runner; after each wait it is read again (revoked, draining?).
    let current: RunnerRow | undefined = runner;
    for (;;) {
      if (!current || current.revoked) return undefined;
      const claimed = this.queue.claim(current);
      if (claimed) return claimed;
      const left = deadline - Date.now();
      if (left <= 0 || signal.aborted || wakeups.closed || current.status === 'draining') return undefined;
      await wakeups.waitForJob(runner.id, offerOf(current), left, signal);
      current = this.store.runners.get(runner.id);
    }
  }

  /** Ends an attempt with its runner's report; a commit it names must be on its job's branch in the internal repo. */
  async complete(attempt: AttemptRow, req: CompleteRequest): Promise<JobStatus> {
    if (req.commit && attempt.active) {
      const job = this.store.jobs.get(attempt.job_id)!;
      // The result must really be on the internal server: the branch the token could push.
      const at = await resolveBranch(bareRepoPath(this.opts.reposDir, job.repo_id), job.branch_name);
      if (at !== req.commit) throw new ApiError(422, `commit ${req.commit} is not on ${job.branch_name} in the internal repo; push it before completing`);
    }
    return this.queue.complete(attempt, req);
  }
}
