import type { LiveEvent } from '../../../shared/api.js';

export type ConnectionStatus = 'connecting' | 'connected' | 'disconnected';

type Listener = (event: LiveEvent) => void;

// Every type of event, which the compiler holds complete: EventSource dispatches an event only to
// listeners of its exact type, so a type left out here would never reach the page.
const EVENT_TYPE_SET: Record<LiveEvent['type'], true> = {
  'job.created': true,
  'job.updated': true,
  'attempt.started': true,
  'attempt.ended': true,
  'log.appended': true,
  'runner.registered': true,
  'runner.updated': true,
  'runner.removed': true,
  'pool.updated': true,
  'repo.created': true,
  'repo.updated': true,
  'repo.deleted': true,
  'branches.updated': true,
  'transcript.appended': true,
};
const EVENT_TYPES = Object.keys(EVENT_TYPE_SET) as LiveEvent['type'][];

/**
 * The one connection to `GET /api/events` (Server-Sent Events, with the session cookie). Views
 * subscribe with `onLive`; after every (re)connection `onConnected` listeners run, so a view refetches
 * what it may have missed while the stream was down. No polling: a dropped stream is reopened with
 * a backoff of 0.5 s doubling to 5 s.
 */
class LiveStream {
  status = $state<ConnectionStatus>('connecting');
  private source: EventSource | undefined;
  private readonly listeners = new Set<Listener>();
  private readonly connectedListeners = new Set<() => void>();
  private retryMs = 500;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private started = false;

  start(): void {
    if (this.started) return;
    this.started = true;
    this.open();
  }

  stop(): void {
    this.started = false;
    clearTimeout(this.retryTimer);
    this.source?.close();
    this.source = undefined;
    this.status = 'connecting';
  }

  /** Calls `listener` for every event until the returned function is called (return it from an `$effect`). */
  onLive(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Calls `listener` each time the stream (re)opens. */
  onConnected(listener: () => void): () => void {
    this.connectedListeners.add(listener);
    return () => this.connectedListeners.delete(listener);
  }

  private open(): void {
    this.status = this.status === 'disconnected' ? 'disconnected' : 'connecting';
    const source = new EventSource('/api/events', { withCredentials: true });
    this.source = source;
    source.onopen = () => {
      this.retryMs = 500;
      this.status = 'connected';
      for (const listener of this.connectedListeners) listener();
    };
    source.onerror = () => {
      // EventSource retries by itself only on some failures (not on a 401 or a refused connection): reopen ourselves.
      source.close();
      if (this.source !== source || !this.started) return;
      this.status = 'disconnected';
      this.retryTimer = setTimeout(() => this.open(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 5000);
    };
    const dispatch = (message: MessageEvent<string>) => {
      let event: LiveEvent;
      try {
        event = JSON.parse(message.data) as LiveEvent;
      } catch {
        return;
      }
      for (const listener of this.listeners) listener(event);
    };
    for (const type of EVENT_TYPES) source.addEventListener(type, dispatch);
  }
}

export const live = new LiveStream();
