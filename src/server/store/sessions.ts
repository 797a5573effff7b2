import type { Db } from '../db/index.js';

export interface SessionRow {
  secret_hash: string;
  created_at: string;
  last_used_ms: number;
  expires_ms: number;
}

/** All SQL on the `sessions` table (web UI sign-ins, by the hash of their secret). */
export class SessionStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      // Inserts a session.
      insert: db.prepare<[SessionRow]>(
        'INSERT INTO sessions (secret_hash, created_at, last_used_ms, expires_ms) VALUES (@secret_hash, @created_at, @last_used_ms, @expires_ms)',
      ),
      // Returns the session with this hash that has not expired by `now`, or undefined.
      live: db.prepare<[string, number], SessionRow>('SELECT * FROM sessions WHERE secret_hash = ? AND expires_ms > ?'),
      // Marks a session used at `last_used_ms`, valid until `expires_ms`.
      touch: db.prepare<[{ secret_hash: string; last_used_ms: number; expires_ms: number }]>(
        'UPDATE sessions SET last_used_ms = @last_used_ms, expires_ms = @expires_ms WHERE secret_hash = @secret_hash',
      ),
      // Deletes a session; returns the number of rows deleted (0 or 1).
      remove: db.prepare<[string]>('DELETE FROM sessions WHERE secret_hash = ?'),
      // Deletes every session; returns the number deleted.
      removeAll: db.prepare<[]>('DELETE FROM sessions'),
      // Deletes the sessions expired by `now`; returns the number deleted.
      prune: db.prepare<[number]>('DELETE FROM sessions WHERE expires_ms <= ?'),
    };
  }

  insert(row: SessionRow): void {
    this.stmts.insert.run(row);
  }

  live(secretHash: string, now: number): SessionRow | undefined {
    return this.stmts.live.get(secretHash, now);
  }

  touch(secretHash: string, lastUsedMs: number, expiresMs: number): void {
    this.stmts.touch.run({ secret_hash: secretHash, last_used_ms: lastUsedMs, expires_ms: expiresMs });
  }

  remove(secretHash: string): boolean {
    return this.stmts.remove.run(secretHash).changes > 0;
  }

  removeAll(): number {
    return this.stmts.removeAll.run().changes;
  }

  prune(now: number): number {
    return this.stmts.prune.run(now).changes;
  }
}
