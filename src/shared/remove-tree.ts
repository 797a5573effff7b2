import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Removing what a job leaves behind. A job owns its files (in bubblewrap it runs as the runner's
 * own user), so it can close a directory to everyone but root (`chmod 000`, or 0500 so nothing in
 * it can be removed): a runner that is not root then fails to remove its checkout, and so does a
 * server removing a pool slot's work dir. Its owner can always open it again, which is what
 * `restoreAccess` does before a removal. What even that cannot fix (another user's directory, an
 * immutable file) is moved aside, so that a fresh directory takes its place.
 */

/** Far beyond any checkout: the walk ends there, so a job cannot make it endless. */
const MAX_ENTRIES = 2_000_000;

/** Prefix of a directory moved aside by `discardTree`: the removal of such leftovers is retried later. */
export const DISCARDED_PREFIX = '.discarded-';

/**
 * Gives the owner back read, write and search on `root` and every directory below it (u+rwx), at
 * most `maxEntries` entries. Links are never followed: an entry is changed only when lstat says it
 * is a directory. What it cannot open or change (not its owner's) is left as it is.
 */
export async function restoreAccess(root: string, maxEntries = MAX_ENTRIES): Promise<void> {
  const stack = [root];
  let seen = 0;
  while (stack.length > 0 && seen < maxEntries) {
    const dir = stack.pop()!;
    if (!(await openToOwner(dir))) continue;
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch {
      continue;
    }
    seen += names.length;
    for (const name of names) stack.push(path.join(dir, name));
  }
}

/**
 * Gives the owner read, write and search on `dir` (u+rwx) when it lacks them; false when `dir` is
 * no directory (a link is never followed: lstat decides) or cannot be changed. While the job still
 * runs it could swap the directory for a link between the two calls: chmod would then follow it,
 * and could only add owner bits to a file of the runner's own user (root never needs this).
 */
export async function openToOwner(dir: string): Promise<boolean> {
  try {
    const stat = await fs.lstat(dir);
    if (!stat.isDirectory()) return false;
    if ((stat.mode & 0o700) !== 0o700) await fs.chmod(dir, (stat.mode & 0o7777) | 0o700);
    return true;
  } catch {
    return false;
  }
}

/** Removes `dir` and everything below it, opening what a job closed first; throws when it still cannot. */
export async function removeTree(dir: string): Promise<void> {
  try {
    return await fs.rm(dir, { recursive: true, force: true });
  } catch {
    // EACCES on a closed directory, EPERM (or, from Node's rm, ENOTDIR) on an immutable file.
  }
  await restoreAccess(dir);
  await fs.rm(dir, { recursive: true, force: true });
}

/**
 * Moves `dir` aside, within its own parent (a rename that needs nothing of what is inside it), so
 * its path is free for a fresh one, then tries to remove it. Resolves once it is out of the way;
 * `onLeft` hears why it could not be removed (it stays as `.discarded-*` beside `dir`).
 */
export async function discardTree(dir: string, onLeft?: (aside: string, why: string) => void): Promise<void> {
  const aside = path.join(path.dirname(dir), `${DISCARDED_PREFIX}${path.basename(dir)}-${crypto.randomBytes(4).toString('hex')}`);
  try {
    await fs.rename(dir, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  await removeTree(aside).catch((err: Error) => onLeft?.(aside, err.message));
}

/** Removes `dir`, or, when that fails, moves it aside (see discardTree): either way its path is free afterwards. */
export async function clearTree(dir: string, onLeft?: (aside: string, why: string) => void): Promise<void> {
  try {
    await removeTree(dir);
  } catch {
    await discardTree(dir, onLeft);
  }
}

/** Removes what `discardTree` left in `parent` earlier, as far as it can now. */
export async function removeDiscarded(parent: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(parent);
  } catch {
    return;
  }
  for (const name of names) if (name.startsWith(DISCARDED_PREFIX)) await removeTree(path.join(parent, name)).catch(() => {});
}
