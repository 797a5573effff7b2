// A build's outputs beside those of earlier builds (bundle-runner.js): what a build writes is
// marked as written now, what no build has written for a week is removed, and outputs.json lists
// what this build wrote.
import fs from 'node:fs';
import path from 'node:path';

export const OUTPUTS_FILE = 'outputs.json';
const WEEK_MS = 7 * 24 * 3600 * 1000;

/** Keeps `current` (names in `dir`) and the earlier files written within `maxAgeMs`; returns the names removed. */
export function pruneEarlierOutputs(dir, current, now = Date.now(), maxAgeMs = WEEK_MS) {
  const keep = new Set([...current, OUTPUTS_FILE]);
  // esbuild may leave a file it would write the same untouched: its time says when a build last wrote it.
  const at = new Date(now);
  for (const name of current) fs.utimesSync(path.join(dir, name), at, at);
  const removed = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isFile() || keep.has(entry.name)) continue;
    const file = path.join(dir, entry.name);
    if (now - fs.statSync(file).mtimeMs > maxAgeMs) {
      fs.rmSync(file, { force: true });
      removed.push(entry.name);
    }
  }
  fs.writeFileSync(path.join(dir, OUTPUTS_FILE), `${JSON.stringify([...current].sort(), null, 2)}\n`);
  return removed.sort();
}

/** The names the last build wrote in `dir`, or undefined before a build that lists them. */
export function currentOutputs(dir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, OUTPUTS_FILE), 'utf8'));
  } catch (err) {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  }
}
