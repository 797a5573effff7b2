import type { Assignment, RegisterResponse } from '../src/shared/protocol.js';
import { RunnerRoutes, PROTOCOL_VERSION } from '../src/shared/protocol.js';
import type { Job, Repo } from '../src/shared/api.js';
import { api } from './git-helpers.js';
import { authUrl, git, makeRepo, type TestServer } from './helpers.js';

export interface Reply<T = unknown> {
  status: number;
  body: T;
}

/** A JSON request with an optional bearer token (a string body is sent as it is, for malformed-JSON cases). */
export async function call<T = any>(server: { url: string }, method: string, path: string, token?: string, body?: unknown): Promise<Reply<T>> {
  const raw = typeof body === 'string';
  const res = await api(server, method, path, raw ? undefined : body, { token: token ?? null, ...(raw ? { rawBody: body } : {}) });
  return { status: res.status, body: (res.body === '' ? null : res.body) as T };
}

/** Creates a repo with one commit on main through the real git server. */
export async function seedRepo(server: TestServer, dir: string, name = 'demo', files: Record<string, string> = { 'README.md': '# demo\n' }): Promise<Repo> {
  const repo = (await call<Repo>(server, 'POST', '/api/repos', server.token, { name })).body;
  const src = await makeRepo(dir, files);
  await git(['push', '-q', authUrl(repo.clone_url, server.token), 'main'], src);
  return repo;
}

export async function registerRunner(server: TestServer, name: string, labels: string[] = []): Promise<RegisterResponse> {
  const r = await call<RegisterResponse>(server, 'POST', RunnerRoutes.register, server.ctx.registrationToken, {
    name,
    labels,
    protocol_version: PROTOCOL_VERSION,
  });
  if (r.status !== 201) throw new Error(`register failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function submit(server: TestServer, body: Record<string, unknown>): Promise<Job> {
  const r = await call<Job>(server, 'POST', '/api/jobs', server.token, body);
  if (r.status !== 201) throw new Error(`submit failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function poll(server: TestServer, runnerToken: string, waitMs = 0): Promise<Assignment | undefined> {
  const r = await call<Assignment>(server, 'POST', RunnerRoutes.poll, runnerToken, { wait_ms: waitMs });
  if (r.status === 204) return undefined;
  if (r.status !== 200) throw new Error(`poll failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function getJob(server: TestServer, id: string): Promise<Job> {
  return (await call<Job>(server, 'GET', `/api/jobs/${id}`, server.token)).body;
}

/** Polls a condition until it holds (bounded), for state that changes in the background. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
