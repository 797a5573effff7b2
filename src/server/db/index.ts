import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

export type Db = Database.Database;

/** Numbered SQL files at the package root; the same folder serves `src/` (tsx) and `dist/`. */
const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/', import.meta.url));

export function openDb(file: string): Db {
  // Created owner-only before SQLite sees it: SQLite gives its -wal and -shm files the database's mode.
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  const db = new Database(file);
  // Lets retention give the pages it frees back to the file system (`PRAGMA incremental_vacuum`).
  // It takes only on a new, empty database; an older one keeps reusing its free pages for new rows
  // (the README says how to convert it, with the server stopped).
  db.pragma('auto_vacuum = INCREMENTAL');
  db.pragma('journal_mode = WAL');
  // NORMAL is durable across process crashes in WAL mode; only a power loss can drop the last commits.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

interface Migration {
  id: number;
  name: string;
  sql: string;
}

function readMigrations(): Migration[] {
  return fs
    .readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ id: Number(f.slice(0, 3)), name: f, sql: fs.readFileSync(path.join(MIGRATIONS_DIR, f), 'utf8') }));
}

/** Applies each pending migration with its ledger row in the same transaction. */
export function migrate(db: Db): number[] {
  db.exec('CREATE TABLE IF NOT EXISTS migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const applied = new Set(db.prepare('SELECT id FROM migrations').pluck().all() as number[]);
  const done: number[] = [];
  for (const m of readMigrations()) {
    if (applied.has(m.id)) continue;
    // IMMEDIATE takes the write lock first, so two servers starting at once cannot both apply it.
    db.transaction(() => {
      if (db.prepare('SELECT 1 FROM migrations WHERE id = ?').get(m.id)) return;
      db.exec(m.sql);
      db.prepare('INSERT INTO migrations (id, name, applied_at) VALUES (?, ?, ?)').run(m.id, m.name, new Date().toISOString());
      done.push(m.id);
    }).immediate();
  }
  return done;
}
