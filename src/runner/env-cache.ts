import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { removeTree } from '../shared/remove-tree.js';
import { lstat } from './files.js';

/**
 * The runner's cache of what a repo's setup leaves (`node_modules`), per repo and key, under
 * `<workdir>/env-cache/<repo id>/<key>/`: `files/` holds a copy of each cache path as setup left
 * it, `paths.json` which of them setup made. Only the runner writes it, from the checkout right
 * after a setup that passed, once nothing of the job runs any more and before the job's command
 * starts: nothing a command or agent does reaches it. Like the repo cache, it lies in the work
 * dir, which no sandboxed job sees and which the runner image's job user cannot enter.
 *
 * Copies are real copies (`cp -a`, with copy-on-write clones where the file system has them, which
 * are copies too): a hard link would let a job that writes into a restored file change the cache.
 * A job is handed a spare copy made beforehand, by rename, so its start does not wait for a copy.
 * Every path is the repo's (hostile): relative, inside the checkout, and never reached through a
 * link that leads out of it, in either direction.
 */

/** Keys kept per repo: a repo's branches may differ in their lockfile; older keys go first. */
export const ENV_CACHE_KEEP = 3;

const run = promisify(execFile);

/** A cache path or key file the runner refuses; the message is one line for the job's error. */
export class CachePathError extends Error {}

/** Where a job's copies go to be removed; emptied at the runner's start too. */
export function envCacheTrash(workdir: string): string {
  return path.join(workdir, 'env-cache', '.trash');
}

export function envCacheRoot(workdir: string, repoId: string): string {
  return path.join(workdir, 'env-cache', repoId);
}

/**
 * The paths as they will be used: normalized, each checked (relative, no `..`, not the checkout
 * itself nor its `.git`), and a path inside another left out (the outer one's copy holds it).
 */
export function checkedPaths(paths: readonly string[], what = 'cache path'): string[] {
  const out: string[] = [];
  for (const raw of paths) {
    const p = path.posix.normalize(raw).replace(/\/+$/, '');
    const parts = p.split('/');
    if (raw.length === 0 || raw.includes('\0') || path.posix.isAbsolute(raw) || raw.split('/').includes('..'))
      throw new CachePathError(`${what} ${JSON.stringify(raw.slice(0, 200))} must be a relative path inside the checkout`);
    if (p === '.' || p === '' || parts[0] === '.git') throw new CachePathError(`${what} ${JSON.stringify(raw.slice(0, 200))} names the checkout or its .git`);
    out.push(p);
  }
  const unique = [...new Set(out)];
  return unique.filter((p) => !unique.some((q) => q !== p && p.startsWith(`${q}/`)));
}

/**
 * Keeps the cache paths out of what the job commits (`git add -A`, the runner's commit of what the
 * job left): they are the checkout's prepared state, not its work, whether or not the repo's
 * `.gitignore` says so. Written to the checkout's own `.git/info/exclude`, which the runner makes
 * anew for each job; a file the repo tracks there is still committed when changed.
 */
export function excludeFromCommits(checkout: string, paths: readonly string[]): void {
  const info = path.join(checkout, '.git', 'info');
  fs.mkdirSync(info, { recursive: true });
  // `/` anchors each to the checkout's root; glob characters in a path are escaped.
  const lines = checkedPaths(paths).map((p) => `/${p.replace(/[\\*?[\]!#]/g, (c) => `\\${c}`)}`);
  fs.appendFileSync(path.join(info, 'exclude'), `\n# the repo's environment cache (.lazyaf.yml)\n${lines.join('\n')}\n`);
}

/**
 * The cache key: sha256 over the setup commands, the cache paths and the content of each key file
 * (a missing one counts as missing). A key file must be a regular file inside the checkout: one
 * whose links lead out of it would let the repo learn about the runner's files through the key.
 */
export async function cacheKey(checkout: string, setup: readonly string[], paths: readonly string[], keyFiles: readonly string[]): Promise<string> {
  const hash = crypto.createHash('sha256');
  hash.update(JSON.stringify({ v: 1, setup, paths: checkedPaths(paths) }));
  const root = fs.realpathSync(checkout);
  for (const name of checkedPaths(keyFiles, 'cache key file')) {
    hash.update(`\0${JSON.stringify(name)}\0`);
    const file = path.join(checkout, name);
    if (!lstat(file)) {
      // Not even whether a file exists outside the checkout may show in the key.
      let above = path.dirname(file);
      while (!lstat(above)) above = path.dirname(above);
      realpathInside(root, above, 'cache key file', name);
      hash.update('missing');
      continue;
    }
    const real = realpathInside(root, file, 'cache key file', name);
    if (!fs.statSync(real).isFile()) throw new CachePathError(`cache key file ${JSON.stringify(name)} is not a regular file`);
    hash.update('file\0');
    for await (const chunk of fs.createReadStream(real)) hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

/**
 * Spares. Each entry may hold a ready copy of its `files/` at `<entry>/spare/`, which a restore
 * hands to its job by renaming (constant time whatever the size of `node_modules`) instead of
 * copying. A spare is made in a temporary folder renamed into place, so it is whole or absent.
 * After the job, its copy is moved out of the checkout and, when the job left it exactly as it was
 * handed over, becomes the entry's spare again: no copy at all while jobs leave their
 * `node_modules` alone. "Exactly": every entry of the tree has the inode, ctime, size, mode, owner
 * and link count it had (`treeDigest`); a change of content, mode, owner or links sets a file's
 * ctime to the kernel's clock, which nobody in a job can set back. Otherwise the copy is deleted
 * and a new spare copied, in the background; and while the last copy of an entry came back
 * changed, a new spare is copied as soon as one is handed out, so a job that changes its
 * `node_modules` every time has the next job's spare made while it runs.
 *
 * `background`: the work going on per entry (a spare being made or checked) or per trashed copy.
 */
const background = new Map<string, Promise<void>>();
/** What each entry's spare was when made (treeDigest), when the runner made it. */
const spareDigests = new Map<string, string>();
/** The entries whose last copy came back changed (or never came back): their spares are made eagerly. */
const changing = new Set<string>();
/** The copies handed to jobs: by checkout, the entry and the digest of the spare it was. */
const handedOut = new Map<string, { entry: string; digest: string }>();

/** Settles when nothing of this work dir's cache goes on in the background (the runner waits before it lets go of its work dir). */
export async function envCacheSettled(workdir: string): Promise<void> {
  const mine = `${path.join(workdir, 'env-cache')}/`;
  await Promise.all([...background].filter(([at]) => at.startsWith(mine)).map(([, p]) => p));
}

/** Runs `work` in the background for `at`, after what already goes on for it. */
function inBackground(at: string, work: () => Promise<void>): void {
  const running: Promise<void> = (background.get(at) ?? Promise.resolve())
    .then(work)
    .catch(() => {})
    .finally(() => {
      if (background.get(at) === running) background.delete(at);
    });
  background.set(at, running);
}

/** Copies `files/` into a new spare, unless the entry has one; a failure (the entry went: evicted, replaced) leaves none. */
async function makeSpare(entry: string, paths: readonly string[]): Promise<void> {
  if (lstat(path.join(entry, 'spare'))) return;
  const tmp = path.join(entry, `.spare-tmp-${crypto.randomBytes(6).toString('hex')}`);
  try {
    await copy(path.join(entry, 'files'), tmp);
    const digest = await treeDigest(tmp, paths);
    fs.renameSync(tmp, path.join(entry, 'spare'));
    spareDigests.set(entry, digest);
  } catch {
    await removeTree(tmp).catch(() => {});
  }
}

/** An entry that is about to change or be used: what goes on for it in the background ends first. */
async function quiet(entry: string): Promise<void> {
  await background.get(entry);
}

/**
 * Every entry under `paths` of `base`, in order, with what a change would alter: inode, ctime,
 * size, mode, owner and link count (not the ctime of each path itself, which moving it changes).
 * Taken right after setup for its own copy, and when a spare is made.
 * Yields to the event loop every thousand entries: a tree of 20,000 files takes a few tens of ms.
 */
export async function treeDigest(base: string, paths: readonly string[]): Promise<string> {
  const hash = crypto.createHash('sha256');
  let n = 0;
  const visit = async (rel: string, top: boolean): Promise<void> => {
    const st = fs.lstatSync(path.join(base, rel), { bigint: true });
    hash.update(`${JSON.stringify(rel)} ${st.ino} ${top ? '-' : st.ctimeNs} ${st.size} ${st.mode} ${st.uid} ${st.gid} ${st.nlink}\n`);
    if (++n % 1000 === 0) await new Promise((resolve) => setImmediate(resolve));
    if (st.isDirectory()) for (const name of fs.readdirSync(path.join(base, rel)).sort()) await visit(`${rel}/${name}`, false);
  };
  // A path that is absent adds nothing: a job that makes one adds its lines.
  for (const p of paths) if (lstat(path.join(base, p))) await visit(p, true);
  return hash.digest('hex');
}

/**
 * Puts the cached paths of `key` into the checkout, each replacing what is there: the entry's
 * spare moved in when it has one, else a copy. False when the runner holds no cache for this key;
 * a cache entry that cannot be restored is removed (and the error thrown), so the next job runs
 * setup again.
 */
export async function restoreCache(workdir: string, repoId: string, key: string, checkout: string, signal?: AbortSignal): Promise<boolean> {
  if (!/^[0-9a-f]{64}$/.test(key)) throw new Error('invalid cache key');
  const entry = path.join(envCacheRoot(workdir, repoId), key);
  if (!lstat(entry)?.isDirectory()) return false;
  await quiet(entry);
  try {
    const paths = checkedPaths(JSON.parse(fs.readFileSync(path.join(entry, 'paths.json'), 'utf8')) as string[]);
    const root = fs.realpathSync(checkout);
    handedOut.delete(root);
    // Left by a runner that stopped while making or checking one (nothing is, now).
    for (const name of fs.readdirSync(entry)) if (name.startsWith('.spare-tmp-') || name.startsWith('.used-')) await removeTree(path.join(entry, name));
    const spare = path.join(entry, 'spare');
    const hasSpare = lstat(spare)?.isDirectory() === true;
    const digest = spareDigests.get(entry);
    spareDigests.delete(entry);
    let allMoved = hasSpare;
    for (const p of paths) {
      const dest = path.join(root, p);
      makeParentsInside(root, p);
      // What the checkout holds there (the job's own file, or a link): replaced, never followed.
      if (lstat(dest)) await removeTree(dest);
      if (hasSpare && lstat(path.join(spare, p)) && moved(path.join(spare, p), dest)) continue;
      allMoved = false;
      await copy(path.join(entry, 'files', p), dest, signal);
    }
    if (hasSpare) await removeTree(spare);
    if (allMoved && digest !== undefined) handedOut.set(root, { entry, digest });
    // Most recently used last to go.
    const now = new Date();
    fs.utimesSync(entry, now, now);
    if (changing.has(entry) || !handedOut.has(root)) inBackground(entry, () => makeSpare(entry, paths));
    return true;
  } catch (err) {
    if (!signal?.aborted) await removeTree(entry).catch(() => {});
    throw err;
  }
}

/**
 * After a job: its copies of the cache paths leave the checkout at once (so the next job's
 * `git clean` has no `node_modules` to delete), then, in the background, become the entry's spare
 * again when the job left them as they were handed over, else are deleted (and a new spare made).
 * A folder on the way that is not a folder (a link the job made) leaves that path to `git clean`:
 * nothing is moved from outside the checkout. What a stopped runner left is removed by the next.
 */
export function returnCopies(workdir: string, checkout: string, paths: readonly string[]): void {
  let root: string;
  let checked: string[];
  try {
    root = fs.realpathSync(checkout);
    checked = checkedPaths(paths);
  } catch {
    return; // No checkout, or paths the job was already refused for.
  }
  const given = handedOut.get(root);
  handedOut.delete(root);
  const reusable = given !== undefined && lstat(given.entry)?.isDirectory() === true;
  const aside = reusable
    ? path.join(given.entry, `.used-${crypto.randomBytes(6).toString('hex')}`)
    : path.join(envCacheTrash(workdir), crypto.randomBytes(6).toString('hex'));
  let whole = true;
  for (const p of checked) {
    const parts = p.split('/');
    let at = root;
    for (const part of parts.slice(0, -1)) {
      at = path.join(at, part);
      if (!lstat(at)?.isDirectory()) whole = false;
    }
    if (!whole) break;
    if (!lstat(path.join(root, p))) continue;
    try {
      fs.mkdirSync(path.dirname(path.join(aside, p)), { recursive: true, mode: 0o700 });
      if (!moved(path.join(root, p), path.join(aside, p))) whole = false;
    } catch {
      whole = false; // A folder the job closed: the next reset opens and cleans it.
    }
  }
  if (!lstat(aside)) return;
  if (!reusable) {
    inBackground(aside, () => removeTree(aside));
    return;
  }
  const { entry, digest } = given;
  inBackground(entry, async () => {
    const unchanged = whole && (await treeDigest(aside, checked).catch(() => '')) === digest;
    if (unchanged) changing.delete(entry);
    else changing.add(entry);
    if (unchanged && !lstat(path.join(entry, 'spare'))) {
      fs.renameSync(aside, path.join(entry, 'spare'));
      spareDigests.set(entry, digest);
      return;
    }
    await removeTree(aside);
    await makeSpare(entry, checked);
  });
}

/** Renames `src` to `dest`; false when it cannot (another file system), so the caller copies. */
function moved(src: string, dest: string): boolean {
  try {
    fs.renameSync(src, dest);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EXDEV') return false;
    throw err;
  }
}

/**
 * Copies what setup left at the cache paths into a new entry for `key`, made in a temporary
 * folder and renamed into place, so a runner that dies halfway leaves no entry that looks whole.
 * A path setup did not make is left out. Then the oldest entries beyond ENV_CACHE_KEEP go.
 */
export async function saveCache(workdir: string, repoId: string, key: string, checkout: string, paths: readonly string[], signal?: AbortSignal): Promise<void> {
  if (!/^[0-9a-f]{64}$/.test(key)) throw new Error('invalid cache key');
  const repoRoot = envCacheRoot(workdir, repoId);
  fs.mkdirSync(path.dirname(repoRoot), { recursive: true, mode: 0o700 });
  fs.mkdirSync(repoRoot, { recursive: true, mode: 0o700 });
  // Left by a runner that died while saving (one runner per work dir: none is being written now).
  for (const name of fs.readdirSync(repoRoot)) if (name.startsWith('.tmp-')) await removeTree(path.join(repoRoot, name));
  const tmp = path.join(repoRoot, `.tmp-${crypto.randomBytes(6).toString('hex')}`);
  fs.mkdirSync(path.join(tmp, 'files'), { recursive: true, mode: 0o700 });
  try {
    const root = fs.realpathSync(checkout);
    const kept: string[] = [];
    for (const p of checkedPaths(paths)) {
      const src = path.join(root, p);
      if (!lstat(src)) continue;
      realpathInside(root, src, 'cache path', p);
      const dest = path.join(tmp, 'files', p);
      fs.mkdirSync(path.dirname(dest), { recursive: true, mode: 0o700 });
      await copy(src, dest, signal);
      kept.push(p);
    }
    fs.writeFileSync(path.join(tmp, 'paths.json'), JSON.stringify(kept));
    const entry = path.join(repoRoot, key);
    await quiet(entry);
    if (lstat(entry)) await removeTree(entry);
    fs.renameSync(tmp, entry);
    spareDigests.delete(entry);
    // What setup left in the checkout is the first copy handed out: if the job leaves it as it
    // is, it becomes the spare, and no copy is made for it.
    const digest = await treeDigest(root, kept).catch(() => undefined);
    if (digest !== undefined) handedOut.set(root, { entry, digest });
    else inBackground(entry, () => makeSpare(entry, kept));
  } catch (err) {
    await removeTree(tmp).catch(() => {});
    throw err;
  }
  await evict(repoRoot);
}

async function evict(repoRoot: string): Promise<void> {
  const entries = fs
    .readdirSync(repoRoot)
    .filter((name) => /^[0-9a-f]{64}$/.test(name))
    .map((name) => ({ name, mtime: lstat(path.join(repoRoot, name))?.mtimeMs ?? 0 }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const old of entries.slice(ENV_CACHE_KEEP)) {
    const entry = path.join(repoRoot, old.name);
    await quiet(entry);
    await removeTree(entry);
  }
}

/** `cp -a`: links copied as links, modes, times and (for root) owners kept; never hard links. */
async function copy(src: string, dest: string, signal?: AbortSignal): Promise<void> {
  try {
    await run('cp', ['-a', '-T', '--reflink=auto', '--', src, dest], { signal, maxBuffer: 1024 * 1024 });
  } catch (err) {
    if (signal?.aborted) throw err;
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`cp failed: ${(stderr.split('\n')[0] || (err as Error).message).slice(0, 300)}`);
  }
}

/** Where `file` really is, refused when that is outside the checkout (or a link that leads nowhere). */
function realpathInside(root: string, file: string, what: string, name: string): string {
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch {
    throw new CachePathError(`${what} ${JSON.stringify(name)} is a link that leads nowhere`);
  }
  if (real !== root && !real.startsWith(`${root}/`)) throw new CachePathError(`${what} ${JSON.stringify(name)} leads out of the checkout`);
  return real;
}

/** Makes the folders above `p` in the checkout, refusing any that is a link (it could lead anywhere). */
function makeParentsInside(root: string, p: string): void {
  let at = root;
  for (const part of p.split('/').slice(0, -1)) {
    at = path.join(at, part);
    const st = lstat(at);
    if (!st) fs.mkdirSync(at, { mode: 0o755 });
    else if (!st.isDirectory()) throw new CachePathError(`cache path ${JSON.stringify(p)}: ${JSON.stringify(path.relative(root, at))} is not a folder`);
  }
}
