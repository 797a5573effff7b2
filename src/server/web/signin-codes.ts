import crypto from 'node:crypto';
import { SIGNIN_FRAGMENT } from '../../shared/session.js';
import { hashToken } from '../secrets.js';

/** How long a sign-in link works if nobody uses it. */
const CODE_TTL_MS = 24 * 3600 * 1000;
/** Links outstanding at once; past this the oldest stops working (only an admin makes links). */
const MAX_CODES = 100;

/**
 * One-time codes of the one-click sign-in links (`<server>/#signin=<code>`). They live in memory
 * only, by their SHA-256: a restart ends them all, which is what a person who restarts the server
 * to cut off a link expects. A code works once, for 24 hours.
 */
export class SignInCodes {
  /** Hash -> expiry (ms), oldest first (a Map keeps insertion order). */
  private readonly codes = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  issue(): { code: string; expiresAt: Date } {
    const now = this.now();
    for (const [hash, expires] of this.codes) if (expires <= now) this.codes.delete(hash);
    for (const hash of this.codes.keys()) {
      if (this.codes.size < MAX_CODES) break;
      this.codes.delete(hash);
    }
    const code = crypto.randomBytes(24).toString('base64url');
    this.codes.set(hashToken(code), now + CODE_TTL_MS);
    return { code, expiresAt: new Date(now + CODE_TTL_MS) };
  }

  /** Uses a code up: true if it was outstanding and unexpired. */
  redeem(code: string): boolean {
    const hash = hashToken(code);
    const expires = this.codes.get(hash);
    this.codes.delete(hash);
    return expires !== undefined && expires > this.now();
  }
}

/** The link a person opens: the code rides in the fragment, which a browser never sends to a server. */
export function signInLink(base: string, code: string): string {
  return `${base}/#${SIGNIN_FRAGMENT}=${code}`;
}
