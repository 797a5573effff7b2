import type { Db } from '../db/index.js';
import type { WebhookEventName } from '../../shared/api.js';

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface DeliveryRow {
  id: string;
  webhook_id: string;
  event: WebhookEventName;
  /** The exact body sent, built when the event happened. */
  payload: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_ms: number | null;
  last_status_code: number | null;
  last_error: string | null;
  created_ms: number;
  delivered_ms: number | null;
}

/** A pending delivery that is its webhook's next, with what sending it needs. */
export type DueDelivery = DeliveryRow & { url: string; secret: string };

/** All SQL on the `webhook_deliveries` table: the webhooks' outbox and its log. */
export class DeliveryStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      // Inserts a pending delivery, due at once.
      insert: db.prepare<[{ id: string; webhook_id: string; event: string; payload: string; now: number }]>(
        `INSERT INTO webhook_deliveries (id, webhook_id, event, payload, status, attempts, next_attempt_ms, created_ms)
         VALUES (@id, @webhook_id, @event, @payload, 'pending', 0, @now, @now)`,
      ),
      // Returns one delivery, or no row.
      get: db.prepare<[string], DeliveryRow>('SELECT * FROM webhook_deliveries WHERE id = ?'),
      // Returns each webhook's oldest pending delivery (the only one it may send: deliveries go in order) with its webhook's url and secret.
      heads: db.prepare<[], DueDelivery>(
        `SELECT d.*, w.url, w.secret FROM webhooks w
         JOIN webhook_deliveries d ON d.id = (SELECT p.id FROM webhook_deliveries p WHERE p.webhook_id = w.id AND p.status = 'pending' ORDER BY p.created_ms, p.rowid LIMIT 1)`,
      ),
      // Counts an attempt of a pending delivery and sets when the next one is due should this one not succeed (or the server die
      // during it); returns the number of rows changed (0: no longer pending).
      begin: db.prepare<[{ id: string; next: number }]>(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_ms = @next WHERE id = @id AND status = 'pending'",
      ),
      // Marks a pending delivery delivered; returns the number of rows changed.
      delivered: db.prepare<[{ id: string; code: number; now: number }]>(
        `UPDATE webhook_deliveries SET status = 'delivered', last_status_code = @code, last_error = NULL, next_attempt_ms = NULL, delivered_ms = @now
         WHERE id = @id AND status = 'pending'`,
      ),
      // Records a failed attempt of a pending delivery: due again at `next`, or given up (`failed`) when it is NULL; returns the number of rows changed.
      attemptFailed: db.prepare<[{ id: string; code: number | null; error: string; next: number | null }]>(
        `UPDATE webhook_deliveries SET last_status_code = @code, last_error = @error,
           status = CASE WHEN @next IS NULL THEN 'failed' ELSE status END, next_attempt_ms = @next
         WHERE id = @id AND status = 'pending'`,
      ),
      // Returns the newest deliveries, all webhooks.
      listAll: db.prepare<[{ limit: number }], DeliveryRow>('SELECT * FROM webhook_deliveries ORDER BY created_ms DESC, rowid DESC LIMIT @limit'),
      // Returns the newest deliveries of one webhook.
      listOf: db.prepare<[{ webhook_id: string; limit: number }], DeliveryRow>(
        'SELECT * FROM webhook_deliveries WHERE webhook_id = @webhook_id ORDER BY created_ms DESC, rowid DESC LIMIT @limit',
      ),
      // Returns how many deliveries there are, all webhooks.
      countAll: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM webhook_deliveries'),
      // Returns how many deliveries one webhook has.
      countOf: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM webhook_deliveries WHERE webhook_id = ?'),
    };
  }

  insert(row: { id: string; webhook_id: string; event: WebhookEventName; payload: string; now: number }): void {
    this.stmts.insert.run(row);
  }

  get(id: string): DeliveryRow | undefined {
    return this.stmts.get.get(id);
  }

  /** Each webhook's next delivery, due or not. */
  heads(): DueDelivery[] {
    return this.stmts.heads.all();
  }

  /** Counts an attempt starting now; `next` is when the one after is due. False if it is no longer pending. */
  begin(id: string, next: number): boolean {
    return this.stmts.begin.run({ id, next }).changes > 0;
  }

  delivered(id: string, code: number, now: number): boolean {
    return this.stmts.delivered.run({ id, code, now }).changes > 0;
  }

  /** A failed attempt: due again at `next`, or given up (`failed`) when it is null. */
  attemptFailed(id: string, code: number | null, error: string, next: number | null): boolean {
    return this.stmts.attemptFailed.run({ id, code, error, next }).changes > 0;
  }

  /** The newest `limit` deliveries, of one webhook or all, and how many there are. */
  list(webhookId: string | undefined, limit: number): { rows: DeliveryRow[]; total: number } {
    if (webhookId === undefined) return { rows: this.stmts.listAll.all({ limit }), total: this.stmts.countAll.get()!.n };
    return { rows: this.stmts.listOf.all({ webhook_id: webhookId, limit }), total: this.stmts.countOf.get(webhookId)!.n };
  }
}
