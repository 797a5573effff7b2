import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { CLI, spawnChild, waitForOutput } from './helpers.js';

export interface ServerProcess {
  url: string;
  port: number;
  token: string;
  registrationToken: string;
  child: ChildProcess;
}

/** `lazyaf server` as a child process (killed when the test ends). Port 0 unless given. */
export async function startServerProcess(
  t: TestContext,
  dataDir: string,
  opts: { port?: number; env?: NodeJS.ProcessEnv; runners?: number; token?: string } = {},
): Promise<ServerProcess> {
  const token = opts.token ?? 'lzadm_test_admin_token';
  const registrationToken = 'lzreg_test_registration_token';
  const child = spawnChild(
    t,
    process.execPath,
    [CLI, 'server', '--port', String(opts.port ?? 0), '--data', dataDir, '--runners', String(opts.runners ?? 0), '--log-level', 'warn'],
    {
      env: { ...process.env, LAZYAF_ADMIN_TOKEN: token, LAZYAF_REGISTRATION_TOKEN: registrationToken, ...opts.env },
    },
  );
  const m = await waitForOutput(child, /lazyaf server listening on (http:\/\/127\.0\.0\.1:(\d+))/);
  return { url: m[1]!, port: Number(m[2]), token, registrationToken, child };
}

export interface RunnerProcess {
  child: ChildProcess;
  name: string;
  output: () => string;
}

/** `lazyaf runner` as a child process with its own work dir (killed when the test ends). */
export function startRunnerProcess(
  t: TestContext,
  server: { url: string; registrationToken: string },
  name: string,
  workRoot: string,
  extraArgs: string[] = [],
): RunnerProcess {
  const workdir = path.join(workRoot, name);
  fs.mkdirSync(workdir, { recursive: true });
  const child = spawnChild(t, process.execPath, [CLI, 'runner', '--server', server.url, '--name', name, '--workdir', workdir, ...extraArgs], {
    env: { ...process.env, LAZYAF_TOKEN: server.registrationToken },
  });
  let seen = '';
  child.stdout?.on('data', (c: Buffer) => (seen += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (seen += c.toString('utf8')));
  return { child, name, output: () => seen };
}

/** Resident memory of a process in bytes (Linux /proc). */
export function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return Number(kb ?? 0) * 1024;
}

/** Pids of live processes whose command line contains `needle`. */
export function processesMatching(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(needle)) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}
