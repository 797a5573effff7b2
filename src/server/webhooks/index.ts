import type { FastifyBaseLogger } from 'fastify';
import type { ServerConfig } from '../config.js';
import type { Db } from '../db/index.js';
import type { Notify } from '../notify.js';
import { NotifySubjects } from '../store/notify-subjects.js';
import { DeliveryStore } from '../store/webhook-deliveries.js';
import { WebhookStore } from '../store/webhooks.js';
import type { Job } from '../../shared/api.js';
import { Deliverer } from './deliverer.js';
import { outboxNotify } from './outbox.js';

/** Webhooks: their table, the outbox of deliveries, the writer every event goes through (`notify`) and the deliverer that sends it. */
export interface Webhooks {
  hooks: WebhookStore;
  deliveries: DeliveryStore;
  deliverer: Deliverer;
  notify: Notify;
}

export function openWebhooks(db: Db, config: ServerConfig, jobView: (jobId: string) => Job | undefined, logger?: FastifyBaseLogger): Webhooks {
  const hooks = new WebhookStore(db);
  const deliveries = new DeliveryStore(db);
  const deliverer = new Deliverer(deliveries, {
    retryMs: config.webhookRetryMs,
    attempts: config.webhookAttempts,
    timeoutMs: config.webhookTimeoutMs,
    ...(logger ? { logger } : {}),
  });
  const notify = outboxNotify({
    hooks,
    deliveries,
    subjects: new NotifySubjects(db),
    jobView,
    wake: deliverer.wake,
    onError: (err) => logger?.error({ err }, "a webhook delivery's job or task could not be read; it is sent without it"),
  });
  return { hooks, deliveries, deliverer, notify };
}
