import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ServerConfig } from '../config.js';
import { edgeServerOptions, guardEdge } from '../edge.js';
import { ApiError, errorBody } from '../errors.js';
import { RequestLog } from '../logging.js';
import type { AdminCheck } from '../web/access.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call a route: the admin token or a signed-in browser (default for /api), anyone, or the route's own checks (the runner protocol's, the git server's). */
    auth?: 'admin' | 'public' | 'custom';
  }
}

export interface HttpAccess {
  /** Whether a request may use the admin routes (web/access.ts). */
  admit: AdminCheck;
  /** Answers a request no route has when it is the web UI's (a page the browser routes); false: the JSON 404. */
  page?: (req: FastifyRequest, reply: FastifyReply) => Promise<boolean>;
}

/**
 * The Fastify instance before any route: the limits of the HTTP edge, one error shape for every
 * failure (a 5xx says no more than that), and the admin token or session checked before a body is read.
 */
export function createHttp(config: ServerConfig, access: HttpAccess, logger?: FastifyBaseLogger): FastifyInstance {
  const app = Fastify({
    ...(logger ? { loggerInstance: logger } : { logger: false }),
    logController: new RequestLog(() => logger?.level ?? 'info'),
    ...edgeServerOptions(config),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  });

  // Ajv turns the string "Infinity" (or 1e400) into a number that passes `integer`, and skips
  // minimum and maximum for it: every query and path parameter is checked again once coerced.
  // A callback hook that allocates nothing: every request passes here.
  app.addHook('preHandler', (req, _reply, done) => {
    const key = infiniteKey(req.query) ?? infiniteKey(req.params);
    if (key === undefined) return done();
    const part = infiniteKey(req.query) === key ? 'querystring' : 'params';
    done(new ApiError(400, `${part}/${key} must be a finite number`));
  });

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    const status = err instanceof ApiError ? err.statusCode : (err.statusCode ?? 500);
    // Work stopped because its client hung up (hangUpSignal): nobody is left to answer, and
    // nothing failed on the server's side.
    if (err.name === 'AbortError' && reply.raw.destroyed) {
      req.log.debug('the client hung up before the answer');
      return reply.code(499).send();
    }
    if (status >= 500) {
      req.log.error({ err }, 'request failed');
      return reply.code(status).send({ statusCode: status, error: 'Internal Server Error', message: 'internal server error' });
    }
    return reply.code(status).send(errorBody(status, err.message));
  });
  const notFound = async (req: FastifyRequest, reply: FastifyReply) => {
    if (await access.page?.(req, reply)) return reply;
    return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no route for ${req.method} ${req.url.split('?')[0]}` });
  };
  app.setNotFoundHandler(notFound);

  app.addHook('onRequest', async (req, reply) => {
    // By the route's pattern, not the raw URL: `/%61pi/repos` or `http://host/api/repos` reach the same route.
    const auth = req.routeOptions.config.auth ?? ((req.routeOptions.url ?? req.url).startsWith('/api/') ? 'admin' : 'public');
    if (auth === 'admin') {
      const refusal = access.admit(req);
      if (refusal) {
        if (refusal.statusCode === 401) reply.header('WWW-Authenticate', 'Bearer realm="lazyaf"');
        return reply.code(refusal.statusCode).send(errorBody(refusal.statusCode, refusal.message));
      }
    }
    // Before a body is read: there is no route to read it for.
    if (req.is404) return notFound(req, reply);
  });
  guardEdge(app, config);
  return app;
}

/** The first key of a parsed querystring or params whose value (or one of whose values) is a number but not finite. */
function infiniteKey(values: unknown): string | undefined {
  if (values === null || typeof values !== 'object') return undefined;
  const record = values as Record<string, unknown>;
  for (const key in record) {
    const v = record[key];
    if (typeof v === 'number' ? !Number.isFinite(v) : Array.isArray(v) && v.some((n) => typeof n === 'number' && !Number.isFinite(n))) return key;
  }
  return undefined;
}
