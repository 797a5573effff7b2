import type { LiveEvent } from '../../../shared/api.js';

export type ConnectionStatus = 'connecting' | 'connected' | 'disconnected';

/** The views that keep themselves live from the event stream. */
export type View = 'jobs' | 'job' | 'log' | 'transcript' | 'job form' | 'runners' | 'repos' | 'repo' | 'task' | 'comments' | 'watch';

/**
 * Which views read each type of event: the one list of the types the page listens to, derived
 * from the `LiveEvent` union. The compiler holds it complete (EventSource dispatches an event
 * only to listeners of its exact type, so a type left out would never reach the page) and each
 * type names at least one view, so a new type of event that no view reads does not compile; a
 * view is given only the types listed for it (`onLive`), so it cannot handle one not listed.
 */
const READERS = {
  'job.created': ['jobs', 'runners'],
  'job.updated': ['jobs', 'job', 'runners', 'watch'],
  'attempt.started': ['job', 'runners'],
  'attempt.ended': ['job', 'runners'],
  'log.appended': ['log'],
  'runner.registered': ['job', 'job form', 'runners'],
  'runner.updated': ['runners'],
  'runner.removed': ['job', 'job form', 'runners'],
  'pool.updated': ['runners'],
  'repo.created': ['jobs', 'repos', 'repo'],
  'repo.updated': ['jobs', 'repos', 'repo'],
  'repo.deleted': ['jobs', 'repos', 'repo'],
  'branches.updated': ['repo'],
  'transcript.appended': ['transcript'],
  'task.updated': ['task', 'job'],
  'comments.changed': ['comments'],
} as const satisfies Record<LiveEvent['type'], readonly [View, ...View[]]>;

type Readers = typeof READERS;
/** The types of event `V` reads. */
type ReadBy<V extends View> = { [K in keyof Readers]: V extends Readers[K][number] ? K : never }[keyof Readers];
/** The events a view is given. */
export type EventFor<V extends View> = Extract<LiveEvent, { type: ReadBy<V> }>;

interface Subscription {
  types: ReadonlySet<string>;
  listener: (event: LiveEvent) => void;
}

const EVENT_TYPES = Object.keys(READERS) as LiveEvent['type'][];

/**
 * The one connection to `GET /api/events` (Server-Sent Events, with the session cookie). Views
 * subscribe with `onLive`; after every (re)connection `onConnected` listeners run, so a view refetches
 * what it may have missed while the stream was down. No polling: a dropped stream is reopened with
 * a backoff of 0.5 s doubling to 5 s.
 */
class LiveStream {
  status = $state<ConnectionStatus>('connecting');
  private source: EventSource | undefined;
  private readonly subscriptions = new Set<Subscription>();
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

  /** Calls `listener` for every event `view` reads (READERS) until the returned function is called (return it from an `$effect`). */
  onLive<V extends View>(view: V, listener: (event: EventFor<V>) => void): () => void {
    const types = new Set(EVENT_TYPES.filter((type) => (READERS[type] as readonly View[]).includes(view)));
    const subscription: Subscription = { types, listener: listener as (event: LiveEvent) => void };
    this.subscriptions.add(subscription);
    return () => this.subscriptions.delete(subscription);
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
      for (const { types, listener } of this.subscriptions) if (types.has(event.type)) listener(event);
    };
    for (const type of EVENT_TYPES) source.addEventListener(type, dispatch);
  }
}

export const live = new LiveStream();
