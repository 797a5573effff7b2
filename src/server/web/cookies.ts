import { SESSION_COOKIE } from '../../shared/session.js';

/** A session secret as the server makes them: 32 random bytes, base64url. Anything else is not ours. */
const SESSION_SECRET = /^[A-Za-z0-9_-]{43}$/;
/**
 * Session cookies looked at per request. A browser sends one (a second only when another path or
 * domain set one too); more is someone trying many secrets in one request.
 */
const MAX_CANDIDATES = 4;

/** Seconds a session cookie lives in the browser: as long as the session's row. */
export const SESSION_MAX_AGE_S = 30 * 24 * 3600;

/**
 * The values of the session cookie in a Cookie header, at most a few, each shaped like a secret.
 * The header is the client's word: no decoding, nothing but exact names and shapes is trusted, and
 * Node's header size limit (16 KB) bounds the split.
 */
export function sessionCookieValues(header: string | string[] | undefined): string[] {
  if (header === undefined) return [];
  const out: string[] = [];
  for (const part of (Array.isArray(header) ? header.join(';') : header).split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = part
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    if (SESSION_SECRET.test(value)) out.push(value);
    if (out.length >= MAX_CANDIDATES) break;
  }
  return out;
}

/** Whether a Cookie header names the session cookie at all (else a 401 asks for the admin token instead). */
export function hasSessionCookie(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  return (Array.isArray(header) ? header.join(';') : header).split(';').some((part) => part.split('=', 1)[0]!.trim() === SESSION_COOKIE);
}

/**
 * The Set-Cookie value for a session: HttpOnly (no script reads it), SameSite=Strict (no other
 * site's page sends it), Secure when the browser reaches the server over https.
 */
export function sessionCookie(secret: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${secret}; Path=/; Max-Age=${SESSION_MAX_AGE_S}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** The Set-Cookie value that removes the session cookie. */
export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}
