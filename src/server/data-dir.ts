import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/** Directories whose files are programs the server runs (git hooks): owner-only, but executable. */
const EXECUTABLE_DIRS = new Set(['hooks']);

/**
 * Makes the data dir owner-only even when it already existed, or a permissive umask made it:
 * the dir and its subdirectories 0700, its files 0600 (the database holds remote credentials,
 * the token files are the tokens), hooks 0700. Deeper content (bare repos) sits behind those
 * 0700 directories. Symlinks are left alone: chmod would follow them out of the data dir.
 */
export function restrictDataDir(dataDir: string): void {
  fs.chmodSync(dataDir, 0o700);
  for (const entry of fs.readdirSync(dataDir, { withFileTypes: true })) {
    const p = path.join(dataDir, entry.name);
    if (entry.isFile()) fs.chmodSync(p, 0o600);
    if (!entry.isDirectory()) continue;
    fs.chmodSync(p, 0o700);
    if (!EXECUTABLE_DIRS.has(entry.name)) continue;
    for (const inner of fs.readdirSync(p, { withFileTypes: true })) if (inner.isFile()) fs.chmodSync(path.join(p, inner.name), 0o700);
  }
}

/** Another server holds the data dir: the server's one line at start. */
export class DataDirInUseError extends Error {}

/**
 * Takes the data dir for this server's life, or throws a DataDirInUseError naming the server that
 * holds it. Two servers on one data dir each keep a pool whose runners replace the other's
 * registrations (a job was lost three times so), and each would clear what it takes for the
 * other's leftovers. The lock is SQLite's own lock on `server.lock`, held exclusive until the
 * connection closes: a POSIX record lock, which the kernel drops when the process dies however it
 * dies, so it is never stale and a reused pid holds nothing. (Node has no flock; a pid file alone
 * needs a guess at whether its pid is still that server, and two starts can both take over one
 * stale file.) `server.pid` only names the holder in the refusal. Returns the release.
 */
export function lockDataDir(dataDir: string): () => void {
  const lockFile = path.join(dataDir, 'server.lock');
  const pidFile = path.join(dataDir, 'server.pid');
  fs.closeSync(fs.openSync(lockFile, 'a', 0o600));
  const lock = new Database(lockFile, { timeout: 0 });
  try {
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.pragma('journal_mode = OFF');
    // The first write takes the exclusive lock; in this locking mode it is kept until close.
    lock.pragma(`user_version = ${process.pid}`);
  } catch (err) {
    lock.close();
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
    throw new DataDirInUseError(`the data dir ${dataDir} is in use by another lazyaf server (${holderOf(pidFile)})`);
  }
  fs.writeFileSync(pidFile, `${process.pid}\n`, { mode: 0o600 });
  return () => {
    if (holderOf(pidFile) === `pid ${process.pid}`) fs.rmSync(pidFile, { force: true });
    lock.close();
  };
}

function holderOf(pidFile: string): string {
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    if (Number.isSafeInteger(pid) && pid > 0) return `pid ${pid}`;
  } catch {
    // Not written yet, or removed as it closed.
  }
  return 'pid unknown';
}
