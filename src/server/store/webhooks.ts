import type { Db } from '../db/index.js';
import type { WebhookEventName, WebhookFormat } from '../../shared/api.js';

export interface WebhookRow {
  id: string;
  /** As given, credentials included: shown only through `shownUrl`. */
  url: string;
  /** A JSON array of event names. */
  events: string;
  secret: string;
  format: WebhookFormat;
  created_ms: number;
}

/** All SQL on the `webhooks` table (where the events people asked for are POSTed). */
export class WebhookStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      // Inserts a webhook.
      insert: db.prepare<[WebhookRow]>(
        'INSERT INTO webhooks (id, url, events, secret, format, created_ms) VALUES (@id, @url, @events, @secret, @format, @created_ms)',
      ),
      // Returns one webhook, or no row.
      get: db.prepare<[string], WebhookRow>('SELECT * FROM webhooks WHERE id = ?'),
      // Returns every webhook, oldest first.
      list: db.prepare<[], WebhookRow>('SELECT * FROM webhooks ORDER BY created_ms, id'),
      // Returns the webhooks whose events include `event`, oldest first.
      subscribed: db.prepare<[string], WebhookRow>(
        'SELECT w.* FROM webhooks w WHERE EXISTS (SELECT 1 FROM json_each(w.events) e WHERE e.value = ?) ORDER BY w.created_ms, w.id',
      ),
      // Deletes one webhook (its deliveries go with it); returns the number of rows deleted (0 or 1).
      remove: db.prepare<[string]>('DELETE FROM webhooks WHERE id = ?'),
    };
  }

  insert(row: WebhookRow): void {
    this.stmts.insert.run(row);
  }

  get(id: string): WebhookRow | undefined {
    return this.stmts.get.get(id);
  }

  list(): WebhookRow[] {
    return this.stmts.list.all();
  }

  subscribedTo(event: WebhookEventName): WebhookRow[] {
    return this.stmts.subscribed.all(event);
  }

  remove(id: string): boolean {
    return this.stmts.remove.run(id).changes > 0;
  }
}
