import crypto from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { tokenMatches } from '../secrets.js';
import type { SessionRow, SessionStore } from '../store/sessions.js';
import { SESSION_MAX_AGE_S, sessionCookieValues } from './cookies.js';

const SESSION_TTL_MS = SESSION_MAX_AGE_S * 1000;
/** However often it is renewed, a session ends this long after its sign-in: a stolen cookie kept in use does not live for ever. */
export const SESSION_LIFETIME_MS = 90 * 24 * 3600 * 1000;
/** A session's last use is written at most this often: a browser's every request would otherwise be a write. */
const TOUCH_EVERY_MS = 60_000;
/** What the CSRF token is an HMAC of, keyed by the session's secret; a new label would end every page's token at once. */
const CSRF_LABEL = 'lazyaf csrf v1';
/** The longest delay a Node timer takes (about 24.8 days); a watch longer than that looks again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The web UI's signed-in browsers. A session is a random secret in the browser's cookie and, in
 * SQLite, the secret's HMAC-SHA-256 keyed with the admin token: sessions survive a restart, a copy
 * of the database signs no one in, and a new admin token ends every session at once. Its CSRF
 * token is derived from the secret, so it needs no storage of its own and dies with the session.
 */
export class Sessions {
  /** What to stop when a session ends (its open event streams), by the secret's hash. */
  private readonly watchers = new Map<string, Set<() => void>>();

  constructor(
    private readonly store: SessionStore,
    private readonly adminToken: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** What the store keeps of a secret. */
  private hash(secret: string): string {
    return crypto.createHmac('sha256', this.adminToken).update(secret).digest('hex');
  }

  /** The live session with this hash; none when it expired or the store can no longer say (closed at shutdown), so a watch fails closed. */
  private liveOrNone(hash: string): SessionRow | undefined {
    try {
      return this.store.live(hash, this.now());
    } catch {
      return undefined;
    }
  }

  /** A new session: returns its secret, for the cookie only. */
  start(): string {
    const secret = crypto.randomBytes(32).toString('base64url');
    const now = this.now();
    this.store.insert({ secret_hash: this.hash(secret), created_at: new Date(now).toISOString(), last_used_ms: now, expires_ms: now + SESSION_TTL_MS });
    return secret;
  }

  /**
   * The live session a Cookie header carries: its secret, the secret's hash and its row. The
   * session is marked used; `renew` also gives it its 30 days again, up to 90 days from its
   * sign-in. A row whose sign-in time cannot be read is not renewed: it ends at the expiry it has.
   */
  private lookup(cookieHeader: string | string[] | undefined, renew: boolean): { secret: string; hash: string; row: SessionRow } | undefined {
    const now = this.now();
    for (const secret of sessionCookieValues(cookieHeader)) {
      const hash = this.hash(secret);
      const row = this.store.live(hash, now);
      if (!row) continue;
      if (renew) {
        const cap = Date.parse(row.created_at) + SESSION_LIFETIME_MS;
        this.store.touch(hash, now, Number.isFinite(cap) ? Math.min(now + SESSION_TTL_MS, cap) : row.expires_ms);
      } else if (now - row.last_used_ms >= TOUCH_EVERY_MS) {
        this.store.touch(hash, now, row.expires_ms);
      }
      return { secret, hash, row };
    }
    return undefined;
  }

  /** The secret of the live session a Cookie header carries, or undefined; the session is marked used. */
  find(cookieHeader: string | string[] | undefined): string | undefined {
    return this.lookup(cookieHeader, false)?.secret;
  }

  /** As `find`, and gives the session its 30 days again, up to 90 days from its sign-in (the browser gets its cookie again with it). */
  findAndRenew(cookieHeader: string | string[] | undefined): string | undefined {
    return this.lookup(cookieHeader, true)?.secret;
  }

  /** Ends a session: its cookie stops working, and what was watching it is told. */
  end(secret: string): void {
    const hash = this.hash(secret);
    this.store.remove(hash);
    for (const onEnd of [...(this.watchers.get(hash) ?? [])]) onEnd();
  }

  /** Ends every session (a cookie may have leaked): returns how many there were. */
  endAll(): number {
    const ended = this.store.removeAll();
    const watchers = [...this.watchers.values()];
    this.watchers.clear();
    for (const set of watchers) for (const onEnd of [...set]) onEnd();
    return ended;
  }

  /**
   * Calls `onEnd` when the session ends: by sign-out (its own or everyone's) or when it expires
   * unused (an open stream is not a use). Returns the function that stops watching.
   */
  watch(secret: string, onEnd: () => void): () => void {
    const hash = this.hash(secret);
    return this.watchLive(hash, this.liveOrNone(hash), onEnd);
  }

  /** `watch` for the session with this hash, whose row (when live) was just read. */
  private watchLive(hash: string, row: SessionRow | undefined, onEnd: () => void): () => void {
    const set = this.watchers.get(hash) ?? new Set();
    let timer: NodeJS.Timeout | undefined;
    const stop = () => {
      clearTimeout(timer);
      set.delete(ended);
      if (set.size === 0 && this.watchers.get(hash) === set) this.watchers.delete(hash);
    };
    const ended = () => {
      stop();
      onEnd();
    };
    // Wakes at the expiry last seen; a session renewed meanwhile is watched on to its new expiry.
    const expiresIn = (ms: number) => {
      timer = setTimeout(
        () => {
          const current = this.liveOrNone(hash);
          if (current) expiresIn(current.expires_ms - this.now());
          else ended();
        },
        Math.min(Math.max(ms, 0), MAX_TIMER_MS),
      ).unref();
    };
    if (!row) {
      queueMicrotask(onEnd);
      return () => {};
    }
    set.add(ended);
    this.watchers.set(hash, set);
    expiresIn(row.expires_ms - this.now());
    return stop;
  }

  /**
   * For a long answer (an event stream, a followed log): calls `onEnd` when the session that let
   * the request in ends. Only a request without an Authorization header was let in by its cookie
   * (access.ts); for one with a token this watches nothing. Returns the function that stops watching.
   */
  watchRequest(headers: IncomingHttpHeaders, onEnd: () => void): () => void {
    const found = headers.authorization === undefined ? this.lookup(headers.cookie, false) : undefined;
    return found ? this.watchLive(found.hash, found.row, onEnd) : () => {};
  }

  /** Deletes expired sessions; returns how many. */
  prune(): number {
    return this.store.prune(this.now());
  }

  /** The CSRF token a session's pages send on every write. */
  csrfToken(secret: string): string {
    return crypto.createHmac('sha256', secret).update(CSRF_LABEL).digest('base64url');
  }

  /** Whether a presented CSRF header is the session's token (in constant time). */
  csrfMatches(secret: string, presented: string | string[] | undefined): boolean {
    return typeof presented === 'string' && tokenMatches(presented, this.csrfToken(secret));
  }
}
