import type { Db } from '../db/index.js';
import type { RunnerStatus } from '../../shared/protocol.js';

export interface RunnerRow {
  id: string;
  name: string;
  labels: string;
  token_hash: string;
  status: RunnerStatus;
  pool_id: string | null;
  hostname: string | null;
  version: string | null;
  sandbox: string | null;
  /** JSON array of agent names. */
  agents: string;
  revoked: number;
  registered_at: string;
  last_seen_ms: number;
}

/** All SQL on the `runners` table. */
export class RunnerStore {
  private readonly stmts;
  /**
   * The distinct offers as last read outside a transaction, until a runner comes, is revoked or
   * is deleted (only this class writes the table, and a runner's labels and agents never change).
   * Every submitted job's answer asks for them (noRunnerFor): a scan of the table, ~2 ms at
   * 10,000 runners. Filled only outside a transaction, so it never holds a change that rolls back.
   */
  private offersKept: { labels: string; agents: string }[] | undefined;

  constructor(private readonly db: Db) {
    this.stmts = {
      // Inserts a registered, idle runner.
      insert: db.prepare(`INSERT INTO runners (id, name, labels, token_hash, status, pool_id, hostname, version, sandbox, agents, registered_at, last_seen_ms)
        VALUES (@id, @name, @labels, @token_hash, 'idle', @pool_id, @hostname, @version, @sandbox, @agents, @registered_at, @last_seen_ms)`),
      // Returns the row or undefined.
      get: db.prepare<[string], RunnerRow>('SELECT * FROM runners WHERE id = ?'),
      // Returns the non-revoked runner a token belongs to, or undefined.
      byTokenHash: db.prepare<[string], RunnerRow>('SELECT * FROM runners WHERE token_hash = ? AND revoked = 0'),
      // Returns the newest non-revoked runner the pool started under this id, or undefined.
      byPoolId: db.prepare<[string], RunnerRow>('SELECT * FROM runners WHERE pool_id = ? AND revoked = 0 ORDER BY registered_at DESC LIMIT 1'),
      // Returns a page of the runners that have not been removed (in one status, if given), newest first.
      list: db.prepare<[Record<string, unknown>], RunnerRow>(`SELECT * FROM runners WHERE revoked = 0 AND (@status IS NULL OR status = @status)
        ORDER BY registered_at DESC, id DESC LIMIT @limit OFFSET @offset`),
      // Returns the same, after the (registered_at, id) of the last runner of the page before.
      listAfter: db.prepare<[Record<string, unknown>], RunnerRow>(`SELECT * FROM runners WHERE revoked = 0 AND (@status IS NULL OR status = @status)
        AND (registered_at, id) < (@at, @id) ORDER BY registered_at DESC, id DESC LIMIT @limit`),
      // Marks the runner seen now if its status stays as it is (draining stays whatever it says);
      // returns its status, or undefined when it changes or the runner is revoked. Leaving the
      // status column alone spares SQLite its index: 9 µs against 45 µs for every heartbeat.
      touch: db
        .prepare<[Record<string, unknown>], RunnerStatus>(
          `UPDATE runners SET last_seen_ms = @now WHERE id = @id AND revoked = 0 AND status IN (@status, 'draining') RETURNING status`,
        )
        .pluck(),
      // Marks the runner seen now, with a status; draining is kept until the runner leaves. Returns its status, or undefined when revoked.
      seen: db
        .prepare<[Record<string, unknown>], RunnerStatus>(
          `UPDATE runners SET last_seen_ms = @now, status = CASE WHEN status = 'draining' THEN 'draining' ELSE @status END WHERE id = @id AND revoked = 0
        RETURNING status`,
        )
        .pluck(),
      // Sets a runner's status.
      setStatus: db.prepare('UPDATE runners SET status = @status WHERE id = @id'),
      // Marks silent runners offline; returns their ids.
      markOffline: db
        .prepare<[number], string>("UPDATE runners SET status = 'offline' WHERE revoked = 0 AND status != 'offline' AND last_seen_ms < ? RETURNING id")
        .pluck(),
      // Revokes a runner: its token stops working and it leaves the list.
      revoke: db.prepare("UPDATE runners SET revoked = 1, status = 'offline' WHERE id = ?"),
      // Deletes runners offline or revoked and unseen since before `?` that hold no active attempt; returns their ids.
      prune: db
        .prepare<[number], string>(
          `DELETE FROM runners WHERE (revoked = 1 OR status = 'offline') AND last_seen_ms < ?
        AND NOT EXISTS (SELECT 1 FROM attempts WHERE attempts.runner_id = runners.id AND attempts.active = 1) RETURNING id`,
        )
        .pluck(),
      // Returns the distinct (labels, agents) the registered (not revoked) runners offer: a handful of rows however many runners.
      offers: db.prepare<[], { labels: string; agents: string }>('SELECT DISTINCT labels, agents FROM runners WHERE revoked = 0'),
      // Returns { status, n } per status of the listed runners.
      counts: db.prepare<[], { status: RunnerStatus; n: number }>('SELECT status, COUNT(*) AS n FROM runners WHERE revoked = 0 GROUP BY status'),
    };
  }

  insert(row: Omit<RunnerRow, 'status' | 'revoked'>): void {
    this.offersKept = undefined;
    this.stmts.insert.run(row);
  }

  get(id: string): RunnerRow | undefined {
    return this.stmts.get.get(id);
  }

  byTokenHash(hash: string): RunnerRow | undefined {
    return this.stmts.byTokenHash.get(hash);
  }

  byPoolId(poolId: string): RunnerRow | undefined {
    return this.stmts.byPoolId.get(poolId);
  }

  /** A page of the listed runners, newest first: from the start (skipping `offset`), or after `after`. */
  list(page: { limit: number; offset?: number; status?: RunnerStatus; after?: { registered_at: string; id: string } }): RunnerRow[] {
    const status = page.status ?? null;
    if (page.after) return this.stmts.listAfter.all({ limit: page.limit, status, at: page.after.registered_at, id: page.after.id });
    return this.stmts.list.all({ limit: page.limit, offset: page.offset ?? 0, status });
  }

  /**
   * Marks a runner seen now with `status` (draining is kept); returns the status it has then and
   * whether this changed it, or undefined if it is revoked or gone.
   */
  seen(id: string, status: RunnerStatus, now: number): { status: RunnerStatus; changed: boolean } | undefined {
    const kept = this.stmts.touch.get({ id, status, now });
    if (kept) return { status: kept, changed: false };
    // Neither its status nor draining: the runner's status changes (unless it is revoked).
    const set = this.stmts.seen.get({ id, status, now });
    return set ? { status: set, changed: true } : undefined;
  }

  setStatus(id: string, status: RunnerStatus): void {
    this.stmts.setStatus.run({ id, status });
  }

  markOffline(silentSince: number): string[] {
    return this.stmts.markOffline.all(silentSince);
  }

  prune(unseenSince: number): string[] {
    const pruned = this.stmts.prune.all(unseenSince);
    if (pruned.length > 0) this.offersKept = undefined;
    return pruned;
  }

  revoke(id: string): void {
    this.offersKept = undefined;
    this.stmts.revoke.run(id);
  }

  offers(): { labels: string; agents: string }[] {
    if (this.offersKept) return this.offersKept;
    const offers = this.stmts.offers.all();
    if (!this.db.inTransaction) this.offersKept = offers;
    return offers;
  }

  counts(): Record<RunnerStatus, number> {
    const out: Record<RunnerStatus, number> = { idle: 0, busy: 0, draining: 0, offline: 0 };
    for (const { status, n } of this.stmts.counts.all()) out[status] = n;
    return out;
  }
}
