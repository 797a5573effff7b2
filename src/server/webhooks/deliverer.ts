import type { FastifyBaseLogger } from 'fastify';
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER } from '../../shared/api.js';
import type { DeliveryStore, DueDelivery } from '../store/webhook-deliveries.js';
import { signature } from './payload.js';
import { requestTarget } from './url.js';

export interface DelivererOptions {
  /** The first retry's delay; it doubles after each failure up to `maxDelayMs`, jittered. */
  retryMs: number;
  maxDelayMs?: number;
  /** Tries before a delivery is given up as `failed`. */
  attempts: number;
  /** How long a receiver has to answer. */
  timeoutMs: number;
  logger?: FastifyBaseLogger;
  now?: () => number;
}

const MAX_DELAY_MS = 10 * 60 * 1000;
/** last_error is for a person reading the log: a line, not a receiver's page. */
const ERROR_MAX = 300;

/**
 * Sends the outbox (`webhook_deliveries`): SQLite holds every delivery's state, this only sends.
 *
 * - Woken when a delivery is written and when one ends; otherwise asleep until the earliest stored
 *   `next_attempt_ms`, so an idle server does no polling.
 * - Per webhook, one delivery in flight, oldest first: a receiver sees its events in order, and a
 *   slow or dead one holds back only its own (each request is asynchronous, with a timeout).
 * - An attempt is counted, and its successor's time stored, before the request goes out: a server
 *   that dies during it sends it again after its restart (at least once; `X-Lazyaf-Delivery`
 *   lets a receiver drop a repeat). Marked delivered on a 2xx, it is never sent again.
 * - Redirects are not followed (a 3xx is a failed attempt): the signed body goes only where it was
 *   configured to.
 */
export class Deliverer {
  private stopped = true;
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  /** The send in flight per webhook id. */
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly aborts = new Set<AbortController>();
  private readonly now: () => number;

  constructor(
    private readonly deliveries: DeliveryStore,
    private readonly opts: DelivererOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    this.stopped = false;
    this.wake();
  }

  /** Looks at the outbox again, soon (calls in one turn of the loop make one look). */
  wake = (): void => {
    if (this.stopped || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  };

  /** Stops sending: requests in flight are cut and stay pending, to be sent again after a restart. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const abort of this.aborts) abort.abort();
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** Whether nothing is being sent (for tests and the bench). */
  get idle(): boolean {
    return this.inFlight.size === 0;
  }

  private pump(): void {
    if (this.stopped) return;
    let heads: DueDelivery[];
    try {
      heads = this.deliveries.heads();
    } catch (err) {
      this.opts.logger?.error({ err }, 'webhook deliveries could not be read');
      return;
    }
    const now = this.now();
    let next = Infinity;
    for (const head of heads) {
      if (this.inFlight.has(head.webhook_id)) continue;
      const due = head.next_attempt_ms ?? now;
      if (due <= now) this.send(head, now);
      else next = Math.min(next, due);
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    if (next !== Infinity) this.timer = setTimeout(this.wake, Math.max(0, next - now)).unref();
  }

  /** The delay before attempt `attempt + 1`: exponential, capped, with half of it random so receivers that failed together are not retried together. */
  private delayAfter(attempt: number): number {
    const full = Math.min(this.opts.maxDelayMs ?? MAX_DELAY_MS, this.opts.retryMs * 2 ** Math.min(attempt - 1, 30));
    return Math.round(full / 2 + (Math.random() * full) / 2);
  }

  private send(delivery: DueDelivery, now: number): void {
    const attempt = delivery.attempts + 1;
    // Should the server die during the request, the delivery is due again once a timeout and a backoff have passed.
    if (!this.deliveries.begin(delivery.id, now + this.opts.timeoutMs + this.delayAfter(attempt))) return;
    const sending = this.post(delivery)
      .then((outcome) => this.record(delivery, attempt, outcome))
      .catch((err: unknown) => this.opts.logger?.error({ err, delivery_id: delivery.id }, 'a webhook delivery could not be recorded'))
      .finally(() => {
        this.inFlight.delete(delivery.webhook_id);
        this.wake();
      });
    this.inFlight.set(delivery.webhook_id, sending);
  }

  private record(delivery: DueDelivery, attempt: number, outcome: Outcome): void {
    const now = this.now();
    // Cut by a shutdown: due at once after the restart; the receiver may have had it (the delivery id tells).
    if (outcome.kind === 'stopped') {
      this.deliveries.attemptFailed(delivery.id, null, 'the server stopped during this attempt', now);
      return;
    }
    if (outcome.kind === 'delivered') {
      this.deliveries.delivered(delivery.id, outcome.code, now);
      return;
    }
    const giveUp = attempt >= this.opts.attempts;
    this.deliveries.attemptFailed(delivery.id, outcome.code, outcome.error.slice(0, ERROR_MAX), giveUp ? null : now + this.delayAfter(attempt));
    const log = { webhook_id: delivery.webhook_id, delivery_id: delivery.id, attempt, status_code: outcome.code, error: outcome.error };
    if (giveUp) this.opts.logger?.warn(log, 'webhook delivery failed; given up after its last attempt');
    else this.opts.logger?.debug(log, 'webhook delivery failed; it will be retried');
  }

  private async post(delivery: DueDelivery): Promise<Outcome> {
    const abort = new AbortController();
    this.aborts.add(abort);
    const timer = setTimeout(() => abort.abort(new Error(`no answer within ${this.opts.timeoutMs} ms`)), this.opts.timeoutMs);
    try {
      const target = requestTarget(delivery.url);
      const res = await fetch(target.url, {
        method: 'POST',
        redirect: 'manual',
        signal: abort.signal,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'lazyaf-webhooks',
          [EVENT_HEADER]: delivery.event,
          [DELIVERY_HEADER]: delivery.id,
          [SIGNATURE_HEADER]: signature(delivery.secret, delivery.payload),
          ...(target.authorization ? { authorization: target.authorization } : {}),
        },
        body: delivery.payload,
      });
      // The answer's body is not read: a receiver's page is not ours to hold.
      await res.body?.cancel().catch(() => {});
      if (res.status >= 200 && res.status < 300) return { kind: 'delivered', code: res.status };
      const redirect = res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : '';
      return { kind: 'failed', code: res.status || null, error: `the receiver answered HTTP ${res.status}${redirect}` };
    } catch (err) {
      if (this.stopped) return { kind: 'stopped' };
      return { kind: 'failed', code: null, error: describe(err) };
    } finally {
      clearTimeout(timer);
      this.aborts.delete(abort);
    }
  }
}

type Outcome = { kind: 'delivered'; code: number } | { kind: 'failed'; code: number | null; error: string } | { kind: 'stopped' };

/** fetch's own message is "fetch failed"; what went wrong is in its cause. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? err.cause : undefined;
  if (err.name === 'AbortError' || err.name === 'TimeoutError') return cause?.message ?? err.message;
  if (cause) return `${(cause as { code?: string }).code ?? cause.name}: ${cause.message}`;
  return err.message;
}
