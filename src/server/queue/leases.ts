import { hashToken } from '../secrets.js';
import type { AttemptRow, AttemptStore } from '../store/attempts.js';
import type { QueueCore } from './core.js';

/** What a runner hears when it acts on an attempt whose lease is gone. */
export const LEASE_GONE = 'the lease of this attempt is gone: the job was requeued, cancelled or finished';

/**
 * Whether an attempt still holds its lease: active and not expired. Both, because the sweeper that
 * ends expired attempts may lag: an attempt past its lease is dead even while still marked active.
 * The one rule for every caller (the job token's principal, the runner routes, `complete`).
 */
export function leaseIsLive(attempt: Pick<AttemptRow, 'active' | 'lease_expires_ms'>, now: number): boolean {
  return attempt.active === 1 && attempt.lease_expires_ms > now;
}

/** The attempt a job token belongs to, live or not. */
export function attemptByToken(attempts: AttemptStore, token: string): AttemptRow | undefined {
  return attempts.byTokenHash(hashToken(token));
}

/**
 * Start-up recovery, called once when the server starts, before it answers any runner: every live
 * lease gets a full TTL from now. While the server was down no runner could renew its leases, yet
 * runners kept working; without this the first sweep would requeue every job they still run.
 */
export function extendLeasesAtStart(core: QueueCore): number {
  return core.store.attempts.extendAll(core.now() + core.opts.leaseTtlMs);
}
