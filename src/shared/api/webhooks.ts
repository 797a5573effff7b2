import { Type, type Static } from 'typebox';
import { WEBHOOK_EVENTS } from '../webhook-events.js';
import { ListTotal, Nullable, Time } from './common.js';

/** The events a webhook can ask for. */
export { WEBHOOK_EVENTS };
export const WebhookEventName = Type.Enum(WEBHOOK_EVENTS);
export type WebhookEventName = (typeof WEBHOOK_EVENTS)[number];

/** How a delivery's body is written: lazyaf's JSON, or `{"text": ...}` as Slack's incoming webhooks take it. */
export const WebhookFormat = Type.Union([Type.Literal('json'), Type.Literal('slack')]);
export type WebhookFormat = Static<typeof WebhookFormat>;

/** The header that signs a delivery: `sha256=` and the hex HMAC-SHA256 of the raw body under the webhook's secret, as GitHub signs. */
export const SIGNATURE_HEADER = 'X-Lazyaf-Signature';
export const EVENT_HEADER = 'X-Lazyaf-Event';
export const DELIVERY_HEADER = 'X-Lazyaf-Delivery';

/** `POST /api/webhooks`. */
export const NewWebhook = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2048, description: 'http(s) URL the deliveries are POSTed to.' }),
    events: Type.Array(WebhookEventName, { minItems: 1, maxItems: WEBHOOK_EVENTS.length, uniqueItems: true }),
    secret: Type.String({ minLength: 16, maxLength: 256, description: 'Signs each delivery; never shown again.' }),
    format: Type.Optional(WebhookFormat),
  },
  { additionalProperties: false },
);
export type NewWebhook = Static<typeof NewWebhook>;

export const Webhook = Type.Object({
  id: Type.String(),
  url: Type.String({ description: 'Its credentials hidden.' }),
  events: Type.Array(WebhookEventName),
  format: WebhookFormat,
  created_at: Time(),
});
export type Webhook = Static<typeof Webhook>;

export const WebhookList = Type.Object({ webhooks: Type.Array(Webhook), total: ListTotal() });
export type WebhookList = Static<typeof WebhookList>;

export const DeliveryStatus = Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')], {
  description: 'failed: given up after its last retry.',
});

export const WebhookDelivery = Type.Object({
  id: Type.String(),
  webhook_id: Type.String(),
  event: WebhookEventName,
  status: DeliveryStatus,
  attempts: Type.Integer({ minimum: 0 }),
  last_status_code: Nullable(Type.Integer(), "The receiver's last HTTP status, or null when it could not be reached."),
  last_error: Nullable(Type.String()),
  created_at: Time(),
  next_attempt_at: Nullable(Time()),
  delivered_at: Nullable(Time()),
});
export type WebhookDelivery = Static<typeof WebhookDelivery>;

export const DeliveryList = Type.Object({ deliveries: Type.Array(WebhookDelivery, { description: 'Newest first.' }), total: ListTotal() });
export type DeliveryList = Static<typeof DeliveryList>;

export const DeliveryListQuery = Type.Object(
  {
    webhook_id: Type.Optional(Type.String({ maxLength: 64 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  },
  { additionalProperties: false },
);
