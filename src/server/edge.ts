import fs from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerConfig } from './config.js';
import { ApiError } from './errors.js';

/**
 * The HTTP edge: what a slow, silent or hostile client can hold, and for how long.
 *
 * - Headers must arrive within the body timeout; Node checks every second.
 * - Tokens are checked in `onRequest` hooks, before a body is read: a client without a valid
 *   token gets its 401 after its headers, and its connection is closed (see `guardEdge`).
 * - A body must arrive whole within the body timeout (git transfers excepted: they are long).
 * - A socket with no traffic either way for the idle timeout is cut: a stalled git transfer,
 *   a client that stopped reading. Routes where the server is the one waiting (long-polls, a
 *   followed log between chunks) lift it while they wait.
 * - The server keeps file descriptors for itself: past a connection cap under the fd limit new
 *   connections are closed at once, so git and SQLite never fail for lack of descriptors.
 *   (1,100 trickling connections against a 1,024-fd limit used to make every request fail.)
 */

/** Requests at or past this many nested arrays/objects are refused before JSON.parse sees them. */
export const MAX_JSON_DEPTH = 64;
/** The default body limit; routes that need more say so (job submissions, log chunks). */
export const DEFAULT_BODY_LIMIT = 64 * 1024;
/** Descriptors kept for the server's own use (git children, SQLite, the checkpoint worker). */
const RESERVED_FDS = 256;

/** Git routes stream their bodies into git: they are bounded by inactivity, not by a deadline. */
const streamsBody = (req: FastifyRequest) => (req.routeOptions.url ?? '').startsWith('/git/');

export function edgeServerOptions(config: ServerConfig) {
  return {
    // Node's requestTimeout would also cut long pushes; the body deadline below replaces it.
    requestTimeout: 0,
    connectionTimeout: config.idleTimeoutSeconds * 1000,
    bodyLimit: DEFAULT_BODY_LIMIT,
    http: { headersTimeout: config.bodyTimeoutSeconds * 1000, connectionsCheckingInterval: 1000 },
  };
}

/** Hooks, parser and connection cap for the edge; registered after the auth hook. */
export function guardEdge(app: FastifyInstance, config: ServerConfig): void {
  const bodyTimeoutMs = config.bodyTimeoutSeconds * 1000;

  app.addHook('preParsing', async (req, reply, payload) => {
    if (req.raw.complete || streamsBody(req) || bodyArrived(req)) return payload;
    const guarded = withDeadline(payload, bodyTimeoutMs, () => new ApiError(408, `the request body did not arrive within ${config.bodyTimeoutSeconds} s`));
    // Answered without reading the body (too large by its Content-Length): the deadline has nothing left to guard.
    reply.raw.once('close', () => guarded.destroy());
    return guarded;
  });

  // An answer given before the body was read (a 401, a 404, a 413) closes the connection:
  // otherwise Node would keep reading whatever the client still trickles, for as long as it likes.
  // (A git answer that succeeds may start while its body still streams in.)
  app.addHook('onSend', async (req, reply) => {
    if (!req.raw.complete && (!streamsBody(req) || reply.statusCode >= 400)) reply.header('connection', 'close');
  });

  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) return done(new ApiError(400, `JSON nested deeper than ${MAX_JSON_DEPTH} levels`), undefined);
    return parseJson(req, text, done);
  });

  const fdLimit = openFileLimit();
  if (fdLimit !== undefined) app.server.maxConnections = Math.max(64, fdLimit - RESERVED_FDS);
}

/**
 * Whether every byte of a request's announced body has arrived already (read off the socket with
 * its headers, waiting in the stream): nothing is left to trickle, so no deadline need guard it.
 * The usual case for a small JSON body; it spares each such request a stream and a timer.
 */
function bodyArrived(req: FastifyRequest): boolean {
  const announced = req.headers['content-length'];
  return announced !== undefined && /^\d+$/.test(announced) && req.raw.readableLength >= Number(announced);
}

/** Lifts the idle timeout while the server, not the client, is the one waiting. */
export async function whileServerWaits<T>(req: FastifyRequest, wait: Promise<T>): Promise<T> {
  const socket = req.raw.socket;
  const idle = socket.timeout ?? 0;
  socket.setTimeout(0);
  try {
    return await wait;
  } finally {
    if (!socket.destroyed) socket.setTimeout(idle);
  }
}

/** Aborts when the client hangs up, so an answer the server holds stops waiting for it. */
export function hangUpSignal(reply: FastifyReply): AbortSignal {
  const abort = new AbortController();
  // Not once the answer went out whole: nothing waits any more, and an abort (its DOMException and
  // event) on every poll was a measurable share of the runners' steady traffic.
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) abort.abort();
  });
  return abort.signal;
}

/** For routes that hold their answer open by design (long-polls): no idle timeout on this request. */
export async function serverHoldsAnswer(req: FastifyRequest): Promise<void> {
  // Node restores the server's timeout when the connection carries its next request.
  req.raw.socket.setTimeout(0);
}

function withDeadline(payload: Readable, ms: number, error: () => Error): Readable {
  const guarded = new PassThrough();
  const timer = setTimeout(() => {
    payload.unpipe(guarded);
    guarded.destroy(error());
  }, ms);
  const stop = () => clearTimeout(timer);
  payload.once('end', stop);
  payload.once('close', stop);
  guarded.once('close', stop);
  payload.on('error', (err) => guarded.destroy(err));
  // Whoever reads the body listens for its errors; one that fires after the reader left must not crash the server.
  guarded.on('error', () => {});
  return payload.pipe(guarded);
}

/**
 * Whether `text` nests arrays and objects deeper than `max` (outside strings). Linear, with no
 * recursion, for any input; strings are skipped with indexOf, so a long log chunk costs little.
 */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let end = i;
      for (;;) {
        end = text.indexOf('"', end + 1);
        if (end < 0) return false; // unterminated: JSON.parse reports it
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes++;
        if (backslashes % 2 === 0) break;
      }
      i = end;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

/** The soft limit on open files (Linux), or undefined where it cannot be read. */
function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
