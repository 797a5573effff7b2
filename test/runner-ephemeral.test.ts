// lazyaf runner --ephemeral: one job, then the runner leaves.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { RunnerList } from '../src/shared/api.js';
import { api, startTestServer, tempDir } from './helpers.js';
import { getJob, seedRepo, startRunnerProcess, submit } from './queue-helpers.js';

test('lazyaf runner --ephemeral takes one job, reports it, deregisters and exits 0; the next job waits for another runner', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir(t);
  const repo = await seedRepo(server, path.join(dir, 'src'));
  const first = await submit(server, { repo_id: repo.id, title: 'first', command: 'echo one > one.txt' });
  const second = await submit(server, { repo_id: repo.id, title: 'second', command: 'true' });
  const runner = startRunnerProcess(t, server, 'once', path.join(dir, 'runners'), ['--ephemeral']);
  const code = await new Promise<number | null>((resolve) => runner.child.once('exit', (c) => resolve(c)));
  assert.equal(code, 0, runner.output());
  const done = await getJob(server, first.id);
  assert.equal(done.status, 'succeeded', done.error ?? '');
  assert.ok(done.branch);
  assert.equal((await getJob(server, second.id)).status, 'queued');
  assert.equal((await api<RunnerList>(server, 'GET', '/api/runners')).body.runners.length, 0, 'it deregistered');
});
