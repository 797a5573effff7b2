import type { WebhookEventName } from '../shared/api.js';

/**
 * Tells the people who asked (webhooks) that something happened: called inside the SQLite
 * transaction that made the change, so what is told is written with it (an outbox) and neither
 * lost nor doubled by a crash. `subject` names the job or task it is about.
 */
export type Notify = (event: WebhookEventName, subject: { job_id?: string; task_id?: string }) => void;
