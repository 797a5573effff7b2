// The git server under attack: fsck, incompressible content, raw HTTP paths, leftover processes.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { Repo } from '../src/shared/api.js';
import { authUrl, run, type Target } from './helpers.js';

/** The repo's clone URL with the admin token as the Basic password. */
export function pushUrl(server: Target, repo: Repo): string {
  return authUrl(repo.clone_url, server.token);
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
