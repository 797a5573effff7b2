import type { FastifyInstance } from 'fastify';
import type { LiveEvent } from '../../shared/api.js';
import { EVENT_KEEPALIVE_MS, type LiveEvents } from '../events.js';
import type { Sessions } from '../web/sessions.js';

export interface EventRoutesOptions {
  events: LiveEvents;
  /** Resolves when the server starts shutting down, so open streams end at once. */
  closing: Promise<void>;
  /** A stream a browser opened with its session ends when the session is signed out. */
  sessions: Sessions;
}

/**
 * How far a stream's client may fall behind (bytes written and not yet taken by the socket)
 * before the stream is closed: the web UI reopens it and reloads what it shows (live.svelte.ts),
 * and the server holds no more for a client that stopped reading.
 */
export const EVENT_STREAM_BEHIND_BYTES = 1024 * 1024;

/**
 * Frames wait up to this long to go out together: one write per stream per batch rather than one
 * per event (with 50 streams open and 200 log chunks a second, those writes were the server's
 * largest cost). The UI's target is an event shown within 100 ms.
 */
export const EVENT_BATCH_MS = 10;

/** The streams with frames waiting, flushed by one timer for all. */
const waiting = new Set<() => void>();
let flushTimer: NodeJS.Timeout | undefined;

function flushSoon(flush: () => void): void {
  waiting.add(flush);
  flushTimer ??= setTimeout(() => {
    flushTimer = undefined;
    const flushes = [...waiting];
    waiting.clear();
    for (const f of flushes) f();
  }, EVENT_BATCH_MS);
}

/** Each event's frame, encoded once however many streams send it. */
const frames = new WeakMap<LiveEvent, Buffer>();

function frameOf(event: LiveEvent): Buffer {
  let frame = frames.get(event);
  if (!frame) frames.set(event, (frame = Buffer.from(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`)));
  return frame;
}

/**
 * `GET /api/events`: one Server-Sent Events stream of `LiveEvent`s (shared/api.ts): job, attempt,
 * log, runner, pool, repo and branch events, as `event: <type>` with a JSON `data:` line. A comment line every 15 s keeps proxies
 * from closing an idle stream.
 */
export async function eventRoutes(app: FastifyInstance, opts: EventRoutesOptions): Promise<void> {
  app.get(
    '/api/events',
    {
      schema: {
        summary: 'Stream live events (server-sent events)',
        tags: ['events'],
        description: 'Server-Sent Events: live job, attempt, log, runner, pool, repo and branch events (LiveEvent).',
      },
    },
    async (req, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(': connected\n\n');
      let frames: Buffer[] = [];
      let framesBytes = 0;
      const flush = () => {
        if (!res.destroyed && frames.length > 0) res.write(frames.length === 1 ? frames[0] : Buffer.concat(frames, framesBytes));
        frames = [];
        framesBytes = 0;
      };
      const onEvent = (event: LiveEvent) => {
        if (res.destroyed) return;
        if (res.writableLength + framesBytes > EVENT_STREAM_BEHIND_BYTES) {
          frames = [];
          framesBytes = 0;
          res.destroy();
          return;
        }
        const frame = frameOf(event);
        frames.push(frame);
        framesBytes += frame.length;
        flushSoon(flush);
      };
      const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), EVENT_KEEPALIVE_MS);
      const unsubscribe = opts.events.subscribe(onEvent);
      let unwatch = () => {};
      await new Promise<void>((resolve) => {
        res.on('close', resolve);
        void opts.closing.then(resolve);
        unwatch = opts.sessions.watchRequest(req.headers, resolve);
      });
      clearInterval(keepAlive);
      unsubscribe();
      waiting.delete(flush);
      unwatch();
      res.end();
      req.log.debug('event stream closed');
    },
  );
}
