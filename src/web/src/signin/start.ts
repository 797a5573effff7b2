import { SIGNIN_FRAGMENT } from '../../../shared/session.js';
import { ApiFailure } from '../lib/api.js';
import { sessionApi } from '../lib/session-api.js';
import { session } from '../lib/session.svelte.js';

/**
 * The code of a one-click sign-in link (`/#signin=<code>`), taken out of the address bar before
 * anything else happens, so it is neither kept in the history nor shown to whoever looks at the
 * screen; undefined when the page was opened without one.
 */
export function takeSignInCode(): string | undefined {
  if (!location.hash) return undefined;
  const code = new URLSearchParams(location.hash.slice(1)).get(SIGNIN_FRAGMENT);
  if (code === null) return undefined;
  history.replaceState(history.state, '', location.pathname + location.search);
  return code || undefined;
}

/**
 * How the app learns whether it is signed in: with a link's code, by signing in with it; else (or
 * when the code was refused: a browser that already has a session stays signed in) by asking.
 * Resolves with the link's refusal to show on the sign-in form, if any; rejects when the server
 * cannot answer at all.
 */
export async function startSession(code: string | undefined): Promise<string | undefined> {
  let refusal: string | undefined;
  if (code !== undefined) {
    try {
      session.apply(await sessionApi.signIn({ code }));
      return undefined;
    } catch (err) {
      if (!(err instanceof ApiFailure) || err.status === 0) throw err;
      refusal = err.message;
    }
  }
  session.apply(await sessionApi.get());
  return session.signedIn ? undefined : refusal;
}
