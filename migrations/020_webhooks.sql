-- Webhooks: where to POST the events a person asked for, and the secret that signs each delivery.
CREATE TABLE webhooks (
  id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  -- A JSON array of event names.
  events TEXT NOT NULL,
  secret TEXT NOT NULL,
  format TEXT NOT NULL DEFAULT 'json',
  created_ms INTEGER NOT NULL
);
-- The outbox: one row per event and webhook, written in the transaction of the change it tells of,
-- with the exact body to send. Pending until the receiver answers 2xx, or failed after the last try.
CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY,
  webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
  event TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER,
  last_status_code INTEGER,
  last_error TEXT,
  created_ms INTEGER NOT NULL,
  delivered_ms INTEGER
);
-- A webhook's pending deliveries in the order they are sent (the oldest is its next).
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(webhook_id, created_ms) WHERE status = 'pending';
-- The delivery log, newest first, per webhook.
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries(webhook_id, created_ms);
CREATE INDEX webhook_deliveries_by_creation ON webhook_deliveries(created_ms);
