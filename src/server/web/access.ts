import type { FastifyRequest } from 'fastify';
import { CSRF_HEADER } from '../../shared/session.js';
import { bearerToken, type TokenResolver } from '../auth.js';
import { ApiError } from '../errors.js';
import { hasSessionCookie } from './cookies.js';
import type { Sessions } from './sessions.js';

/** Whether a request may use an admin route: undefined if so, else the refusal to send. */
export type AdminCheck = (req: FastifyRequest) => ApiError | undefined;

/** Methods that change nothing: a browser may send them without the CSRF token. */
const SAFE_METHODS = new Set(['GET', 'HEAD']);

/**
 * Who may use an admin route: whoever presents the admin token as a bearer token, or a browser
 * signed in to the web UI with its session cookie. A request with an Authorization header is
 * judged by that header alone, whatever cookies it carries.
 */
export function adminAccess(resolveToken: TokenResolver, sessions: Sessions, publicUrl?: string): AdminCheck {
  return (req) => {
    if (req.headers.authorization !== undefined || !hasSessionCookie(req.headers.cookie)) {
      const token = bearerToken(req);
      if (token && resolveToken(token)?.kind === 'admin') return undefined;
      return new ApiError(401, token ? 'invalid token' : 'missing bearer token (the admin token)');
    }
    const secret = sessions.find(req.headers.cookie);
    if (!secret) return new ApiError(401, 'not signed in: the session has ended or expired');
    return browserWriteRefusal(req, sessions, secret, publicUrl);
  };
}

/**
 * Why a signed-in browser's request is refused, or undefined. A write must carry the session's
 * CSRF token (which only the server's own pages can read) and, where the browser names the page's
 * origin, come from a page of this server. SameSite=Strict already keeps other sites' requests
 * from carrying the cookie; these hold where it does not (an old browser, a sibling subdomain).
 */
export function browserWriteRefusal(req: FastifyRequest, sessions: Sessions, secret: string, publicUrl?: string): ApiError | undefined {
  if (SAFE_METHODS.has(req.method)) return undefined;
  if (!sessions.csrfMatches(secret, req.headers[CSRF_HEADER])) return new ApiError(403, 'missing or wrong CSRF token');
  if (!sameOrigin(req, publicUrl)) return new ApiError(403, 'cross-origin request refused');
  return undefined;
}

/** Whether the request's Origin header, if any, names this server: the host the request reached, or the public URL. */
export function sameOrigin(req: FastifyRequest, publicUrl?: string): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (typeof origin !== 'string' || !URL.canParse(origin)) return false;
  const from = new URL(origin);
  if (publicUrl !== undefined && from.origin === new URL(publicUrl).origin) return true;
  // A web page's origin is http or https (https too: the server may sit behind an https proxy).
  if (from.protocol !== 'http:' && from.protocol !== 'https:') return false;
  const host = req.headers.host;
  if (host === undefined || !URL.canParse(`${from.protocol}//${host}`)) return false;
  // Through the URL parser on both sides: `HOST:80` and `host` are the same place for http.
  return from.host === new URL(`${from.protocol}//${host}`).host;
}
