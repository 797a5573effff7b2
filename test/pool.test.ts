import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { Job, RunnerList } from '../src/shared/api.js';
import { api, eventually, startTestServer, tempDir } from './helpers.js';
import { processesMatching, seedRepo, submit, waitForJob } from './queue-helpers.js';

test('the pool keeps its runners, scales down on request, and runs jobs with them', async (t) => {
  const dir = tempDir(t);
  const data = path.join(dir, 'data');
  const server = await startTestServer(t, {}, { dataDir: data, runners: 2 });
  const liveRunners = async () => (await api<RunnerList>(server, 'GET', '/api/runners')).body.runners.filter((r) => r.status !== 'offline');
  await eventually('two pool runners', async () => (await liveRunners()).length === 2);
  assert.ok((await liveRunners()).every((r) => r.pool_id?.startsWith('pool-')));

  const scaled = await api(server, 'PUT', '/api/pool', { desired: 1 });
  assert.equal(scaled.status, 200);
  assert.equal(scaled.body.desired, 1);
  await eventually('one pool runner left', async () => (await liveRunners()).length === 1);
  assert.equal((await api(server, 'PUT', '/api/pool', { desired: -1 })).status, 400);

  const repo = await seedRepo(server, path.join(dir, 'src'), 'demo', { 'a.txt': 'a\n' });
  const job = await submit(server, { repo_id: repo.id, title: 'pooled', command: 'echo b > b.txt' });
  const done = await waitForJob(server, job.id);
  assert.equal(done.status, 'succeeded', done.error ?? '');
  assert.equal(done.runner_id, (await liveRunners())[0]!.id);
});

test('SIGTERM drains the pool while the server still answers: the running job finishes, runners leave, the server exits 0', async (t) => {
  const dir = tempDir(t);
  const data = path.join(dir, 'data');
  let server = await startTestServer(t, {}, { dataDir: data, runners: 1 });
  const repo = await seedRepo(server, path.join(dir, 'src'), 'demo', { 'a.txt': 'a\n' });
  const job = await submit(server, { repo_id: repo.id, title: 'slow', command: 'sleep 2; echo done > done.txt' });
  await waitForJob(server, job.id, (j) => j.status === 'running');

  const exited = new Promise<number | null>((resolve) => server.child.once('exit', (code) => resolve(code)));
  server.child.kill('SIGTERM');
  assert.equal(await exited, 0);
  await eventually('the pool runner to exit', async () => processesMatching(data).length === 0, 15_000);

  server = await startTestServer(t, {}, { dataDir: data });
  const after = (await api<Job>(server, 'GET', `/api/jobs/${job.id}`)).body;
  assert.equal(after.status, 'succeeded', after.error ?? '');
  const runners = (await api<RunnerList>(server, 'GET', '/api/runners')).body.runners;
  assert.equal(runners.length, 0, 'the pool runner deregistered');
});
