import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Repo } from '../src/shared/api.js';
import { api, authUrl, run, type RunResult } from './helpers.js';

/** What the tests need of a server: where it is and its admin token (in-process or a child). */
export interface Target {
  url: string;
  token: string;
}

/** Creates a repo through the API and returns it (fails the test on anything but 201). */
export async function createRepo(server: Target, name: string, extra: Record<string, unknown> = {}): Promise<Repo> {
  const res = await api<Repo>(server, 'POST', '/api/repos', { name, ...extra });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

/** The repo's clone URL with the admin token as the Basic password. */
export function pushUrl(server: Target, repo: Repo): string {
  return authUrl(repo.clone_url, server.token);
}

/** Where the server keeps a repo's bare repository. */
export function barePath(dataDir: string, repoId: string): string {
  return path.join(dataDir, 'repos', `${repoId}.git`);
}

/** `git fsck --full` must be clean: exit 0 and no error/missing/dangling-corrupt lines. */
export async function assertFsckClean(repoPath: string): Promise<void> {
  const r = await run('git', ['fsck', '--full', '--no-dangling'], { cwd: repoPath });
  assert.equal(r.code, 0, `git fsck failed:\n${r.stdout}${r.stderr}`);
  assert.doesNotMatch(r.stdout + r.stderr, /^(error|fatal|missing|broken)/m, r.stdout + r.stderr);
}

/** Incompressible content: base64 of random bytes (git's zlib cannot shrink it much). */
export function randomText(bytes: number): string {
  return crypto.randomBytes(bytes).toString('base64');
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** An HTTP request with the path sent exactly as given (fetch would normalise `..` and `%2e`). */
export function rawRequest(
  base: string,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer | string },
): Promise<RawResponse> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: opts.path, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

export function basicAuth(token: string): string {
  return `Basic ${Buffer.from(`x:${token}`).toString('base64')}`;
}

/** Runs git and returns its result without throwing (for pushes that may be refused). */
export function tryGit(args: string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return run('git', args, { cwd, env });
}

/** The commit a branch points at in a bare repo, or undefined if it does not exist. */
export async function branchTip(repoPath: string, branch: string): Promise<string | undefined> {
  const r = await run('git', ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], { cwd: repoPath });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** Whether a process id is still alive. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids of processes (e.g. orphaned `git receive-pack`) whose working directory is `dir` (Linux /proc). */
export function processesIn(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readlinkSync(`/proc/${entry}/cwd`) === dir) pids.push(Number(entry));
    } catch {
      // gone, or not ours to look at
    }
  }
  return pids;
}
