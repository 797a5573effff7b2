import fs from 'node:fs/promises';
import path from 'node:path';
import { formatBytes } from '../shared/job-limits.js';

export interface DataDirSize {
  database: number;
  repos: number;
  sessions: number;
}

/** Bytes of the files under `dir`, symlinks not followed; a missing dir is 0. */
async function treeBytes(dir: string): Promise<number> {
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  let total = 0;
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await treeBytes(p);
    else if (e.isFile())
      total += await fs.stat(p).then(
        (s) => s.size,
        () => 0,
      );
  }
  return total;
}

/** What the data dir holds, by part: the database with its WAL, the bare repos, the agents' session files. */
export async function dataDirSize(dataDir: string): Promise<DataDirSize> {
  const file = (name: string) =>
    fs.stat(path.join(dataDir, name)).then(
      (s) => s.size,
      () => 0,
    );
  const [db, wal, shm, repos, sessions] = await Promise.all([
    file('lazyaf.db'),
    file('lazyaf.db-wal'),
    file('lazyaf.db-shm'),
    treeBytes(path.join(dataDir, 'repos')),
    treeBytes(path.join(dataDir, 'sessions')),
  ]);
  return { database: db + wal + shm, repos, sessions };
}

/** `12.5 MiB (database 1.1 MiB, repos 11.4 MiB, sessions 0 bytes)`. */
export function describeDataDirSize(size: DataDirSize): string {
  const total = size.database + size.repos + size.sessions;
  return `${formatBytes(total)} (database ${formatBytes(size.database)}, repos ${formatBytes(size.repos)}, sessions ${formatBytes(size.sessions)})`;
}
