import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { JobList, RunnerList } from '../src/shared/api.js';
import { api, startTestServer, tempDir } from './helpers.js';
import { registerRunner, seedRepo, submit } from './queue-helpers.js';

// A list's `total` counts everything its query matches, whatever the page holds.

test("a list's total counts every item its filter matches, not the page", async (t) => {
  const server = await startTestServer(t);
  const a = await seedRepo(server, path.join(tempDir(t), 'a'), 'a');
  const b = await seedRepo(server, path.join(tempDir(t), 'b'), 'b');
  for (const title of ['one', 'two', 'three']) await submit(server, { repo_id: a.id, title, command: 'true' });
  await submit(server, { repo_id: b.id, title: 'other', command: 'true' });

  const jobs = async (query: string) => (await api<JobList>(server, 'GET', `/api/jobs?${query}`)).body;
  const page = await jobs('limit=2');
  assert.deepEqual([page.jobs.length, page.total], [2, 4]);
  const ofA = await jobs(`repo_id=${a.id}&limit=1`);
  assert.deepEqual([ofA.jobs.length, ofA.total], [1, 3]);
  assert.equal((await jobs('repo_id=b')).total, 1);
  assert.equal((await jobs('status=running')).total, 0);

  for (const name of ['r1', 'r2', 'r3']) await registerRunner(server, name);
  const runners = (await api<RunnerList>(server, 'GET', '/api/runners?limit=1&offset=1')).body;
  assert.deepEqual([runners.runners.length, runners.total], [1, 3]);
});
