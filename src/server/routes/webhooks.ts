import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { DeliveryList, DeliveryListQuery, ErrorBody, IdParams, NewWebhook, Webhook, WebhookList, type WebhookDelivery } from '../../shared/api.js';
import { ApiError } from '../errors.js';
import type { DeliveryRow } from '../store/webhook-deliveries.js';
import type { WebhookRow } from '../store/webhooks.js';
import type { Webhooks } from '../webhooks/index.js';
import { checkWebhookUrl, shownUrl } from '../webhooks/url.js';

export interface WebhookRoutesOptions {
  webhooks: Webhooks;
}

const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody };

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** A webhook as shown: never its secret, and its URL's credentials hidden. */
function webhookToApi(row: WebhookRow): Webhook {
  return {
    id: row.id,
    url: shownUrl(row.url),
    events: JSON.parse(row.events) as Webhook['events'],
    format: row.format,
    created_at: new Date(row.created_ms).toISOString(),
  };
}

function deliveryToApi(row: DeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    webhook_id: row.webhook_id,
    event: row.event,
    status: row.status,
    attempts: row.attempts,
    last_status_code: row.last_status_code,
    last_error: row.last_error,
    created_at: new Date(row.created_ms).toISOString(),
    next_attempt_at: row.status === 'pending' ? iso(row.next_attempt_ms) : null,
    delivered_at: iso(row.delivered_ms),
  };
}

/** `lazyaf webhooks`: where events are POSTed, signed with a secret that goes in and is never shown again, and the log of deliveries. */
export async function webhookRoutes(fastify: FastifyInstance, opts: WebhookRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { hooks, deliveries } = opts.webhooks;

  app.post(
    '/api/webhooks',
    {
      bodyLimit: 64 * 1024,
      // Before the validator, which coerces: a number would be stored as a secret, [x] as a URL.
      preValidation: async (req) => {
        const body = req.body as { url?: unknown; secret?: unknown } | null;
        for (const field of ['url', 'secret'] as const)
          if (body?.[field] !== undefined && typeof body[field] !== 'string') throw new ApiError(400, `invalid ${field}: it must be a JSON string`);
      },
      schema: {
        summary: 'Add a webhook',
        tags: ['webhooks'],
        description:
          'Events (`job.finished`, `task.finished`, `job.landed`, `task.picked`) are POSTed to `url` as JSON (or Slack\'s `{"text"}` with `format: slack`), signed in `X-Lazyaf-Signature: sha256=<hex HMAC-SHA256 of the body under secret>`. The secret is never shown again; credentials in the URL are hidden when it is shown.',
        body: NewWebhook,
        response: { 201: Webhook, ...errors },
      },
    },
    async (req, reply) => {
      const url = checkWebhookUrl(req.body.url);
      const row: WebhookRow = {
        id: randomUUID(),
        url,
        events: JSON.stringify(req.body.events),
        secret: req.body.secret,
        format: req.body.format ?? 'json',
        created_ms: Date.now(),
      };
      hooks.insert(row);
      return reply.code(201).send(webhookToApi(row));
    },
  );

  app.get('/api/webhooks', { schema: { summary: 'List webhooks', tags: ['webhooks'], response: { 200: WebhookList, ...errors } } }, async () => {
    const rows = hooks.list();
    return { webhooks: rows.map(webhookToApi), total: rows.length };
  });

  app.delete(
    '/api/webhooks/:id',
    {
      schema: {
        summary: 'Delete a webhook',
        tags: ['webhooks'],
        description: 'Its deliveries, sent or pending, go with it.',
        params: IdParams,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      if (!hooks.remove(req.params.id)) throw new ApiError(404, `webhook not found: ${req.params.id}`);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/webhooks/deliveries',
    {
      schema: {
        summary: 'List webhook deliveries, newest first',
        tags: ['webhooks'],
        description: 'Each delivery with its status, attempts, the receiver’s last answer and when it is tried next; `?webhook_id=` for one webhook’s.',
        querystring: DeliveryListQuery,
        response: { 200: DeliveryList, ...errors },
      },
    },
    async (req) => {
      const webhookId = req.query.webhook_id;
      if (webhookId !== undefined && !hooks.get(webhookId)) throw new ApiError(404, `webhook not found: ${webhookId}`);
      const { rows, total } = deliveries.list(webhookId, req.query.limit ?? 50);
      return { deliveries: rows.map(deliveryToApi), total };
    },
  );
}
