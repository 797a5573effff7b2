import type { Assignment, RegisterResponse } from '../src/shared/protocol.js';
import { RunnerRoutes, PROTOCOL_VERSION } from '../src/shared/protocol.js';
import type { Job, Repo } from '../src/shared/api.js';
import { api, authUrl, eventually, git, makeRepo, type TestServer } from './helpers.js';

/** Creates a repo with one commit on main through the real git server. */
export async function seedRepo(server: TestServer, dir: string, name = 'demo', files: Record<string, string> = { 'README.md': '# demo\n' }): Promise<Repo> {
  const repo = (await api<Repo>(server, 'POST', '/api/repos', { name })).body;
  const src = await makeRepo(dir, files);
  await git(['push', '-q', authUrl(repo.clone_url, server.token), 'main'], src);
  return repo;
}

export async function registerRunner(server: TestServer, name: string, labels: string[] = []): Promise<RegisterResponse> {
  const r = await api<RegisterResponse>(
    server,
    'POST',
    RunnerRoutes.register,
    {
      name,
      labels,
      protocol_version: PROTOCOL_VERSION,
    },
    { token: server.ctx.registrationToken },
  );
  if (r.status !== 201) throw new Error(`register failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function submit(server: TestServer, body: Record<string, unknown>): Promise<Job> {
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

export async function getJob(server: { url: string; token: string }, id: string): Promise<Job> {
  return (await api<Job>(server, 'GET', `/api/jobs/${id}`)).body;
}

export const ended = (job: Job): boolean => ['succeeded', 'failed', 'cancelled'].includes(job.status);

/** The job once `done` holds for it, by default once it has ended. */
export function waitForJob(server: { url: string; token: string }, id: string, done: (job: Job) => boolean = ended, timeoutMs?: number): Promise<Job> {
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
