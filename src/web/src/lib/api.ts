import { CSRF_HEADER } from '../../../shared/session.js';
import { session } from './session.svelte.js';

/** A refusal or failure of the API: the HTTP status (0 when the server could not be reached) and the server's one-line message. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * Calls the API with the session cookie (same origin) and, for writes, the session's CSRF token.
 * Resolves with the parsed JSON body (undefined for 204); rejects with an `ApiFailure` carrying the
 * server's message. A 401 means the session ended: the app shows the sign-in form again.
 */
export async function api<T>(method: Method, path: string, body?: unknown, opts: { signal?: AbortSignal } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && session.csrf) headers[CSRF_HEADER] = session.csrf;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: opts.signal,
    });
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    throw new ApiFailure(0, 'cannot reach the lazyaf server');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const message = (parsed as { message?: unknown } | undefined)?.message;
    if (res.status === 401 && !path.startsWith('/api/session')) session.signedOut();
    throw new ApiFailure(res.status, typeof message === 'string' ? message : `${res.status} ${res.statusText}`);
  }
  return parsed as T;
}

/** A path segment from user-supplied text (an id, a repo name): always encoded. */
export const seg = (value: string): string => encodeURIComponent(value);
