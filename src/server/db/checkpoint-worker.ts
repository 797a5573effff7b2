import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

/**
 * Runs WAL checkpoints on its own connection and thread. A checkpoint copies the WAL into the
 * database file and fsyncs it: tens of milliseconds on a slow disk. Left to SQLite's automatic
 * checkpoint, that cost lands inside whichever request happens to commit the 1000th page.
 */
const { file, intervalMs } = workerData as { file: string; intervalMs: number };
const db = new Database(file);
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try {
    // PASSIVE never waits for the server's writers; what it cannot copy now, it copies next time.
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // The database is busy or closing: try again next interval.
  }
}, intervalMs);
parentPort?.on('message', (msg) => {
  if (msg === 'stop') {
    clearInterval(timer);
    db.close();
    parentPort?.close();
  }
});
