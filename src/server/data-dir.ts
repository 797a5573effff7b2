import fs from 'node:fs';
import path from 'node:path';

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
