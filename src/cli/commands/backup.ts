import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { defaultDataDir } from '../../shared/paths.js';
import { CliError } from '../errors.js';

/**
 * The files of the data dir a restored server needs besides the database, the repos and the session
 * files: the tokens it was using, and its identity on a Docker engine (a server restored in place
 * still knows its runner containers).
 */
const IDENTITY_FILES = ['admin_token', 'registration_token', 'server_id'];

function gitRun(args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new CliError(`git ${args[0]} failed: ${err.trim().split('\n').pop() ?? code}`))));
  });
}

function emptyOrMissing(dir: string): boolean {
  try {
    return fs.readdirSync(dir).length === 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
}

/**
 * A copy of one bare repo, consistent while pushes go on: `git clone --mirror --no-local` goes
 * through upload-pack, which takes one snapshot of the refs and sends every object they reach (a
 * push writes its objects before it moves a ref), where copying the files could pair new refs
 * with objects not yet copied. The repo's own config and HEAD then replace the clone's.
 */
async function copyRepo(source: string, target: string): Promise<void> {
  await gitRun(['clone', '--mirror', '--no-local', '--quiet', source, target]);
  fs.copyFileSync(path.join(source, 'config'), path.join(target, 'config'));
  fs.copyFileSync(path.join(source, 'HEAD'), path.join(target, 'HEAD'));
}

export interface BackupSummary {
  repos: number;
  jobs: number;
  missing: string[];
}

/**
 * Backs up a data dir, its server running or not: the database first, with SQLite's online backup
 * (a consistent snapshot, read while the server writes), then each repo the copy lists, so every
 * commit and branch the copied database refers to is in the copied repos (history on the server
 * only grows; a branch a task deleted in between is simply gone). Tokens and agents' session files
 * come along; the result is a data dir a server starts on.
 */
export async function backupDataDir(dataDir: string, target: string): Promise<BackupSummary> {
  const dbFile = path.join(dataDir, 'lazyaf.db');
  if (!fs.existsSync(dbFile)) throw new CliError(`no lazyaf data dir at ${dataDir} (no lazyaf.db): give --data or LAZYAF_DATA`);
  if (!emptyOrMissing(target)) throw new CliError(`${target} is not empty: back up into a new or empty directory`);
  const rel = path.relative(dataDir, target);
  if (!rel.startsWith('..') && !path.isAbsolute(rel)) throw new CliError('the backup cannot go inside the data dir it copies');
  fs.mkdirSync(path.join(target, 'repos'), { recursive: true, mode: 0o700 });
  fs.chmodSync(target, 0o700);

  // Loaded here: the other commands never need SQLite.
  const { default: Database } = await import('better-sqlite3');
  const source = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    await source.backup(path.join(target, 'lazyaf.db'));
  } finally {
    source.close();
  }
  const copy = new Database(path.join(target, 'lazyaf.db'));
  let repoIds: string[];
  let jobs: number;
  try {
    const check = copy.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new CliError(`the copied database fails SQLite's check: ${String(check)}`);
    repoIds = copy.prepare('SELECT id FROM repos ORDER BY name').pluck().all() as string[];
    jobs = copy.prepare('SELECT COUNT(*) FROM jobs').pluck().get() as number;
  } finally {
    copy.close();
  }
  fs.chmodSync(path.join(target, 'lazyaf.db'), 0o600);

  const missing: string[] = [];
  for (const id of repoIds) {
    const repo = path.join(dataDir, 'repos', `${id}.git`);
    // Deleted since the database was copied: the copy keeps its row, which the restored server shows without history.
    if (!fs.existsSync(repo)) missing.push(id);
    else await copyRepo(repo, path.join(target, 'repos', `${id}.git`));
  }
  const sessions = path.join(dataDir, 'sessions');
  // Session files are written aside and renamed: a `.tmp` is one being written.
  if (fs.existsSync(sessions)) fs.cpSync(sessions, path.join(target, 'sessions'), { recursive: true, filter: (src) => !src.endsWith('.tmp') });
  for (const name of IDENTITY_FILES) {
    const file = path.join(dataDir, name);
    if (fs.existsSync(file)) fs.copyFileSync(file, path.join(target, name));
  }
  return { repos: repoIds.length - missing.length, jobs, missing };
}

export function registerBackup(program: Command): void {
  program
    .command('backup')
    .argument('<dir>', 'a new or empty directory; the backup is a data dir a server can start on')
    .option('--data <dir>', 'the data directory to back up (LAZYAF_DATA, default ~/.lazyaf)')
    .action(async (dir: string, opts: { data?: string }) => {
      const dataDir = opts.data ? path.resolve(opts.data) : defaultDataDir();
      const target = path.resolve(dir);
      const summary = await backupDataDir(dataDir, target);
      for (const id of summary.missing) process.stderr.write(`warning: repo ${id} was deleted during the backup; its row is kept without its history\n`);
      process.stdout.write(`Backed up ${summary.jobs} jobs and ${summary.repos} repos from ${dataDir} to ${target}\n`);
    });
}
