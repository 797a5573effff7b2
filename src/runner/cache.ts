import fs from 'node:fs';
import path from 'node:path';
import { git, gitOk } from '../shared/git.js';
import { clearTree } from '../shared/remove-tree.js';
import { gitEnv } from './env.js';
import { lstat } from './files.js';

/**
 * The runner's cache of one repo: a bare repository under `<workdir>/cache/<repo id>.git`, which
 * only the runner's own git commands write. A sandboxed job sees its objects read-only (its
 * workspace borrows them as alternates) and nothing else of it. An unsandboxed job could still
 * reach it, so the cache is inspected before every job: any state that would change what the
 * runner's git reads (replace refs, grafts, alternates, a shallow file, config beyond git's own
 * defaults, hooks, a redirect to another git dir) and the cache is rebuilt.
 */
export function cachePath(workdir: string, repoId: string): string {
  return path.join(workdir, 'cache', `${repoId}.git`);
}

/** The config keys `git init --bare` writes on the platforms we run on; anything more was not us. */
const OWN_CONFIG_KEYS = new Set([
  'core.repositoryformatversion',
  'core.filemode',
  'core.bare',
  'core.ignorecase',
  'core.precomposeunicode',
  'core.symlinks',
  'extensions.objectformat',
]);

/** Files that redirect or rewrite what git reads: none of them is ever made by the runner. */
const FOREIGN_FILES = [
  'info/grafts',
  'objects/info/alternates',
  'objects/info/http-alternates',
  'shallow',
  'commondir',
  'gitdir',
  'config.worktree',
  'worktrees',
  'refs/replace',
];

/** The config of each cache as git wrote it (or as last found clean): an unchanged file needs no git to check. */
const knownConfigs = new Map<string, Buffer>();

export async function createCache(dir: string): Promise<void> {
  // An unsandboxed job may have closed directories of it: opened again, else moved aside.
  await clearTree(dir);
  fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
  // No template: no sample hooks, nothing but what git needs.
  await gitOk(['init', '-q', '--bare', '--template=', dir], { env: gitEnv() });
  knownConfigs.set(dir, fs.readFileSync(path.join(dir, 'config')));
}

/** Why the cache at `dir` cannot be trusted, or undefined when it can. */
export async function inspectCache(dir: string): Promise<string | undefined> {
  try {
    return await findDistrust(dir);
  } catch (err) {
    return `it cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
}

async function findDistrust(dir: string): Promise<string | undefined> {
  for (const name of ['HEAD', 'config', 'objects', 'refs']) {
    const stat = lstat(path.join(dir, name));
    if (!stat) return `${name} is missing`;
    if (stat.isSymbolicLink()) return `${name} is a symbolic link`;
  }
  for (const name of FOREIGN_FILES) if (lstat(path.join(dir, name))) return `it holds ${name}`;
  const hooks = path.join(dir, 'hooks');
  if (lstat(hooks) && fs.readdirSync(hooks).length > 0) return 'it holds hooks';
  const packed = path.join(dir, 'packed-refs');
  if (lstat(packed) && /\srefs\/replace\//.test(fs.readFileSync(packed, 'utf8'))) return 'it holds replace refs';

  const config = fs.readFileSync(path.join(dir, 'config'));
  if (knownConfigs.get(dir)?.equals(config)) return undefined;
  const listed = await git(['config', '--file', path.join(dir, 'config'), '--list', '--null', '--name-only'], { env: gitEnv() });
  if (listed.code !== 0) return 'its config cannot be read';
  const foreign = listed.stdout.split('\0').find((key) => key !== '' && !OWN_CONFIG_KEYS.has(key.toLowerCase()));
  if (foreign !== undefined) return `its config sets ${foreign.slice(0, 80)}`;
  knownConfigs.set(dir, config);
  return undefined;
}
