import { isFinished, type JobStatus } from '../../shared/api.js';
import type { AttemptEndReason } from '../../shared/protocol.js';

export type { JobStatus };

/**
 * The job state machine: the states, the allowed transitions, and a pure function that computes
 * where a job goes when something happens to it. The queue asks it before every change and the
 * store persists the result; nothing else decides a job's status. The store's conditional
 * statements (`WHERE status ...`) are checked against this table by test/job-states.test.ts,
 * rather than generated from it, so that `store/` keeps depending on nothing in `queue/`.
 */

export const TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  queued: ['running', 'cancelled', 'failed'],
  running: ['succeeded', 'failed', 'cancelled', 'queued'],
  // A succeeded job's branch may have been landed: it is never run again on it (rerun makes a new job).
  succeeded: [],
  failed: ['queued'],
  cancelled: ['queued'],
};

export type JobEvent =
  | { type: 'claim' }
  /** An attempt ended: reported by its runner, or `lost` when its lease expired. */
  | { type: 'attempt-ended'; reason: AttemptEndReason; lostAttempts: number; maxAttempts: number; cancelRequested: boolean }
  /** A queued job is cancelled at once; a running one through the end of its attempt. */
  | { type: 'cancel' }
  /** A failed or cancelled job runs again on its own branch (a lost job ends failed). */
  | { type: 'retry' }
  /** A queued job no registered runner could take for longer than LAZYAF_NO_RUNNER_TIMEOUT. */
  | { type: 'no-runner' };

/** The statuses each event may happen in, and what the refusal says otherwise (after "job <id> "). */
const SOURCES: Readonly<Record<JobEvent['type'], { from: readonly JobStatus[]; refusal: (current: JobStatus, jobId: string) => string }>> = {
  claim: { from: ['queued'], refusal: (s) => `is ${s}; only a queued job can be claimed` },
  'attempt-ended': { from: ['running'], refusal: (s) => `is ${s}; only a running job has an attempt to end` },
  cancel: { from: ['queued', 'running'], refusal: (s) => `already ${s}` },
  retry: {
    from: ['failed', 'cancelled'],
    refusal: (s, id) =>
      s === 'succeeded'
        ? `succeeded and its branch may already be landed, so retry will not rewrite it: \`lazyaf jobs rerun ${id}\` runs it again as a new job with its own branch`
        : `is ${s}; only a failed or cancelled job can be retried`,
  },
  'no-runner': { from: ['queued'], refusal: (s) => `is ${s}; only a queued job waits for a runner` },
};

/** A refused event: the job is in a status where it cannot happen (an HTTP 409). */
export class TransitionError extends Error {}

/**
 * The status a job moves to; throws TransitionError when the event is not allowed in `current`
 * (`jobId` only goes into the refusal's hint).
 */
export function nextJobStatus(current: JobStatus, event: JobEvent, jobId = '<job>'): JobStatus {
  const source = SOURCES[event.type];
  if (!source.from.includes(current)) throw new TransitionError(source.refusal(current, jobId));
  const next = compute(event);
  // Unreachable while SOURCES and compute agree with the table; the unit test holds them to it.
  if (!TRANSITIONS[current].includes(next)) throw new TransitionError(`cannot go from ${current} to ${next}`);
  return next;
}

function compute(event: JobEvent): JobStatus {
  switch (event.type) {
    case 'claim':
      return 'running';
    case 'cancel':
      return 'cancelled';
    case 'retry':
      return 'queued';
    case 'no-runner':
      return 'failed';
    case 'attempt-ended':
      if (event.cancelRequested) return 'cancelled';
      switch (event.reason) {
        case 'succeeded':
          return 'succeeded';
        case 'failed':
        case 'timeout':
          return 'failed';
        case 'cancelled':
          return 'cancelled';
        case 'returned':
          return 'queued';
        case 'lost':
          return event.lostAttempts >= event.maxAttempts ? 'failed' : 'queued';
      }
  }
}

/**
 * A new job made from this one (a rerun, a follow-up) reads what it did: refused (TransitionError)
 * until it has finished. The job itself does not change, so this is no transition.
 */
export function mustBeFinished(current: JobStatus, action: string): void {
  if (!isFinished(current)) throw new TransitionError(`is ${current}; wait for it to finish (or cancel it) before you ${action} it`);
}
