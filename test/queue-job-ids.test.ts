import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { JOB_REF_RE } from '../src/shared/names.js';
import type { Job } from '../src/shared/api.js';
import { api, startTestServer, tempDir } from './helpers.js';
import { seedRepo, submit } from './queue-helpers.js';

test('a job is found by any unique prefix of 4 or more characters of its id on every job route; a shared prefix is a 400 naming the jobs', async (t) => {
  const server = await startTestServer(t);
  const repo = await seedRepo(server, path.join(tempDir(t), 'src'));
  const first = await submit(server, { repo_id: repo.id, title: 'first', command: 'true' });
  const second = await submit(server, { repo_id: repo.id, title: 'second', command: 'true' });
  // Two ids that share their first four characters (random ids rarely do): only the ids change.
  const ids = { first: `abcd1${first.id.slice(5)}`, second: `abcd2${second.id.slice(5)}` };
  const rename = server.ctx.db.prepare('UPDATE jobs SET id = ? WHERE id = ?');
  rename.run(ids.first, first.id);
  rename.run(ids.second, second.id);

  const found = await api<Job>(server, 'GET', '/api/jobs/abcd1');
  assert.equal(found.status, 200, JSON.stringify(found.body));
  assert.equal(found.body.id, ids.first);
  assert.equal((await api<Job>(server, 'GET', `/api/jobs/${ids.second.slice(0, 6)}/logs`)).status, 200);
  const cancelled = await api<Job>(server, 'POST', '/api/jobs/abcd2/cancel');
  assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
  assert.equal(cancelled.body.id, ids.second);
  assert.equal(cancelled.body.status, 'cancelled');

  const ambiguous = await api<{ message: string }>(server, 'GET', '/api/jobs/abcd');
  assert.equal(ambiguous.status, 400);
  assert.match(ambiguous.body.message, /ambiguous/);
  assert.match(ambiguous.body.message, /abcd1\S* "first"/);
  assert.match(ambiguous.body.message, /abcd2\S* "second"/);
  assert.equal((await api(server, 'POST', '/api/jobs/abcd/retry')).status, 400);

  const short = await api<{ message: string }>(server, 'GET', '/api/jobs/abc');
  assert.equal(short.status, 404);
  assert.match(short.body.message, /at least 4/);
  assert.equal((await api(server, 'GET', '/api/jobs/ffff')).status, 404);
});

test('the CLI takes what the server takes as a job: 4 to 36 characters of an id, starting with 4 hex digits', () => {
  for (const ok of ['abcd', 'abcd1234', 'abcd1234-ef', '0123abcd-0000-4000-8000-000000000000']) assert.ok(JOB_REF_RE.test(ok), ok);
  for (const bad of ['abc', 'main', 'abc-1234', 'ABCD', '0123abcd-0000-4000-8000-0000000000000', 'ab%d']) assert.ok(!JOB_REF_RE.test(bad), bad);
});
