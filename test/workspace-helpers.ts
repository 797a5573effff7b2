// A repo on a real lazyaf server and the assignment a runner would get for it: what the tests of
// a job's workspace (its checkout, the commit and push of its work) start from.
import path from 'node:path';
import type { TestContext } from 'node:test';
import type { PublishJob } from '../src/runner/publish.js';
import type { WorkspaceJob } from '../src/runner/workspace.js';
import { tempDir, type TestServer } from './helpers.js';
import { seedRepo } from './queue-helpers.js';

/** A repo on a real lazyaf server with `files` on main, plus a local clone to push more commits from. */
export async function serverRepo(t: TestContext, server: TestServer, files: Record<string, string>): Promise<{ id: string; cloneUrl: string; local: string }> {
  const local = path.join(tempDir(t), 'local');
  const repo = await seedRepo(server, local, `repo-${Math.random().toString(16).slice(2, 8)}`, files);
  return { id: repo.id, cloneUrl: repo.clone_url, local };
}

/** What the runner gets from an assignment; the admin token stands in for a job token (the git server takes both). */
export function job(
  server: TestServer,
  repo: { id: string; cloneUrl: string },
  n: number,
  extra: Partial<WorkspaceJob & PublishJob> = {},
): WorkspaceJob & PublishJob {
  return {
    job_id: `job${n}-0000-0000`,
    title: `job number ${n}`,
    repo_id: repo.id,
    attempt_id: `attempt-${n}`,
    clone_url: repo.cloneUrl,
    job_token: server.token,
    base_branch: 'main',
    branch: `lazyaf/job${n}`,
    prompt: `# Task ${n}\nDo the thing.\n`,
    ...extra,
  };
}
