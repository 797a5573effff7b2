/** Runners joining, renewing their leases (the heartbeat), and leaving. */
import crypto from 'node:crypto';
import type { AttemptEndReason, HeartbeatRequest, HeartbeatResponse, RegisterRequest } from '../../shared/protocol.js';
import { hashToken, newToken } from '../secrets.js';
import type { RunnerRow, RunnerStore } from '../store/runners.js';
import { endEach, type AttemptFailure } from './attempt-end.js';
import type { QueueCore } from './core.js';

export function register(core: QueueCore, req: RegisterRequest): { runner: RunnerRow; token: string } {
  const { runners } = core.store;
  // A pool slot has one runner at a time (its work dir is locked): an earlier row under the same
  // pool id is a runner that is gone (a killed server's, a crashed one), not one to keep listing.
  // A job it still held goes back to the queue now instead of when its lease runs out.
  for (let old = req.pool_id ? runners.byPoolId(req.pool_id) : undefined; old; old = runners.byPoolId(old.pool_id!)) {
    deregister(core, old, 'lost');
  }
  const token = newToken('lzrun');
  const now = core.now();
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
  runners.insert(runner);
  core.emit({ type: 'runner.registered', runner_id: runner.id, name: runner.name });
  return { runner: runners.get(runner.id)!, token };
}

/** The runner a runner token belongs to, unless revoked. */
export function runnerByToken(runners: RunnerStore, token: string): RunnerRow | undefined {
  return runners.byTokenHash(hashToken(token));
}

/** A runner leaves: its token stops working; a job it still holds goes back to the queue. */
export function deregister(core: QueueCore, runner: RunnerRow, reason: AttemptEndReason = 'returned'): AttemptFailure[] {
  // The token dies even if a job cannot be given back now: the sweeper retries that one once its lease runs out.
  const failed = endEach(core, core.store.attempts.activeForRunner(runner.id), () => ({ outcome: reason, error: 'the runner left' }));
  core.store.runners.revoke(runner.id);
  core.emit({ type: 'runner.removed', runner_id: runner.id });
  return failed;
}

/**
 * Renews the leases of the attempts the runner names and reports which of them it must stop:
 * cancelled jobs, and attempts whose lease is already gone. Undefined when the runner is revoked.
 */
export function heartbeat(core: QueueCore, runner: RunnerRow, req: HeartbeatRequest): HeartbeatResponse | undefined {
  const { runners, attempts } = core.store;
  const now = core.now();
  const until = now + core.opts.leaseTtlMs;
  // `seen` also records a runner's move to draining, and keeps it there until it leaves.
  const seen = runners.seen(runner.id, req.status === 'draining' ? 'draining' : req.attempts.length > 0 ? 'busy' : 'idle', now);
  // Revoked since its token was checked: it renews nothing.
  if (!seen) return undefined;
  if (seen.changed) core.runnerChanged(runner.id, seen.status);
  // A runner that begins to drain still holds its poll open: it ends now, with no job (the runner
  // does not cut it itself, since a job claimed for it could be on its way in that answer).
  if (seen.changed && seen.status === 'draining') core.wakeups.wakePoll(runner.id);
  // An idle runner's heartbeat (most of them) names no attempt: nothing to renew or to stop.
  if (req.attempts.length === 0) return { cancel: [], lost: [], lease_expires_in_ms: core.opts.leaseTtlMs };
  attempts.renew(runner.id, req.attempts, now, until);
  return { ...attemptsToStop(core, runner.id, req.attempts), lease_expires_in_ms: core.opts.leaseTtlMs };
}

/** Which of the attempts a runner says it runs it must stop: those of cancelled jobs, and those it no longer holds. */
export function attemptsToStop(core: QueueCore, runnerId: string, attemptIds: readonly string[]): { cancel: string[]; lost: string[] } {
  const cancel: string[] = [];
  const lost: string[] = [];
  for (const id of attemptIds) {
    const attempt = core.store.attempts.get(id);
    if (!attempt || attempt.runner_id !== runnerId) lost.push(id);
    // A cancel ends the attempt on the server; the runner still hears it as a cancel.
    else if (!attempt.active) (attempt.end_reason === 'cancelled' ? cancel : lost).push(id);
    else if (core.store.jobs.get(attempt.job_id)?.cancel_requested) cancel.push(id);
  }
  return { cancel, lost };
}
