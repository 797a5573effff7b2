import { randomUUID } from 'node:crypto';
import type { Job } from '../../shared/api.js';
import type { Notify } from '../notify.js';
import type { NotifySubjects } from '../store/notify-subjects.js';
import type { DeliveryStore } from '../store/webhook-deliveries.js';
import type { WebhookStore } from '../store/webhooks.js';
import { deliveryBody } from './payload.js';

export interface OutboxParts {
  hooks: WebhookStore;
  deliveries: DeliveryStore;
  subjects: NotifySubjects;
  /** A job as `GET /api/jobs/{id}` shows it, or undefined if there is none. */
  jobView: (jobId: string) => Job | undefined;
  /** Tells the deliverer to look again. */
  wake: () => void;
  now?: () => number;
  onError?: (err: unknown) => void;
}

function tryRead<T>(read: () => T | undefined, onError: ((err: unknown) => void) | undefined): T | undefined {
  try {
    return read();
  } catch (err) {
    onError?.(err);
    return undefined;
  }
}

/**
 * `ctx.notify`: for each webhook that asked for the event, a pending delivery with the exact body
 * to send, written with the caller's transaction (the outbox): a change that rolls back tells no one,
 * and one that commits is delivered even if the server dies the next moment. The body is built now,
 * so a delivery tells of the moment of its event, whatever happened since.
 */
export function outboxNotify(parts: OutboxParts): Notify {
  const now = parts.now ?? Date.now;
  return (event, subject) => {
    const hooks = parts.hooks.subscribedTo(event);
    if (hooks.length === 0) return;
    // A view that cannot be built (a row a bug left unreadable) must not roll back the change it
    // tells of, such as a job's completion: the delivery goes without it.
    const job = subject.job_id === undefined ? undefined : tryRead(() => parts.jobView(subject.job_id!), parts.onError);
    const task = subject.task_id === undefined ? undefined : tryRead(() => parts.subjects.task(subject.task_id!), parts.onError);
    const at = now();
    const created_at = new Date(at).toISOString();
    for (const hook of hooks) {
      const id = randomUUID();
      const payload = deliveryBody(hook.format, { id, event, created_at, ...(job ? { job } : {}), ...(task ? { task } : {}) });
      parts.deliveries.insert({ id, webhook_id: hook.id, event, payload, now: at });
    }
    // better-sqlite3's transactions are synchronous: by the next turn of the loop the caller's has
    // committed (or rolled back, and the deliverer finds nothing new), whichever transaction helper it used.
    setImmediate(parts.wake);
  };
}
