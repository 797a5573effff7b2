import { EventEmitter } from 'node:events';
import type { LiveEvent } from '../shared/api.js';

/**
 * How often the event stream (`GET /api/events`) writes a keep-alive comment while nothing happens.
 * The HTTP idle timeout must be longer, or an idle stream is cut between two of them.
 */
export const EVENT_KEEPALIVE_MS = 15_000;

/** What changes announce themselves with; typed, so only a declared `LiveEvent` can be emitted. */
export type Emit = (event: LiveEvent) => void;

/** The server's live events, as `GET /api/events` streams them. */
export class LiveEvents {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  readonly emit: Emit = (event) => {
    this.emitter.emit('event', event);
  };

  /** Calls `listener` for every event from now on; returns the function that stops it. */
  subscribe(listener: Emit): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}
