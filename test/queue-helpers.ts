// Runners and jobs: the runner protocol by hand, waiting on a job, runners in this process or as processes, and /proc.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import type { Assignment, RegisterResponse } from '../src/shared/protocol.js';
import { RunnerRoutes, PROTOCOL_VERSION } from '../src/shared/protocol.js';
import { isFinished, type Job, type JobLogs, type Repo } from '../src/shared/api.js';
import { startRunner, type RunnerHandle, type RunnerOptions } from '../src/runner/runner.js';
import { api, authUrl, CLI, createRepo, eventually, git, makeRepo, spawnChild, tempDir, type Target, type TestServer } from './helpers.js';

/** Creates a repo holding `files` in one commit on main, made in the work tree `dir` and pushed through the real git server. */
export async function seedRepo(server: Target, dir: string, name = 'demo', files: Record<string, string> = { 'README.md': '# demo\n' }): Promise<Repo> {
  const repo = await createRepo(server, name);
  const src = await makeRepo(dir, files);
  await git(['push', '-q', authUrl(repo.clone_url, server.token), 'main'], src);
  return repo;
}

export async function registerRunner(server: TestServer, name: string, labels: string[] = [], agents?: string[]): Promise<RegisterResponse> {
  const r = await api<RegisterResponse>(
    server,
    'POST',
    RunnerRoutes.register,
    {
      name,
      labels,
      agents,
      protocol_version: PROTOCOL_VERSION,
    },
    { token: server.ctx.registrationToken },
  );
  if (r.status !== 201) throw new Error(`register failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Submits a job through the API (fails the test on anything but 201). */
export async function submit(server: Target, body: Record<string, unknown>): Promise<Job> {
  const r = await api<Job>(server, 'POST', '/api/jobs', body);
  if (r.status !== 201) throw new Error(`submit failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function poll(server: TestServer, runnerToken: string, waitMs = 0): Promise<Assignment | undefined> {
  const r = await api<Assignment>(server, 'POST', RunnerRoutes.poll, { wait_ms: waitMs }, { token: runnerToken });
  if (r.status === 204) return undefined;
  if (r.status !== 200) throw new Error(`poll failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function getJob(server: Target, id: string): Promise<Job> {
  return (await api<Job>(server, 'GET', `/api/jobs/${id}`)).body;
}

export const ended = (job: Job): boolean => isFinished(job.status);

/** The job once `done` holds for it, by default once it has ended. */
export function waitForJob(server: Target, id: string, done: (job: Job) => boolean = ended, timeoutMs?: number): Promise<Job> {
  let seen = 'not read yet';
  return eventually(
    () => `job ${id} (last seen ${seen})`,
    async () => {
      const job = await getJob(server, id);
      seen = job.status;
      return done(job) && job;
    },
    timeoutMs,
  );
}

/** A job's log as the API gives it. */
export async function logOf(server: Target, id: string): Promise<string> {
  return (await api<JobLogs>(server, 'GET', `/api/jobs/${id}/logs`)).body.content;
}

/** Submits a job and resolves with it once it has ended (waiting up to `timeoutMs`), and its log. */
export async function runJob(server: Target, body: Record<string, unknown>, timeoutMs = 60_000): Promise<Job & { log: string }> {
  const job = await waitForJob(server, (await submit(server, body)).id, ended, timeoutMs);
  return { ...job, log: await logOf(server, job.id) };
}

export type InProcessRunner = RunnerHandle & { lines: string[]; workdir: string };

/**
 * Starts runners in this process, each with a work dir of its own and its log lines kept. Make it
 * before the server: the after-hook it adds then runs before the server's own close, so runners
 * leave while the server still answers (and connections their fetch opened for aborted
 * long-polls, which never carry a request, are closed instead of holding the server's close).
 */
export function inProcessRunners(t: TestContext): (server: TestServer, name: string, extra?: Partial<RunnerOptions>) => InProcessRunner {
  const runners: RunnerHandle[] = [];
  const servers = new Set<TestServer>();
  t.after(async () => {
    await Promise.all(runners.map((r) => r.stop()));
    for (const server of servers) server.app.server.closeAllConnections();
  });
  return (server, name, extra = {}) => {
    servers.add(server);
    const lines: string[] = [];
    const workdir = tempDir(t, `lazyaf-runner-${name}-`);
    const handle = startRunner({
      server: server.url,
      registrationToken: server.ctx.registrationToken,
      name,
      labels: [],
      workdir,
      log: (line) => lines.push(line),
      killGraceMs: 500,
      shutdownReportMs: 3000,
      ...extra,
    });
    runners.push(handle);
    return Object.assign(handle, { lines, workdir });
  };
}

export interface RunnerProcess {
  child: ChildProcess;
  name: string;
  output: () => string;
}

/** `lazyaf runner` as a child process with its own work dir (killed when the test ends); `env` adds to the test's environment. */
export function startRunnerProcess(
  t: TestContext,
  server: { url: string; registrationToken: string },
  name: string,
  workRoot: string,
  extraArgs: string[] = [],
  env: NodeJS.ProcessEnv = {},
  /** What starts it: the CLI's `runner` command, or a bundle's entry. */
  entry: string[] = [CLI, 'runner'],
): RunnerProcess {
  const workdir = path.join(workRoot, name);
  fs.mkdirSync(workdir, { recursive: true });
  const child = spawnChild(t, process.execPath, [...entry, '--server', server.url, '--name', name, '--workdir', workdir, ...extraArgs], {
    env: { ...process.env, LAZYAF_TOKEN: server.registrationToken, ...env },
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
