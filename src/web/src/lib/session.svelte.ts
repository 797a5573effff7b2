import type { SessionState } from '../../../shared/api.js';

/**
 * Whether this browser is signed in. `checked` is false until the server has answered
 * `GET /api/session`; `csrf` is the token every write carries (lib/api.ts).
 */
class Session {
  checked = $state(false);
  signedIn = $state(false);
  csrf = $state<string | null>(null);

  apply(state: SessionState): void {
    this.checked = true;
    this.signedIn = state.signed_in;
    this.csrf = state.csrf_token;
  }

  /** The server refused the cookie (expired, signed out elsewhere, or the server's data was reset). */
  signedOut(): void {
    this.apply({ signed_in: false, csrf_token: null });
  }
}

export const session = new Session();
