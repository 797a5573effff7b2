/**
 * The names a browser session and the web UI agree on with the server. No typebox here: the web UI
 * imports this module at run time, and its bundle should not carry a schema library.
 */

/** The cookie a signed-in browser holds (HttpOnly, SameSite=Strict): the API and the event stream accept it like the admin token. */
export const SESSION_COOKIE = 'lazyaf_session';
/** With a session cookie, every request but GET and HEAD carries the session's CSRF token in this header. */
export const CSRF_HEADER = 'x-lazyaf-csrf';
/** The one-click sign-in link is `<server>/#signin=<code>`: a fragment never reaches a server or its request log. */
export const SIGNIN_FRAGMENT = 'signin';
