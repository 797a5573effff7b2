import type { Db } from '../db/index.js';

export interface SecretRow {
  name: string;
  /** NULL: the secret is for every repo. */
  repo_id: string | null;
  value: string;
  created_at: string;
  updated_at: string;
}

/** What may be shown of a secret: everything but its value. */
export type SecretInfo = Omit<SecretRow, 'value'> & { repo_name: string | null };

/** All SQL on the `secrets` table (named values the server hands to jobs, never shows). */
export class SecretStore {
  private readonly stmts;
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
    this.stmts = {
      // Sets the value of an existing secret; returns the number of rows changed (0 or 1).
      update: db.prepare<[{ name: string; repo_id: string | null; value: string; now: string }]>(
        'UPDATE secrets SET value = @value, updated_at = @now WHERE name = @name AND repo_id IS @repo_id',
      ),
      // Inserts a secret.
      insert: db.prepare<[{ name: string; repo_id: string | null; value: string; now: string }]>(
        'INSERT INTO secrets (name, repo_id, value, created_at, updated_at) VALUES (@name, @repo_id, @value, @now, @now)',
      ),
      // Returns every secret without its value, with its repo's name, by name then repo.
      list: db.prepare<[], SecretInfo>(
        'SELECT s.name, s.repo_id, r.name AS repo_name, s.created_at, s.updated_at FROM secrets s LEFT JOIN repos r ON r.id = s.repo_id ORDER BY s.name, s.repo_id',
      ),
      // Returns, without values, what a job of repo `repo_id` may be given: the repo's own secrets and the global ones it does not replace.
      listFor: db.prepare<[{ repo_id: string }], SecretInfo>(
        `SELECT s.name, s.repo_id, r.name AS repo_name, s.created_at, s.updated_at FROM secrets s LEFT JOIN repos r ON r.id = s.repo_id
         WHERE s.repo_id = @repo_id OR (s.repo_id IS NULL AND NOT EXISTS (SELECT 1 FROM secrets o WHERE o.name = s.name AND o.repo_id = @repo_id))
         ORDER BY s.name`,
      ),
      // Returns the value of `name` for repo `repo_id`: the repo's own first, else the global one; no row if neither exists.
      lookup: db.prepare<[{ name: string; repo_id: string }], Pick<SecretRow, 'repo_id' | 'value'>>(
        'SELECT repo_id, value FROM secrets WHERE name = @name AND (repo_id = @repo_id OR repo_id IS NULL) ORDER BY repo_id IS NULL LIMIT 1',
      ),
      // Deletes one secret; returns the number of rows deleted (0 or 1).
      remove: db.prepare<[{ name: string; repo_id: string | null }]>('DELETE FROM secrets WHERE name = @name AND repo_id IS @repo_id'),
      // Returns the name and value of the global secrets and of those of repo `repo_id` (NULL: global only).
      values: db.prepare<[{ repo_id: string | null }], Pick<SecretRow, 'name' | 'repo_id' | 'value'>>(
        'SELECT name, repo_id, value FROM secrets WHERE repo_id IS NULL OR repo_id = @repo_id',
      ),
      // Returns every stored secret's name and value (for redaction).
      allValues: db.prepare<[], { name: string; value: string }>('SELECT name, value FROM secrets'),
    };
  }

  /** Creates or replaces a secret; returns whether it existed. */
  set(name: string, repoId: string | null, value: string, now = new Date().toISOString()): boolean {
    const row = { name, repo_id: repoId, value, now };
    return this.db.transaction(() => {
      if (this.stmts.update.run(row).changes > 0) return true;
      this.stmts.insert.run(row);
      return false;
    })();
  }

  list(): SecretInfo[] {
    return this.stmts.list.all();
  }

  /** The secrets a job of `repoId` may be given, without values: its own, and the global ones it does not replace. */
  listFor(repoId: string): SecretInfo[] {
    return this.stmts.listFor.all({ repo_id: repoId });
  }

  /** The value of `name` for repo `repoId` (its own over the global one) and whether it is the repo's own; undefined if neither exists. */
  lookup(repoId: string, name: string): { value: string; own: boolean } | undefined {
    const row = this.stmts.lookup.get({ name, repo_id: repoId });
    return row && { value: row.value, own: row.repo_id !== null };
  }

  remove(name: string, repoId: string | null): boolean {
    return this.stmts.remove.run({ name, repo_id: repoId }).changes > 0;
  }

  /** The values a job of repo `repoId` may get, by name: a repo's own value wins over the global one. */
  valuesFor(repoId: string | null): Record<string, string> {
    const out: Record<string, string> = {};
    const rows = this.stmts.values.all({ repo_id: repoId });
    for (const row of rows) if (row.repo_id === null) out[row.name] = row.value;
    for (const row of rows) if (row.repo_id !== null) out[row.name] = row.value;
    return out;
  }

  /** Every stored name and value, whatever its scope: the server hides the secrets among them (secretsOf). */
  allValues(): [name: string, value: string][] {
    return this.stmts.allValues.all().map((r) => [r.name, r.value]);
  }
}
