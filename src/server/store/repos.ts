import crypto from 'node:crypto';
import type { Db } from '../db/index.js';
import type { RepoEnvironment } from '../../shared/environment.js';
import type { JobRow } from './jobs.js';

export interface RepoRow {
  id: string;
  name: string;
  default_branch: string;
  remote_url: string | null;
  created_at: string;
  updated_at: string;
  /** The server's override of the repo's environment, as JSON (environment(id) parses it); null: none. */
  environment: string | null;
  /** Where its pull requests are opened, as JSON (a checked `Forge`); null: guessed from remote_url. */
  forge: string | null;
}

export class NameTakenError extends Error {}

/** A queued or running job of a repo. */
export type ActiveJob = Pick<JobRow, 'id' | 'status' | 'branch_name'>;

/** All SQL on the `repos` table. */
export class RepoStore {
  private readonly byId;
  private readonly byName;
  private readonly all;
  private readonly insertStmt;
  private readonly deleteStmt;
  private readonly activeJobsStmt;
  private readonly setEnvironmentStmt;

  constructor(private readonly db: Db) {
    // Returns the row or undefined.
    this.byId = db.prepare<[string], RepoRow>('SELECT * FROM repos WHERE id = ?');
    // Returns the row or undefined.
    this.byName = db.prepare<[string], RepoRow>('SELECT * FROM repos WHERE name = ?');
    // Returns every repo, oldest first.
    this.all = db.prepare<[], RepoRow>('SELECT * FROM repos ORDER BY created_at, name');
    // Inserts one repo; throws SQLITE_CONSTRAINT_UNIQUE on a name clash.
    this.insertStmt = db.prepare(
      'INSERT INTO repos (id, name, default_branch, remote_url, created_at, updated_at) VALUES (@id, @name, @default_branch, @remote_url, @created_at, @updated_at)',
    );
    // Deletes the repo (its jobs go with it) unless a job of it is queued or running; returns changes = 1 if it did.
    this.deleteStmt = db.prepare<[{ id: string }]>(
      "DELETE FROM repos WHERE id = @id AND NOT EXISTS (SELECT 1 FROM jobs WHERE repo_id = @id AND status IN ('queued', 'running'))",
    );
    // Returns the repo's queued or running jobs (id, status, branch), oldest first.
    this.activeJobsStmt = db.prepare<[string], ActiveJob>(
      "SELECT id, status, branch_name FROM jobs WHERE repo_id = ? AND status IN ('queued', 'running') ORDER BY seq",
    );
    // Sets or clears the override; returns changes = 1 if the repo exists.
    this.setEnvironmentStmt = db.prepare<[{ id: string; environment: string | null; now: string }]>(
      'UPDATE repos SET environment = @environment, updated_at = @now WHERE id = @id',
    );
  }

  get(id: string): RepoRow | undefined {
    return this.byId.get(id);
  }

  /** Finds a repo by id, then by name. */
  find(idOrName: string): RepoRow | undefined {
    return this.byId.get(idOrName) ?? this.byName.get(idOrName);
  }

  list(): RepoRow[] {
    return this.all.all();
  }

  create(input: { name: string; default_branch: string; remote_url: string | null }): RepoRow {
    const now = new Date().toISOString();
    const row: RepoRow = { id: crypto.randomUUID(), ...input, created_at: now, updated_at: now, environment: null, forge: null };
    try {
      const { environment: _none, forge: _noForge, ...columns } = row;
      this.insertStmt.run(columns);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new NameTakenError(input.name);
      throw err;
    }
    return row;
  }

  update(id: string, patch: Partial<Pick<RepoRow, 'name' | 'default_branch' | 'remote_url' | 'forge'>>): RepoRow | undefined {
    const current = this.byId.get(id);
    if (!current) return undefined;
    const next: RepoRow = { ...current, ...patch, updated_at: new Date().toISOString() };
    try {
      // Returns changes = 1.
      this.db
        .prepare(
          'UPDATE repos SET name = @name, default_branch = @default_branch, remote_url = @remote_url, forge = @forge, updated_at = @updated_at WHERE id = @id',
        )
        .run(next);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new NameTakenError(next.name);
      throw err;
    }
    return next;
  }

  /** The server's override of the repo's environment (stored only after the API checked it), or null. */
  environment(id: string): RepoEnvironment | null {
    const json = this.byId.get(id)?.environment;
    return json ? (JSON.parse(json) as RepoEnvironment) : null;
  }

  /** Sets the override (null clears it); false when the repo is gone. */
  setEnvironment(id: string, environment: RepoEnvironment | null): boolean {
    const json = environment === null ? null : JSON.stringify(environment);
    return this.setEnvironmentStmt.run({ id, environment: json, now: new Date().toISOString() }).changes === 1;
  }

  /** Deletes a repo with no queued or running job; false when it has some (or is gone). */
  delete(id: string): boolean {
    return this.deleteStmt.run({ id }).changes === 1;
  }

  /** The jobs that keep a repo from being deleted, and their branches from being landed. */
  activeJobs(id: string): ActiveJob[] {
    return this.activeJobsStmt.all(id);
  }
}
