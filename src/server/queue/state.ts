import { FINISHED_JOB_STATUSES, type JobStatus } from '../../shared/api.js';
import type { AttemptEndReason } from '../../shared/protocol.js';

/**
 * The job state machine: the states, the allowed transitions, and a pure function that computes
 * where a job goes when something happens to it. The store persists the result; nothing else
 * decides a job's status.
 */

export const TERMINAL: ReadonlySet<JobStatus> = new Set(FINISHED_JOB_STATUSES);

export const TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  queued: ['running', 'cancelled'],
  running: ['succeeded', 'failed', 'cancelled', 'queued'],
  succeeded: ['queued'],
  failed: ['queued'],
  cancelled: ['queued'],
};

export type JobEvent =
  | { type: 'claim' }
  /** An attempt ended: reported by its runner, or `lost` when its lease expired. */
  | { type: 'attempt-ended'; reason: AttemptEndReason; lostAttempts: number; maxAttempts: number; cancelRequested: boolean }
  | { type: 'cancel' }
  | { type: 'retry' };

export class TransitionError extends Error {}

/** The status a job moves to; throws TransitionError when the event is not allowed in `current`. */
export function nextJobStatus(current: JobStatus, event: JobEvent): JobStatus {
  const next = compute(current, event);
  if (!TRANSITIONS[current].includes(next)) throw new TransitionError(`a ${current} job cannot ${event.type}`);
  return next;
}

function compute(current: JobStatus, event: JobEvent): JobStatus {
  switch (event.type) {
    case 'claim':
      return 'running';
    case 'cancel':
      return 'cancelled';
    case 'retry':
      if (!TERMINAL.has(current)) throw new TransitionError(`only a finished job can be retried; this one is ${current}`);
      return 'queued';
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
