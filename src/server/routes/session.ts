import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ErrorBody, SessionsEnded, SessionState, SignIn, SignInLink } from '../../shared/api.js';
import { ApiError } from '../errors.js';
import type { KeyedBuckets, TokenBucket } from '../rate-limit.js';
import { tokenMatches } from '../secrets.js';
import { browserWriteRefusal, sameOrigin } from '../web/access.js';
import { clearedSessionCookie, sessionCookie } from '../web/cookies.js';
import type { Sessions } from '../web/sessions.js';
import { signInLink, type SignInCodes } from '../web/signin-codes.js';
import { trustedBase } from './clone-url.js';

export interface SessionRoutesOptions {
  sessions: Sessions;
  codes: SignInCodes;
  adminToken: string;
  publicUrl?: string;
  /** Sign-in attempts (with a token or a code), per client address. */
  attempts: KeyedBuckets;
  /** Sign-in attempts from all clients together (many addresses each starting full). */
  allAttempts: TokenBucket;
}

/** The web UI's sign-in: a session cookie for the admin token or a one-time link's code, and sign-out. */
export async function sessionRoutes(fastify: FastifyInstance, opts: SessionRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { sessions } = opts;
  // The session routes take no token: they are how a browser gets its session.
  const open = <S extends object>(description: string, schema: S) => ({
    config: { auth: 'public' as const },
    schema: { tags: ['session'], security: [], description, ...schema },
  });
  // Secure where the browser reaches the server over https, itself or through a proxy the public URL names.
  const secure = (req: FastifyRequest) => req.protocol === 'https' || opts.publicUrl?.startsWith('https:') === true;
  const state = (secret: string | undefined): SessionState => ({ signed_in: secret !== undefined, csrf_token: secret ? sessions.csrfToken(secret) : null });

  app.get(
    '/api/session',
    open("Whether this browser's session cookie is signed in, and its CSRF token.", {
      summary: 'Whether this browser is signed in',
      response: { 200: SessionState },
    }),
    async (req, reply) => {
      // The CSRF token stays out of every cache.
      reply.header('cache-control', 'no-store');
      // Each visit gives the session its 30 days again.
      const secret = sessions.findAndRenew(req.headers.cookie);
      if (secret) {
        reply.header('set-cookie', sessionCookie(secret, secure(req)));
      }
      return state(secret);
    },
  );

  app.post(
    '/api/session',
    open('Signs a browser in with the admin token or the code of a one-time sign-in link: sets the HttpOnly session cookie.', {
      summary: 'Sign a browser in',
      body: SignIn,
      response: { 200: SessionState, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 429: ErrorBody },
    }),
    async (req, reply) => {
      const { token, code } = req.body;
      if ((token === undefined) === (code === undefined)) throw new ApiError(400, 'give either the admin token (token) or the code of a sign-in link (code)');
      if (!sameOrigin(req, opts.publicUrl)) throw new ApiError(403, 'cross-origin request refused');
      const wait = opts.attempts.take(req.ip) || opts.allAttempts.take();
      if (wait > 0) {
        reply.header('retry-after', String(wait));
        throw new ApiError(429, `too many sign-in attempts: try again in ${wait} s`);
      }
      if (token !== undefined && !tokenMatches(token, opts.adminToken)) throw new ApiError(401, 'wrong admin token');
      if (code !== undefined && !opts.codes.redeem(code)) throw new ApiError(401, 'this sign-in link was already used or has expired');
      // A sign-in always gets a fresh secret: one the browser held before (or was given) ends here.
      const previous = sessions.find(req.headers.cookie);
      if (previous) sessions.end(previous);
      const secret = sessions.start();
      reply.header('set-cookie', sessionCookie(secret, secure(req))).header('cache-control', 'no-store');
      return state(secret);
    },
  );

  app.delete(
    '/api/session',
    open("Signs this browser out: its session ends and its cookie is cleared (with the session's CSRF token).", {
      summary: 'Sign this browser out',
      response: { 204: Type.Null(), 403: ErrorBody },
    }),
    async (req, reply) => {
      const secret = sessions.find(req.headers.cookie);
      if (secret) {
        const refusal = browserWriteRefusal(req, sessions, secret, opts.publicUrl);
        if (refusal) throw refusal;
        sessions.end(secret);
      }
      return reply
        .code(204)
        .header('set-cookie', clearedSessionCookie(secure(req)))
        .send(null);
    },
  );

  app.post(
    '/api/session/links',
    {
      schema: {
        summary: 'Make a one-time sign-in link',
        tags: ['session'],
        description: 'A fresh one-click sign-in link for the web UI: it works once, for 24 hours, and not after a restart.',
        response: { 201: SignInLink, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (req, reply) => {
      const base = trustedBase(req, opts.publicUrl);
      const { code, expiresAt } = opts.codes.issue();
      return reply.code(201).send({ url: signInLink(base, code), expires_at: expiresAt.toISOString() });
    },
  );

  app.delete(
    '/api/sessions',
    {
      schema: {
        summary: 'Sign every browser out',
        tags: ['session'],
        description:
          'Signs every browser out (a cookie may have leaked): every session ends, with its open event streams. A new admin token does the same at the next start.',
        response: { 200: SessionsEnded, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (): Promise<SessionsEnded> => ({ ended: sessions.endAll() }),
  );
}
