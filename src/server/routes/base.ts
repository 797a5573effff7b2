import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { bearerToken, type TokenResolver } from '../auth.js';
import type { ServerConfig } from '../config.js';
import { edgeServerOptions, guardEdge } from '../edge.js';
import { ApiError } from '../errors.js';
import { quietRequest } from '../logging.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call a route: the admin token (default for /api), anyone, or the runner protocol's own checks. */
    auth?: 'admin' | 'public' | 'custom';
  }
}

/**
 * The Fastify instance before any route: the limits of the HTTP edge, one error shape for every
 * failure (a 5xx says no more than that), and the admin token checked before a body is read.
 */
export function createHttp(config: ServerConfig, resolveToken: TokenResolver, logger?: FastifyBaseLogger): FastifyInstance {
  const app = Fastify({
    ...(logger ? { loggerInstance: logger } : { logger: false }),
    logController: new LogController({ disableRequestLogging: (req: FastifyRequest) => quietRequest(req.url, logger?.level ?? 'info') }),
    ...edgeServerOptions(config),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  });

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    const status = err instanceof ApiError ? err.statusCode : (err.statusCode ?? 500);
    if (status >= 500) {
      req.log.error({ err }, 'request failed');
      const message = status === 502 ? err.message : 'internal server error';
      return reply.code(status).send({ statusCode: status, error: status === 502 ? 'Bad Gateway' : 'Internal Server Error', message });
    }
    return reply.code(status).send({ statusCode: status, error: httpReason(status), message: err.message });
  });
  const notFound = (req: FastifyRequest, reply: FastifyReply) =>
    reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no route for ${req.method} ${req.url.split('?')[0]}` });
  app.setNotFoundHandler(notFound);

  app.addHook('onRequest', async (req, reply) => {
    // By the route's pattern, not the raw URL: `/%61pi/repos` or `http://host/api/repos` reach the same route.
    const auth = req.routeOptions.config.auth ?? ((req.routeOptions.url ?? req.url).startsWith('/api/') ? 'admin' : 'public');
    if (auth === 'admin') {
      const token = bearerToken(req);
      const principal = token ? resolveToken(token) : undefined;
      if (principal?.kind !== 'admin') {
        reply.header('WWW-Authenticate', 'Bearer realm="lazyaf"');
        return reply.code(401).send({ statusCode: 401, error: 'Unauthorized', message: token ? 'invalid token' : 'missing bearer token (the admin token)' });
      }
    }
    // Before a body is read: there is no route to read it for.
    if (req.is404) return notFound(req, reply);
  });
  guardEdge(app, config);
  return app;
}

function httpReason(status: number): string {
  const reasons: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    408: 'Request Timeout',
    409: 'Conflict',
    413: 'Payload Too Large',
    415: 'Unsupported Media Type',
    422: 'Unprocessable Entity',
    429: 'Too Many Requests',
  };
  return reasons[status] ?? 'Error';
}
