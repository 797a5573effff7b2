import fs from 'node:fs/promises';
import path from 'node:path';
import { openToOwner } from '../shared/remove-tree.js';

/**
 * The workspace's disk cap. A job writes its checkout on the runner's disk, which no cgroup
 * bounds; the ways to cap it are a file system of its own per workspace (a loop device or a
 * project quota: root only, and a mkfs per runner), or measuring it. This measures: the runner
 * walks the workspace while the job runs and stops the job once it holds more than the cap.
 * Between two walks a job can write past the cap for a moment (at most an interval's worth of
 * disk speed), and RLIMIT_FSIZE (see limits.ts) keeps any single file within it.
 *
 * A walk counts what each entry takes on disk (its blocks), and at least one 4 KiB block per
 * entry, so that a million empty files (inodes) count too; and it stops as soon as the count
 * passes the cap, so a walk is bounded by the cap itself (cap / 4 KiB entries at most). The
 * pause between walks grows with the time a walk takes (20 times it, 2 s at least): a large
 * workspace costs the runner at most about 5% of a core.
 */

const MIN_BLOCK = 4096;
const MIN_INTERVAL_MS = 2000;
const COST_FACTOR = 20;

/** Bytes the tree at `dir` takes on disk, counted until it passes `cap` (then some number above it). Links are not followed. */
export async function diskUsage(dir: string, cap: number): Promise<number> {
  let total = 0;
  const stack = [dir];
  while (stack.length > 0 && total <= cap) {
    const current = stack.pop()!;
    let entries;
    try {
      entries = await fs.readdir(current, { withFileTypes: true });
    } catch (err) {
      // A directory the job closed (chmod 000): its owner, the runner, opens it again to count it.
      if ((err as NodeJS.ErrnoException).code !== 'EACCES') continue;
      if (!(await openToOwner(current))) continue;
      entries = await fs.readdir(current, { withFileTypes: true }).catch(() => []);
    }
    total += MIN_BLOCK;
    for (const entry of entries) {
      const p = path.join(current, entry.name);
      if (entry.isDirectory()) stack.push(p);
      else {
        const st = await fs.lstat(p).catch(() => undefined);
        total += Math.max(MIN_BLOCK, (st?.blocks ?? 0) * 512);
      }
      if (total > cap) break;
    }
  }
  return total;
}

/**
 * Measures `dirs` (the workspace, and an agent's HOME beside it) now and again while the job runs;
 * calls `over` once, with the bytes counted, when together they hold more than `cap`. Returns the stop.
 */
export function watchDisk(dirs: readonly string[], cap: number, over: (bytes: number) => void): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const walk = async () => {
    const started = Date.now();
    let used = 0;
    // A walk that fails (the workspace gone meanwhile) counts nothing; the next one tries again.
    for (const dir of dirs) if (used <= cap) used += await diskUsage(dir, cap - used).catch(() => 0);
    if (stopped) return;
    if (used > cap) return over(used);
    schedule(Math.max(MIN_INTERVAL_MS, (Date.now() - started) * COST_FACTOR));
  };
  const schedule = (ms: number) => (timer = setTimeout(() => void walk(), ms).unref());
  schedule(MIN_INTERVAL_MS);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
